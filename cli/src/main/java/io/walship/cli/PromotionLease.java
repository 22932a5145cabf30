package io.walship.cli;

import java.time.Duration;
import java.util.Objects;

import io.walship.archive.LeaderLease;
import io.walship.archive.LeaseClock;
import io.walship.archive.LeaseException;
import io.walship.archive.LeaseRecord;
import io.walship.archive.ObjectStore;
import io.walship.server.ConflictException;
import io.walship.wal.Errors;

/**
 * The leader lease for a live promotion (docs/OPERATIONS.md, "Failover"), taken on the follower's
 * current timeline <em>before</em> it claims the next one, so that a leader still alive cannot go on
 * acknowledging writes on the old timeline while this node claims the new one.
 *
 * <p>If another node holds the lease and it has not expired (by more than the skew margin), the
 * promotion waits for it to expire, at most {@code maxWait} ({@link #maxWait}: long enough for the
 * lease of a leader that just died). It refuses
 * ({@link ConflictException}, 409, naming the holder) at once if the lease expires later than that,
 * and as soon as it sees the lease renewed while it waits: its leader is alive, and a promotion of
 * one of its followers would make two leaders. It refuses too if the archive holds a newer timeline
 * already (another promotion won) or if the archive cannot be read or written before the deadline.
 */
final class PromotionLease {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(PromotionLease.class);
    /** Waits on the clock the promotion uses; tests advance a manual clock instead. */
    interface Sleeper {
        void sleep(Duration d) throws InterruptedException;
    }

    static final Sleeper REAL = d -> Thread.sleep(Math.max(1, d.toMillis()));

    private PromotionLease() {
    }

    /**
     * How long a promotion waits for another node's lease: the TTL plus twice the skew margin, so
     * that the lease of a leader that died just after renewing it is waited out even if this node's
     * wall clock is behind the leader's by up to the margin.
     */
    static Duration maxWait(Duration ttl, Duration margin) {
        return ttl.plus(margin.multipliedBy(2));
    }

    /**
     * Takes the lease for {@code me} on {@code timeline} (the follower's timeline, before the claim of
     * the next one), waiting as described above.
     *
     * @throws ConflictException refused (the message is one line and names the holder)
     */
    static LeaderLease take(ObjectStore archive, LeaseRecord.Holder me, int timeline, Duration ttl, Duration margin,
                            LeaseClock clock, Duration maxWait, Sleeper sleeper) {
        Objects.requireNonNull(archive, "archive");
        long marginMicros = margin.toNanos() / 1000;
        long deadline = clock.nanoTime() + maxWait.toNanos();
        long poll = Math.max(Duration.ofMillis(20).toNanos(), Math.min(ttl.toNanos() / 10, Duration.ofMillis(500).toNanos()));
        LeaseRecord first = null;
        boolean logged = false;
        boolean failing = false; // an archive failure logged once, not on every poll
        while (true) {
            try {
                return LeaderLease.acquireToPromote(archive, me, timeline, ttl, margin, clock);
            } catch (LeaseException.Superseded e) {
                throw new ConflictException("promotion refused: " + e.getMessage() + "; another promotion already"
                        + " happened: this node stays a follower");
            } catch (LeaseException.Held e) {
                LeaseRecord held = e.current();
                if (first == null) {
                    first = held;
                } else if (!held.nodeId().equals(first.nodeId())) {
                    throw new ConflictException("promotion refused: the leader lease was taken by " + held.describe()
                            + " while this promotion waited for it to expire: another node is becoming the leader;"
                            + " this node stays a follower");
                } else if (held.term() != first.term() || held.renewedAtMicros() != first.renewedAtMicros()) {
                    throw new ConflictException("promotion refused: the leader lease is held by " + held.describe()
                            + ", renewed while this promotion waited for it to expire: that leader is alive; stop it"
                            + " first; this node stays a follower");
                }
                long untilTakeable = (held.expiresAtMicros() + marginMicros - clock.wallMicros()) * 1000;
                long now = clock.nanoTime();
                if (now + untilTakeable > deadline) {
                    throw new ConflictException("promotion refused: the leader lease is held by " + held.describe()
                            + " and expires (plus the skew margin " + margin.toMillis() + " ms) in "
                            + Math.max(0, untilTakeable / 1_000_000) + " ms, later than this promotion waits ("
                            + maxWait.toMillis() + " ms: --lease-ttl plus twice --lease-skew-margin): its leader may be alive;"
                            + " stop it first; this node stays a follower");
                }
                if (held == first && !logged) {
                    logged = true;
                    LOG.info("waiting up to {} ms for the leader lease held by {} to expire", untilTakeable / 1_000_000,
                            held.describe());
                }
                pause(sleeper, Math.min(untilTakeable + 1_000_000, poll)); // takeable strictly after
            } catch (RuntimeException e) {
                // the archive failed, or the lease changed under this node many times in a row (Lost):
                // try again until the deadline
                giveUpAfter(clock, deadline, e);
                if (!failing) {
                    failing = true;
                    LOG.warn("taking the leader lease failed ({}); trying again until the promotion's deadline",
                            Errors.oneLine(e));
                }
                pause(sleeper, poll);
            }
        }
    }

    private static void giveUpAfter(LeaseClock clock, long deadline, RuntimeException e) {
        if (clock.nanoTime() >= deadline) {
            throw new ConflictException("promotion refused: the leader lease could not be taken: " + Errors.oneLine(e)
                    + "; this node stays a follower");
        }
    }

    private static void pause(Sleeper sleeper, long nanos) {
        try {
            sleeper.sleep(Duration.ofNanos(Math.max(1, nanos)));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ConflictException("promotion refused: interrupted while waiting for the leader lease");
        }
    }
}
