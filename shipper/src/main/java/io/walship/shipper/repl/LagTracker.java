package io.walship.shipper.repl;

import java.util.ArrayDeque;

/**
 * Write, flush and replay lag of one follower in time, as PostgreSQL's {@code pg_stat_replication}
 * measures it: the leader records (last LSN, send time) of each WAL frame it sends; when a FEEDBACK
 * reports a position that reached a recorded LSN, that position's lag is "now − the send time of the
 * newest such record". A follower that has everything the leader sent gets, instead, now − the
 * send time it echoes (the newest frame it has seen, a keepalive too): an idle, caught-up follower
 * shows the round trip rather than its last lag for ever.
 *
 * <p>Records are bounded ({@value #MAX_SAMPLES} per position); past that the oldest are dropped
 * and a lag is measured against the oldest record kept (an under-estimate only while a follower is
 * more than that many frames behind). Not thread-safe: the session synchronizes.
 */
final class LagTracker {
    static final int MAX_SAMPLES = 4096;
    /** Positions: written, flushed, applied. */
    static final int WRITE = 0;
    static final int FLUSH = 1;
    static final int REPLAY = 2;

    private record Sample(long lsn, long sentMicros) {
    }

    @SuppressWarnings("unchecked")
    private final ArrayDeque<Sample>[] pending = new ArrayDeque[] {new ArrayDeque<>(), new ArrayDeque<>(),
        new ArrayDeque<>()};
    private final long[] lagMicros = {-1, -1, -1};
    private long lastSentLsn;

    /** A frame carrying entries up to {@code lsn} was sent at {@code sentMicros}. */
    void sent(long lsn, long sentMicros) {
        lastSentLsn = Math.max(lastSentLsn, lsn);
        for (ArrayDeque<Sample> q : pending) {
            if (q.size() >= MAX_SAMPLES) {
                q.pollFirst();
            }
            q.addLast(new Sample(lsn, sentMicros));
        }
    }

    /** The follower reports {@code position} (WRITE, FLUSH or REPLAY) at {@code lsn}; the leader's clock says {@code now}. */
    void reported(int position, long lsn, long echoMicros, long nowMicros) {
        ArrayDeque<Sample> q = pending[position];
        Sample reached = null;
        while (!q.isEmpty() && q.peekFirst().lsn() <= lsn) {
            reached = q.pollFirst();
        }
        if (reached != null) {
            lagMicros[position] = Math.max(0, nowMicros - reached.sentMicros());
        }
        if (q.isEmpty() && lsn >= lastSentLsn && echoMicros > 0) {
            long roundTrip = Math.max(0, nowMicros - echoMicros);
            lagMicros[position] = reached == null ? roundTrip : Math.min(lagMicros[position], roundTrip);
        }
    }

    /** The lag of {@code position} in ms, or -1 before anything was measured. */
    long lagMillis(int position) {
        long l = lagMicros[position];
        return l < 0 ? -1 : l / 1000;
    }
}
