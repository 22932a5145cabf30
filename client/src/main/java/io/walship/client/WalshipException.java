package io.walship.client;

import java.net.URI;

/**
 * A request that walship refused or that could not be made. The subclasses name the HTTP
 * statuses the API documents (README, "HTTP API"); any other status is a plain
 * {@code WalshipException} with {@link #status()}. The message is one line: the node, the status
 * and the node's own one-line reason. Unchecked, like the JDK's {@code UncheckedIOException}:
 * callers catch the kinds they can act on.
 */
public class WalshipException extends RuntimeException {
    private final URI node;
    private final int status;
    private final String reason;

    /**
     * @param node   the node that answered (or could not be reached)
     * @param status the HTTP status, 0 if there was no answer
     * @param reason the node's one-line reason (or what went wrong), without the node and status
     */
    public WalshipException(URI node, int status, String reason, Throwable cause) {
        super(node + ": " + (status == 0 ? "" : "HTTP " + status + ": ") + reason, cause);
        this.node = node;
        this.status = status;
        this.reason = reason;
    }

    public WalshipException(URI node, int status, String reason) {
        this(node, status, reason, null);
    }

    /** The base URL of the node that answered or could not be reached. */
    public URI node() {
        return node;
    }

    /** The HTTP status; 0 when there was no answer. */
    public int status() {
        return status;
    }

    /** The node's one-line reason, without the node and status. */
    public String reason() {
        return reason;
    }
}
