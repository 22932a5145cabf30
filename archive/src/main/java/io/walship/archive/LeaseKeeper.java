package io.walship.archive;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the leader lease for a leader and decides whether it may acknowledge writes and ship WAL
 * (fencing). It tries to take the lease at once, then every TTL/3 renews it (or, while it does not
 * hold it, tries again to take it). {@link #writable} is computed at the moment it is asked, from
 * the monotonic deadline of the last successful write of the lease, not from the last tick: a
 * leader whose renewals fail stops acknowledging at expiry minus the skew margin even if the
 * renewal thread is stuck in a call to the archive.
 *
 * <p>States ({@link State}): {@code HELD} (valid; a renewal may have failed, see
 * {@link Status#reason}); {@code FENCED} (this node's lease, but not renewed in time: writes
 * refused; it resumes only when a renewal of that same version succeeds, i.e. nobody took it
 * meanwhile); {@code WAITING} (another node holds it and it has not expired: writes refused, tried
 * again every TTL/3); {@code LOST} (someone else replaced it: writes refused, this node tries to take
 * it again like a newcomer, which succeeds only once it expired or was released and if no newer
 * timeline exists — even when the lease carries this node's own id, then another live process's);
 * {@code SUPERSEDED} (a newer timeline: refused for good, until the node is rejoined as a
 * follower); {@code RELEASED} (closed).
 *
 * <p>Thread-safe: ticks run on one thread ({@code walship-lease}), or on the caller's in tests
 * ({@link #manual}); state is guarded by this.
 */
public final class LeaseKeeper implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(LeaseKeeper.class);

    public enum State { HELD, FENCED, WAITING, LOST, SUPERSEDED, RELEASED }

    /**
     * What {@code /status} and {@code /metrics} show.
     *
     * @param state         see {@link State}
     * @param holder        who holds the lease as last seen ({@link LeaseRecord#describe}); null if unknown
     * @param term          the lease's term as last seen; 0 if unknown
     * @param expiresAtMicros the lease's wall-clock expiry as last seen; 0 if unknown
     * @param validForMillis how long this node may still acknowledge writes (0 when it may not)
     * @param reason        why writes are refused, or why the last renewal failed while still valid; null if all is well
     * @param renewals      successful renewals
     * @param renewalFailures renewals or takes that failed (any reason)
     * @param fencings      times this node stopped acknowledging writes
     */
    public record Status(State state, String holder, long term, long expiresAtMicros, long validForMillis,
                         String reason, long renewals, long renewalFailures, long fencings) {
        public boolean writable() {
            return state == State.HELD;
        }
    }

    private final ObjectStore store;
    private volatile LeaseRecord.Holder me;
    private final int timeline;
    private final Duration ttl;
    private final Duration margin;
    private final LeaseClock clock;
    private final ScheduledExecutorService timer;
    private LeaderLease lease; // null while not held
    private LeaseRecord seen;
    private State base = State.WAITING; // the state as of the last tick; HELD may decay to FENCED with time
    private String reason;
    private long renewals;
    private long failures;
    private long fencings;
    private boolean wasWritable;
    private boolean closed;
    private volatile boolean started;
    /** This node's own timeline records ({@link #ownHistories}). */
    private volatile java.util.function.IntFunction<java.util.Optional<TimelineHistory>> own = LeaderLease.NO_OWN;

    private LeaseKeeper(ObjectStore store, LeaseRecord.Holder me, int timeline, Duration ttl, Duration margin,
                        LeaseClock clock, boolean scheduled) {
        this.store = Objects.requireNonNull(store, "store");
        this.me = Objects.requireNonNull(me, "me");
        this.timeline = timeline;
        this.ttl = ttl;
        this.margin = margin;
        this.clock = Objects.requireNonNull(clock, "clock");
        LeaderLease.checkTimes(ttl, margin);
        this.timer = scheduled ? Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "walship-lease");
            t.setDaemon(true);
            return t;
        }) : null;
    }

    /** Tries to take the lease now (the answer is in {@link #status}), then keeps it every TTL/3 on its own thread. */
    public static LeaseKeeper start(ObjectStore store, LeaseRecord.Holder me, int timeline, Duration ttl,
                                    Duration skewMargin, LeaseClock clock) {
        LeaseKeeper k = unstarted(store, me, timeline, ttl, skewMargin, clock);
        k.start(me);
        return k;
    }

    /**
     * A keeper that refuses writes and takes nothing until {@link #start(LeaseRecord.Holder)}: a leader
     * creates it before its HTTP port is bound and starts it once its URL is known.
     */
    public static LeaseKeeper unstarted(ObjectStore store, LeaseRecord.Holder me, int timeline, Duration ttl,
                                        Duration skewMargin, LeaseClock clock) {
        LeaseKeeper k = new LeaseKeeper(store, me, timeline, ttl, skewMargin, clock, true);
        k.reason = "the leader has not started yet";
        return k;
    }

    /**
     * Tries to take the lease for {@code holder} (the same node id, now with its URLs) now, then keeps
     * it every TTL/3 on its own thread. Once only.
     */
    public LeaseKeeper start(LeaseRecord.Holder holder) {
        if (!holder.nodeId().equals(me.nodeId())) {
            throw new IllegalArgumentException("the keeper was made for node " + me.nodeId() + ", not " + holder.nodeId());
        }
        if (timer == null || started) {
            throw new IllegalStateException("this lease keeper is manual or already started");
        }
        started = true;
        me = holder;
        tick();
        long period = Math.max(1, ttl.toMillis() / 3);
        timer.scheduleWithFixedDelay(this::tick, period, period, TimeUnit.MILLISECONDS);
        return this;
    }

    /** A keeper whose ticks the caller runs ({@link #tick}), for tests with a manual clock. */
    public static LeaseKeeper manual(ObjectStore store, LeaseRecord.Holder me, int timeline, Duration ttl,
                                     Duration skewMargin, LeaseClock clock) {
        return new LeaseKeeper(store, me, timeline, ttl, skewMargin, clock, false);
    }

    /** One round: renew the lease held, or try to take it. Never throws. */
    public void tick() {
        LeaderLease held;
        synchronized (this) {
            if (closed || base == State.SUPERSEDED) {
                return;
            }
            held = lease;
        }
        if (held != null) {
            renew(held);
        } else {
            take();
        }
        writable(); // log a change of writability now, not at the next request
    }

    private void renew(LeaderLease held) {
        try {
            held.renew();
            synchronized (this) {
                if (closed) {
                    return;
                }
                renewals++;
                seen = held.record();
                if (base != State.HELD || reason != null) {
                    LOG.info("renewed the leader lease again: {}", seen.describe());
                }
                base = State.HELD;
                reason = null;
            }
        } catch (LeaseException.Lost e) {
            synchronized (this) {
                if (closed) {
                    return;
                }
                failures++;
                lease = null;
                seen = e.current();
                base = State.LOST;
                reason = e.getMessage();
            }
            LOG.error("lost the leader lease: {}; refusing writes", e.getMessage());
        } catch (RuntimeException e) {
            synchronized (this) {
                failures++;
                reason = "renewing the leader lease failed: " + oneLine(e);
            }
            LOG.warn("renewing the leader lease failed ({} ms of it left): {}", held.validForNanos() / 1_000_000,
                    oneLine(e));
        }
    }

    /**
     * Where each take reads this node's own timeline records first ({@code walship leader}: its data directory), the
     * archive's only where it has none ({@link LeaderLease#acquire(ObjectStore, LeaseRecord.Holder, int, Duration,
     * Duration, LeaseClock, boolean, java.util.function.IntFunction)}). Call before {@link #start}.
     */
    public LeaseKeeper ownHistories(java.util.function.IntFunction<java.util.Optional<TimelineHistory>> records) {
        this.own = java.util.Objects.requireNonNull(records, "records");
        return this;
    }

    private void take() {
        boolean ownAtOnce;
        synchronized (this) {
            // after LOST, a lease with this node's id is another live process's (the same id reused):
            // taking it back at once would make both acknowledge until the other's next renewal
            ownAtOnce = base != State.LOST;
        }
        try {
            LeaderLease l = LeaderLease.acquire(store, me, timeline, ttl, margin, clock, ownAtOnce, own);
            synchronized (this) {
                if (closed) {
                    l.release();
                    return;
                }
                lease = l;
                seen = l.record();
                base = State.HELD;
                reason = null;
            }
        } catch (LeaseException.Superseded e) {
            synchronized (this) {
                failures++;
                seen = e.current();
                base = State.SUPERSEDED;
                reason = e.getMessage();
            }
            LOG.error("{}: this leader refuses writes and ships nothing; rejoin it as a follower", e.getMessage());
        } catch (LeaseException e) {
            synchronized (this) {
                failures++;
                seen = e.current() != null ? e.current() : seen;
                if (base != State.LOST) {
                    base = State.WAITING;
                }
                reason = e.getMessage();
            }
            LOG.warn("{}; refusing writes until it can be taken", e.getMessage());
        } catch (RuntimeException e) {
            synchronized (this) {
                failures++;
                reason = "taking the leader lease failed: " + oneLine(e);
            }
            LOG.warn("taking the leader lease failed: {}", oneLine(e));
        }
    }

    /** Whether this node may acknowledge a write (and ship WAL) at this instant. */
    public boolean writable() {
        return status().writable();
    }

    /** Why writes are refused now (one line), or null if they are not. */
    public String refusal() {
        Status s = status();
        return s.writable() ? null : s.reason();
    }

    public synchronized Status status() {
        State state = base;
        String why = reason;
        long left = 0;
        if (state == State.HELD) {
            left = lease.validForNanos();
            if (left <= 0) {
                state = State.FENCED;
                why = "the leader lease could not be renewed before its expiry minus the skew margin ("
                        + margin.toMillis() + " ms)" + (reason == null ? "" : "; " + reason);
                left = 0;
            }
        }
        boolean writable = state == State.HELD;
        if (wasWritable && !writable) {
            fencings++;
            LOG.error("fenced: this leader stops acknowledging writes: {}", why);
        }
        wasWritable = writable;
        if (!writable && why == null) {
            why = "this node does not hold the leader lease";
        }
        return new Status(state, seen == null ? null : seen.describe(), seen == null ? 0 : seen.term(),
                seen == null ? 0 : seen.expiresAtMicros(), left / 1_000_000, writable ? reason : why, renewals,
                failures, fencings);
    }

    /** The lease as last read or written (this node's or another's), or null before the first read. */
    public synchronized LeaseRecord seen() {
        return seen;
    }

    public LeaseRecord.Holder holder() {
        return me;
    }

    public Duration ttl() {
        return ttl;
    }

    public Duration skewMargin() {
        return margin;
    }

    /** Stops renewing and releases the lease (a clean shutdown), so the next leader need not wait for it to expire. */
    @Override
    public void close() {
        LeaderLease held;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            held = lease;
            lease = null;
            base = State.RELEASED;
            reason = "the leader is shutting down";
            wasWritable = false;
        }
        if (timer != null) {
            timer.shutdown();
            try {
                timer.awaitTermination(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (held != null) {
            held.release();
        }
    }

    private static String oneLine(Throwable e) {
        String m = e.getMessage();
        return e.getClass().getSimpleName() + (m == null ? "" : ": " + m.lines().findFirst().orElse(""));
    }
}
