package io.walship.client;

import java.io.IOException;
import java.net.URI;

/**
 * No answer: the connection was refused or reset, or the request timed out. For a read the client
 * has tried every other node first. For a write the outcome is unknown — the leader may have
 * committed it — so the client never resends a write on its own, unless the connection could not
 * even be made ({@link #connectFailed()}): then the request certainly did not reach the node, and
 * the client has looked for the leader and resent it there for as long as
 * {@link WalshipClient.Builder#discoverLeader} allows before giving up with this exception.
 */
public class NodeUnreachableException extends WalshipException {
    private final boolean connectFailed;

    public NodeUnreachableException(URI node, String reason, IOException cause) {
        this(node, reason, cause, false);
    }

    /** @param connectFailed the connection could not be made, so no byte of the request reached the node */
    public NodeUnreachableException(URI node, String reason, IOException cause, boolean connectFailed) {
        super(node, 0, reason, cause);
        this.connectFailed = connectFailed;
    }

    /**
     * Whether the connection could not be made (refused, or not made within the connect timeout):
     * the request certainly did not reach the node, so a write failing so was not applied there.
     * False means the outcome is unknown.
     */
    public boolean connectFailed() {
        return connectFailed;
    }
}
