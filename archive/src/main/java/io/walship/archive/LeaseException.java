package io.walship.archive;

/**
 * The leader lease cannot be had or kept; {@link #current()} is the lease as last read (null if
 * unknown). Subclasses say why: {@link Held} someone else holds it, {@link Superseded} the archive
 * has moved to a newer timeline, {@link Lost} someone else replaced the lease this node held.
 */
public abstract sealed class LeaseException extends RuntimeException {
    private final transient LeaseRecord current;

    LeaseException(String message, LeaseRecord current) {
        super(message);
        this.current = current;
    }

    public LeaseRecord current() {
        return current;
    }

    /** Another node holds the lease and it has not expired (by more than the skew margin). */
    public static final class Held extends LeaseException {
        public Held(LeaseRecord current) {
            super("the leader lease is held by " + current.describe(), current);
        }
    }

    /** The lease or the archive is on a timeline newer than this node's: it must never write again. */
    public static final class Superseded extends LeaseException {
        public Superseded(String message, LeaseRecord current) {
            super(message, current);
        }
    }

    /** Someone else replaced the lease this node held (a takeover after it expired, or an operator). */
    public static final class Lost extends LeaseException {
        public Lost(String message, LeaseRecord current) {
            super(message, current);
        }
    }
}
