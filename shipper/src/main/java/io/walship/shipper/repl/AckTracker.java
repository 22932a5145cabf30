package io.walship.shipper.repl;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;

import io.walship.wal.Lsn;
import io.walship.wal.WalshipException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which commits the followers have acknowledged (docs/ARCHITECTURE.md, "Commit modes"): a commit
 * mode is "commit durably on the leader, then wait here for the acks the mode needs". The
 * replication sessions report each follower's flush LSN from its FEEDBACK ({@link #flushed}) and
 * its end ({@link #gone}); a commit waits for {@code required} followers to have flushed its LSN
 * ({@link #waitFor}, {@link #await}). Waiters are kept by LSN and completed by the FEEDBACK that
 * acknowledges them — nothing polls.
 *
 * <p>ANY semantics, as PostgreSQL's {@code synchronous_standby_names = 'ANY K (*)'}: the acks of
 * any K connected followers count, so when the follower that acknowledged so far fails, any other
 * connected one takes its place, including one that connected after the commit became durable (it
 * counts once it has flushed that LSN). What K followers have confirmed stays confirmed
 * ({@link #ackedLsn} never goes back): a follower that acknowledged and then disconnected still
 * holds what it flushed.
 *
 * <p>No acks within the timeout: with {@code block} the commit keeps waiting (the tracker says
 * {@link Status#blocked()}, logs once per episode and counts it); with {@code degrade} every waiting
 * commit is answered {@link Outcome#DEGRADED} and so is every later one until degraded mode ends:
 * when {@code required} followers have flushed everything the leader had made durable when it
 * degraded (logged, counted).
 *
 * <p>Time comes from the injected {@code nanoTime}: {@link #tick} expires waiters whose deadline
 * passed; {@link #await} calls it itself when its own wait runs out. Thread-safe (one lock).
 */
public final class AckTracker implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(AckTracker.class);

    /** How a wait ended. */
    public enum Outcome {
        /** Enough followers flushed the LSN. */
        ACKED,
        /** Answered without the acks: the leader is in degraded mode ({@code --on-sync-timeout degrade}). */
        DEGRADED,
        /** The mode needs no acks (async). */
        NOT_NEEDED
    }

    /** The leader stopped while a commit waited for acks: it is durable on the leader, not acknowledged. */
    public static final class AbandonedException extends WalshipException {
        public AbandonedException(String message) {
            super(message);
        }
    }

    /** One follower whose acks count now. */
    public record SyncFollower(String name, long flushLsn) {
    }

    /**
     * What /status shows.
     *
     * @param synchronous  the followers whose acks decide now: the {@code required} most advanced
     *                     connected ones (fewer if fewer are connected)
     * @param waiting      commits (and reads) waiting for acks now
     * @param ackedLsn     the highest LSN acknowledged by as many followers as the mode needs
     * @param blocked      some commit has waited past the timeout and still waits (block)
     * @param blockedForMs how long the oldest of them has waited past its timeout (0 if none)
     * @param blocks       times commits became blocked since start
     * @param degraded     the leader answers commits without waiting (degrade) until followers catch up
     * @param degradations times the leader degraded since start
     * @param degradedUntilLsn degraded mode ends once {@code required} followers flushed this LSN (-1 if not degraded)
     */
    public record Status(SyncOptions options, List<SyncFollower> synchronous, int waiting, long ackedLsn,
                         boolean blocked, long blockedForMs, long blocks, boolean degraded, long degradations,
                         long degradedUntilLsn) {
    }

    private static final class Waiter {
        final long lsn;
        final int required;
        final long deadline;
        final CompletableFuture<Outcome> future = new CompletableFuture<>();
        boolean expired;
        /** Answered (set under the tracker's lock; the future completes just after, outside it). */
        boolean released;

        Waiter(long lsn, int required, long deadline) {
            this.lsn = lsn;
            this.required = required;
            this.deadline = deadline;
        }
    }

    private static final class Follower {
        final String name;
        long flushLsn = -1;

        Follower(String name) {
            this.name = name;
        }
    }

    private final SyncOptions options;
    private final LongSupplier durableLsn;
    private final LongSupplier nanoTime;
    private final int maxRequired;
    private final Map<Object, Follower> followers = new HashMap<>();
    /** acked[q]: the highest LSN that q followers have confirmed flushed (monotonic), q = 1..maxRequired. */
    private final long[] acked;
    /** waiting[q]: waiters for q acks, by LSN. */
    private final List<NavigableMap<Long, List<Waiter>>> waiting = new ArrayList<>();
    /** Every waiter not yet completed, oldest (earliest deadline) first; completed ones leave lazily. */
    private final Deque<Waiter> byDeadline = new ArrayDeque<>();
    private int waitingCount;
    private boolean degraded;
    private long degradedUntil = -1;
    /** The durable LSN when degraded mode last ended: readers saw up to it then, so it stays visible. */
    private long shownWhileDegraded = -1;
    private long degradations;
    private boolean blocked;
    private long blocks;
    private boolean closed;

    /**
     * @param durableLsn the leader's durable LSN now ({@code Store::durableLsn})
     * @param nanoTime   the clock for timeouts ({@code System::nanoTime}; a test's own)
     */
    public AckTracker(SyncOptions options, LongSupplier durableLsn, LongSupplier nanoTime) {
        this.options = Objects.requireNonNull(options, "options");
        this.durableLsn = Objects.requireNonNull(durableLsn, "durableLsn");
        this.nanoTime = Objects.requireNonNull(nanoTime, "nanoTime");
        this.maxRequired = Math.max(1, options.required());
        this.acked = new long[maxRequired + 1];
        Arrays.fill(acked, -1);
        for (int q = 0; q <= maxRequired; q++) {
            waiting.add(new TreeMap<>());
        }
    }

    public SyncOptions options() {
        return options;
    }

    // ---- fed by the replication sessions -------------------------------------------------------

    /**
     * {@code follower} (a session: identity only) reports that it has flushed everything up to
     * {@code flushLsn}: completes the waits this acknowledges, may end degraded mode.
     */
    public void flushed(Object follower, String name, long flushLsn) {
        List<Waiter> done = new ArrayList<>();
        synchronized (this) {
            Follower f = followers.computeIfAbsent(follower, k -> new Follower(name));
            if (flushLsn <= f.flushLsn) {
                return;
            }
            f.flushLsn = flushLsn;
            recompute(done);
        }
        complete(done, Outcome.ACKED);
    }

    /** The follower disconnected: its acks no longer count for what it has not confirmed yet. */
    public synchronized void gone(Object follower) {
        followers.remove(follower);
    }

    /** Recomputes acked[] from the connected followers and collects the waiters it releases. */
    private void recompute(List<Waiter> done) {
        // one ack per follower node, not per session: a follower that reconnected before the leader
        // saw its old session die (or opened two) has one disk, so it counts once, at its best flush
        Map<String, Long> byNode = new HashMap<>();
        for (Follower f : followers.values()) {
            byNode.merge(f.name, f.flushLsn, Math::max);
        }
        long[] flushes = new long[byNode.size()];
        int i = 0;
        for (long lsn : byNode.values()) {
            flushes[i++] = lsn;
        }
        Arrays.sort(flushes); // ascending: the q-th most advanced is flushes[n - q]
        for (int q = 1; q <= maxRequired && q <= flushes.length; q++) {
            long lsn = flushes[flushes.length - q];
            if (lsn > acked[q]) {
                acked[q] = lsn;
                NavigableMap<Long, List<Waiter>> head = waiting.get(q).headMap(lsn, true);
                for (List<Waiter> ws : head.values()) {
                    for (Waiter w : ws) {
                        w.released = true;
                        done.add(w);
                    }
                }
                waitingCount -= countOf(head);
                head.clear();
            }
        }
        while (!byDeadline.isEmpty() && byDeadline.peekFirst().released) {
            byDeadline.pollFirst(); // released in LSN order, registered in about that order: stays short
        }
        if (byDeadline.size() > 2 * waitingCount + 64) {
            // an older waiter for more acks (blocked, or just slower) holds the head while waits for
            // fewer acks (?sync=semi-sync on a sync leader) are released behind it: drop those
            byDeadline.removeIf(w -> w.released);
        }
        if (degraded && acked[maxRequired] >= degradedUntil) {
            degraded = false;
            shownWhileDegraded = Math.max(shownWhileDegraded, durableLsn.getAsLong());
            LOG.warn("sync commits: {} follower(s) caught up to LSN {}, the durable LSN when the leader degraded;"
                    + " commits wait for their acks again ({})", maxRequired, Lsn.format(degradedUntil), options);
            degradedUntil = -1;
        }
        if (blocked && !anyExpired()) {
            blocked = false;
            LOG.warn("sync commits: acks arrived, commits are no longer blocked (acknowledged up to LSN {})",
                    Lsn.format(acked[maxRequired]));
        }
    }

    private static int countOf(NavigableMap<Long, List<Waiter>> m) {
        int n = 0;
        for (List<Waiter> ws : m.values()) {
            n += ws.size();
        }
        return n;
    }

    /** Whether a waiter past its timeout still waits (not among those just released). */
    private boolean anyExpired() {
        for (Waiter w : byDeadline) {
            if (w.expired && !w.released) {
                return true;
            }
        }
        return false;
    }

    private static void complete(List<Waiter> done, Outcome outcome) {
        for (Waiter w : done) {
            w.future.complete(outcome);
        }
    }

    // ---- waits ---------------------------------------------------------------------------------

    /**
     * Registers a wait until {@code required} followers (at most the mode's own) have flushed
     * {@code lsn}; returns at once with a completed future if they have, if none are required, or
     * if the leader is degraded. Never blocks. Cancelling the future ends the wait: it leaves the
     * tracker (no longer counted in {@link #waiting()}, never blocks the tracker).
     *
     * @throws AbandonedException the tracker is closed (the leader is stopping)
     */
    public CompletableFuture<Outcome> waitFor(long lsn, int required) {
        if (required < 0 || required > options.required()) {
            throw new IllegalArgumentException("a commit may wait for 0 to " + options.required()
                    + " followers here, not " + required);
        }
        synchronized (this) {
            if (closed) {
                throw abandoned(lsn);
            }
            if (required == 0) {
                return CompletableFuture.completedFuture(Outcome.NOT_NEEDED);
            }
            if (acked[required] >= lsn) {
                return CompletableFuture.completedFuture(Outcome.ACKED);
            }
            if (degraded) {
                return CompletableFuture.completedFuture(Outcome.DEGRADED);
            }
            Waiter w = new Waiter(lsn, required, nanoTime.getAsLong() + options.timeout().toNanos());
            waiting.get(required).computeIfAbsent(lsn, k -> new ArrayList<>(2)).add(w);
            byDeadline.addLast(w);
            waitingCount++;
            // a wait given up by its caller (cancelled, or its thread interrupted in await) leaves
            // at once: nothing would ever answer it, so it would stay for ever
            w.future.whenComplete((o, e) -> {
                if (e instanceof CancellationException) {
                    forget(w);
                }
            });
            return w.future;
        }
    }

    /** Drops a wait its caller gave up on: out of its LSN's list, out of the count (the deadline queue drops it lazily). */
    private synchronized void forget(Waiter w) {
        if (w.released) {
            return;
        }
        w.released = true;
        NavigableMap<Long, List<Waiter>> m = waiting.get(w.required);
        List<Waiter> ws = m.get(w.lsn);
        if (ws != null && ws.remove(w) && ws.isEmpty()) {
            m.remove(w.lsn);
        }
        waitingCount--;
        while (!byDeadline.isEmpty() && byDeadline.peekFirst().released) {
            byDeadline.pollFirst();
        }
        if (byDeadline.size() > 2 * waitingCount + 64) {
            byDeadline.removeIf(x -> x.released);
        }
        if (blocked && !anyExpired()) {
            blocked = false;
            LOG.warn("sync commits: the last blocked wait was given up by its caller; none is blocked now");
        }
    }

    /**
     * Waits until {@code required} followers have flushed {@code lsn}, or — past the timeout — the
     * leader degrades (returns {@link Outcome#DEGRADED}) or, with block, for as long as it takes.
     *
     * @throws AbandonedException   the leader stopped meanwhile
     * @throws InterruptedException the thread was interrupted (the commit is durable on the leader,
     *                              its acks unknown); the wait is removed from the tracker
     */
    public Outcome await(long lsn, int required) throws InterruptedException {
        return await(lsn, required, () -> false);
    }

    /** How often a wait asks its caller whether to give up ({@link #await(long, int, BooleanSupplier)}). */
    static final long GIVE_UP_CHECK_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    /**
     * As {@link #await(long, int)}, but gives the wait up — returns null, the wait removed from the
     * tracker — once {@code giveUp} says so (asked about every {@value #GIVE_UP_CHECK_NANOS} ns, and
     * before waiting at all): a leader whose lease lapsed can be acknowledged by no follower any
     * more, and with block its writers would otherwise wait for ever.
     */
    public Outcome await(long lsn, int required, BooleanSupplier giveUp) throws InterruptedException {
        CompletableFuture<Outcome> f = waitFor(lsn, required);
        try {
            Outcome o = awaitOutcome(f, lsn, giveUp);
            if (o == null) {
                f.cancel(false); // leaves the tracker (see waitFor)
            }
            return o;
        } catch (InterruptedException e) {
            f.cancel(false); // leaves the tracker (see waitFor)
            throw e;
        }
    }

    private Outcome awaitOutcome(CompletableFuture<Outcome> f, long lsn, BooleanSupplier giveUp)
            throws InterruptedException {
        long deadline = nanoTime.getAsLong() + options.timeout().toNanos();
        try {
            while (true) {
                if (f.isDone()) {
                    return f.get();
                }
                if (giveUp.getAsBoolean()) {
                    return null;
                }
                long left = deadline - nanoTime.getAsLong();
                if (left <= 0) {
                    tick(); // degraded (done), or blocked: waits for the acks, the close or giving up
                }
                try {
                    return f.get(left <= 0 ? GIVE_UP_CHECK_NANOS : Math.min(left, GIVE_UP_CHECK_NANOS), TimeUnit.NANOSECONDS);
                } catch (TimeoutException e) {
                    // loop: tick() decides, and the caller may give up
                }
            }
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(e.getCause());
        } catch (CancellationException e) {
            throw abandoned(lsn);
        }
    }

    /**
     * Applies the timeout to every waiter whose deadline has passed on the clock: with degrade the
     * leader degrades and every waiter is answered {@link Outcome#DEGRADED}; with block they are
     * marked blocked and keep waiting.
     */
    public void tick() {
        List<Waiter> released = new ArrayList<>();
        synchronized (this) {
            long now = nanoTime.getAsLong();
            Iterator<Waiter> it = byDeadline.iterator();
            boolean expiredNow = false;
            long oldestLsn = -1;
            while (it.hasNext()) {
                Waiter w = it.next();
                if (w.released) {
                    it.remove();
                    continue;
                }
                if (now - w.deadline < 0) {
                    break; // deadlines are in registration order
                }
                if (!w.expired) {
                    w.expired = true;
                    expiredNow = true;
                    oldestLsn = oldestLsn < 0 ? w.lsn : Math.min(oldestLsn, w.lsn);
                }
            }
            if (!expiredNow) {
                return;
            }
            if (options.onTimeout() == SyncOptions.OnTimeout.DEGRADE) {
                long maxWaiting = -1;
                for (Waiter w : byDeadline) {
                    if (!w.released) {
                        w.released = true;
                        released.add(w);
                        maxWaiting = Math.max(maxWaiting, w.lsn);
                    }
                }
                for (NavigableMap<Long, List<Waiter>> m : waiting) {
                    m.clear();
                }
                byDeadline.clear();
                waitingCount = 0;
                degraded = true;
                degradations++;
                degradedUntil = Math.max(durableLsn.getAsLong(), maxWaiting);
                LOG.warn("sync commits DEGRADED to async: LSN {} waited {} for {} follower ack(s) ({} connected);"
                        + " {} waiting commit(s) answered without them (Walship-Sync: degraded); commits wait again"
                        + " once {} follower(s) flushed LSN {}", Lsn.format(oldestLsn), options.timeout(), maxRequired,
                        followers.size(), released.size(), maxRequired, Lsn.format(degradedUntil));
            } else if (!blocked) {
                blocked = true;
                blocks++;
                LOG.warn("sync commits BLOCKED: LSN {} has waited {} for {} follower ack(s) ({} connected, acknowledged"
                        + " up to LSN {}); commits keep waiting (--on-sync-timeout block) until followers flush them",
                        Lsn.format(oldestLsn), options.timeout(), maxRequired, followers.size(),
                        acked[maxRequired] < 0 ? "none" : Lsn.format(acked[maxRequired]));
            }
        }
        complete(released, Outcome.DEGRADED);
    }

    // ---- what readers may see ------------------------------------------------------------------

    /** The highest LSN that {@code required} followers have confirmed flushed (-1: none yet). */
    public synchronized long ackedLsn(int required) {
        return required == 0 ? Long.MAX_VALUE : acked[required];
    }

    /**
     * The highest LSN readers on the leader may see: durable on the leader and acknowledged as the
     * leader's mode needs (while degraded, or in async mode: durable). Never goes back: what was
     * visible while the leader was degraded stays visible after followers caught up.
     */
    public long visibleLsn() {
        long durable = durableLsn.getAsLong();
        synchronized (this) {
            if (options.required() == 0 || degraded) {
                return durable;
            }
            // what readers saw while degraded stays visible: visibility never goes back
            return Math.max(shownWhileDegraded, Math.min(durable, acked[options.required()]));
        }
    }

    public synchronized boolean degraded() {
        return degraded;
    }

    public synchronized Status status() {
        Map<String, Follower> byNode = new HashMap<>(); // a node with two sessions is one follower
        for (Follower f : followers.values()) {
            byNode.merge(f.name, f, (x, y) -> x.flushLsn >= y.flushLsn ? x : y);
        }
        List<Follower> all = new ArrayList<>(byNode.values());
        all.sort((a, b) -> a.flushLsn != b.flushLsn ? Long.compare(b.flushLsn, a.flushLsn) : a.name.compareTo(b.name));
        List<SyncFollower> sync = new ArrayList<>();
        if (options.required() > 0) {
            for (Follower f : all.subList(0, Math.min(options.required(), all.size()))) {
                sync.add(new SyncFollower(f.name, f.flushLsn));
            }
        }
        long blockedFor = 0;
        if (blocked) {
            long now = nanoTime.getAsLong();
            for (Waiter w : byDeadline) {
                if (w.expired && !w.released) {
                    blockedFor = Math.max(blockedFor, (now - w.deadline) / 1_000_000L);
                }
            }
        }
        return new Status(options, sync, waitingCount, options.required() == 0 ? -1 : acked[options.required()],
                blocked, blockedFor, blocks, degraded, degradations, degradedUntil);
    }

    /** Waiters the deadline queue holds, released ones not yet dropped included (for tests). */
    synchronized int queued() {
        return byDeadline.size();
    }

    /** Commits (and reads) waiting for acks now. */
    public synchronized int waiting() {
        return waitingCount;
    }

    /** Every waiter fails with {@link AbandonedException}; later waits too. Idempotent. */
    @Override
    public void close() {
        List<Waiter> all;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            all = new ArrayList<>();
            for (Waiter w : byDeadline) {
                if (!w.released) {
                    w.released = true;
                    all.add(w);
                }
            }
            byDeadline.clear();
            for (NavigableMap<Long, List<Waiter>> m : waiting) {
                m.clear();
            }
            waitingCount = 0;
        }
        for (Waiter w : all) {
            w.future.completeExceptionally(abandoned(w.lsn));
        }
    }

    private static AbandonedException abandoned(long lsn) {
        return new AbandonedException("the leader is stopping: LSN " + Lsn.format(lsn) + " is durable on the leader"
                + " but its follower acks are unknown");
    }
}
