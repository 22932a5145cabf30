package io.walship.cli;

/** walship's documented exit codes (README, "Exit codes"). */
public final class ExitCodes {
    public static final int OK = 0;
    /** A runtime failure: I/O, a busy data directory, an unreachable leader, a missing key. */
    public static final int FAILURE = 1;
    /** Bad usage or configuration: flags, values, URIs. */
    public static final int USAGE = 2;
    /** Integrity: a checksum mismatch, a gap in the WAL, a format-version mismatch. */
    public static final int INTEGRITY = 3;
    /** Over a documented limit: a batch of more than 10,000 operations or 4 MiB (HTTP 413). */
    public static final int TOO_LARGE = 4;
    /** No space left for the WAL: nothing of the write was applied; retry once space is freed (HTTP 507). */
    public static final int STORAGE_FULL = 5;
    /** The store has stopped after a failed WAL sync, or refuses writes now: closed, a standby, the archive too far behind (HTTP 503). */
    public static final int UNAVAILABLE = 6;
    /**
     * {@code walship follow}: the leader refused this follower for good (another store, an unknown
     * timeline, a follower ahead of its leader, a wrong token, an unsupported protocol version; a
     * lost slot or recycled WAL when there is no archive to follow instead), or this follower does not
     * trust the leader's TLS certificate ({@code --leader-tls-ca}). Retrying will not help;
     * OPERATIONS.md says what to do for each.
     */
    public static final int REPLICATION_REFUSED = 7;

    private ExitCodes() {
    }
}
