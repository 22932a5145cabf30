package io.walship.client;

import java.net.URI;
import java.util.OptionalLong;

/**
 * HTTP 503: the node cannot answer now — a follower that did not reach the session's LSN within
 * its read wait or is past its maximum replay lag, or a leader that stopped (failed WAL sync) or
 * refuses writes (archive lag). For reads the client has already tried every other node it knows,
 * the leader last; the earlier nodes' refusals are attached as suppressed exceptions.
 */
public class UnavailableException extends WalshipException {
    private final OptionalLong nodeLsn;

    /** @param nodeLsn the LSN the node was at, if it said ({@code Walship-LSN}) */
    public UnavailableException(URI node, String reason, OptionalLong nodeLsn) {
        super(node, 503, reason);
        this.nodeLsn = nodeLsn;
    }

    /** The LSN the node said it was at, if it said. */
    public OptionalLong nodeLsn() {
        return nodeLsn;
    }
}
