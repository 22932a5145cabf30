package io.walship.client;

import java.util.concurrent.atomic.AtomicLong;

/**
 * A session's consistency token: the highest LSN the session has seen, from the commit LSN of
 * its writes and the {@code Walship-LSN} of its reads. {@link WalshipClient} sends it with every
 * read as {@code ?min_lsn=}, so a node answers only from a state at least that new — which gives
 * the session read-your-writes and monotonic reads across the leader and any follower — and
 * advances it with every answer.
 *
 * <p>The token only ever moves forward ({@link #observe}). It travels as a string
 * ({@link #token()}, {@link #parse}) — e.g. in a cookie or between services — so another process
 * can continue the session. Thread-safe: sessions may be shared by threads, and a shared session
 * is as strong as the union of what its users saw.
 */
public final class Session {
    private final AtomicLong lsn;

    /** A new session that has seen nothing (LSN 0: any node's state satisfies it). */
    public Session() {
        this(0);
    }

    /** A session that has seen up to {@code lsn}. */
    public Session(long lsn) {
        if (lsn < 0) {
            throw new IllegalArgumentException("a session's LSN cannot be negative: " + lsn);
        }
        this.lsn = new AtomicLong(lsn);
    }

    /**
     * The session of a token written by {@link #token()}: 16 hex digits as printed everywhere;
     * {@code 0x…} and decimal are accepted too, as for every LSN walship reads.
     *
     * @throws IllegalArgumentException with a one-line reason
     */
    public static Session parse(String token) {
        return new Session(Lsns.parse(token));
    }

    /** The highest LSN this session has seen (0 if none). */
    public long lsn() {
        return lsn.get();
    }

    /**
     * Records that the session has seen {@code seen}: the token moves to it if it is higher and
     * never moves back.
     *
     * @return whether the token moved
     */
    public boolean observe(long seen) {
        long before = lsn.getAndAccumulate(seen, Math::max);
        return seen > before;
    }

    /** Takes in everything {@code other} has seen (e.g. joining two sessions' work). */
    public void merge(Session other) {
        observe(other.lsn());
    }

    /** The token as a string: the LSN in its canonical form, 16 upper-case hex digits. */
    public String token() {
        return Lsns.format(lsn.get());
    }

    @Override
    public String toString() {
        return token();
    }
}
