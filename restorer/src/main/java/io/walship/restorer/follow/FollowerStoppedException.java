package io.walship.restorer.follow;

import io.walship.protocol.repl.RefusalCode;
import io.walship.wal.WalshipException;

/**
 * The follower loop stopped for good: the leader refused it for a reason that retrying cannot
 * mend (another store, an unknown timeline, a follower ahead of its leader, a wrong token, an
 * unsupported protocol version), or it needs WAL (recycled, or held only by a lost slot) and has
 * no archive to follow instead, or the leader's TLS certificate is not trusted (code null). {@code walship follow} exits with code 4 (README, "Exit codes"); OPERATIONS.md says what to
 * do for each {@link #code()}.
 */
public final class FollowerStoppedException extends WalshipException {
    private final RefusalCode code;

    public FollowerStoppedException(RefusalCode code, String message) {
        super(message);
        this.code = code;
    }

    /** The leader's refusal, or null when the follower stopped on its own finding. */
    public RefusalCode code() {
        return code;
    }
}
