package io.walship.client;

import java.net.URI;
import java.util.OptionalLong;

/**
 * HTTP 503: the node cannot answer now — a follower that did not reach the session's LSN within
 * its read wait or is past its maximum replay lag, or a leader that stopped (failed WAL sync) or
 * refuses writes (archive lag, or it does not hold its leader lease: the client then looked for
 * another leader first, see {@link WalshipClient}). For reads the client has already tried every
 * other node it knows, the leader last; the earlier nodes' refusals are attached as suppressed
 * exceptions.
 */
public class UnavailableException extends WalshipException {
    private final OptionalLong nodeLsn;
    private final boolean notCommitted;

    /** @param nodeLsn the LSN the node was at, if it said ({@code Walship-LSN}) */
    public UnavailableException(URI node, String reason, OptionalLong nodeLsn) {
        this(node, reason, nodeLsn, false);
    }

    /**
     * @param nodeLsn      the LSN the node was at, if it said ({@code Walship-LSN})
     * @param notCommitted the node said it refused a write before committing it ({@code Walship-Committed: no})
     */
    public UnavailableException(URI node, String reason, OptionalLong nodeLsn, boolean notCommitted) {
        super(node, 503, reason);
        this.nodeLsn = nodeLsn;
        this.notCommitted = notCommitted;
    }

    /**
     * For a write: whether the node said that it refused it before committing anything
     * ({@code Walship-Committed: no}: a fenced or superseded leader, or one with too many commits
     * waiting), so that it was certainly not applied. False means the outcome is unknown (a leader
     * fenced after it committed the write, or whose store failed).
     */
    public boolean notCommitted() {
        return notCommitted;
    }

    /** The LSN the node said it was at, if it said. */
    public OptionalLong nodeLsn() {
        return nodeLsn;
    }
}
