package io.walship.cli;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

import io.walship.archive.FollowerStatus;
import io.walship.archive.LeaderLease;
import io.walship.archive.LeaseClock;
import io.walship.archive.LeaseRecord;
import io.walship.archive.ObjectStore;
import io.walship.protocol.StatusResponse;
import io.walship.restorer.follow.FollowerLoop;
import io.walship.server.ConflictException;
import io.walship.server.SwitchingNode;
import io.walship.wal.Errors;
import io.walship.wal.Lsn;
import io.walship.wal.Store;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Automatic failover for one follower ({@code walship follow --failover auto}; docs/OPERATIONS.md,
 * "Automatic failover"). Every tick, on its own thread ({@code walship-failover}). A follower with
 * {@code --failover manual} and {@code --archive} runs the first step only (its object says
 * {@code failover: manual}): it is no candidate, but the winner asks it for WAL it lacks.
 *
 * <ol>
 *   <li><b>status</b>: writes this follower's status object ({@link FollowerStatus},
 *       {@code followers/NODE.json}) when its timeline, flushed LSN or addresses changed — at most
 *       once per {@code statusInterval} — and unchanged every {@code refresh}, so that a live
 *       follower's object stays fresh;</li>
 *   <li><b>heartbeat</b>: while a leader's frames (WAL or KEEPALIVE) arrive within
 *       {@code heartbeatTimeout}, nothing else happens. Past it the leader is presumed missing, but
 *       nothing is decided while the archive's lease is valid (not expired by more than the skew
 *       margin): a leader that renews it is alive, only unreachable from here, and is not replaced;
 *       a lease on a newer timeline means a promotion happened (the follower loop finds the new
 *       leader through the lease); and with no lease object at all nobody is elected (a leader run
 *       with {@code --no-lease} cannot be fenced: silent to us, it may still take writes);</li>
 *   <li><b>election</b>: after writing its own status at once and waiting one
 *       {@code statusInterval} for the others to do the same, it reads every status object and, among
 *       the auto followers' fresh within {@code freshness} (and not from the future) on its timeline,
 *       picks the highest flushed LSN, ties to the
 *       smallest node id. Every follower computes the same winner from the same objects; the
 *       election only decides who tries first — safety comes from the lease;</li>
 *   <li><b>the winner</b> promotes through {@link SwitchingNode#promote} (the path {@code POST
 *       /promote} takes) with every other follower on its timeline as peers (manual and stale ones
 *       too: they may hold acknowledged commits): it fetches what a more advanced
 *       reachable peer holds, waits for the old leader's lease to expire and takes it by
 *       compare-and-swap ({@link PromotionLease}: normally at once, it has expired — of two nodes that both think they won, at most one
 *       takes it), claims the next timeline, and leads. A refusal (409) leaves it a follower; it tries
 *       again after another {@code heartbeatTimeout} if the leader is still missing;</li>
 *   <li><b>the others</b> wait. If the winner has not taken over within {@code winnerWait} (the lease
 *       still names the old timeline), it is passed over and the election runs again without it.</li>
 * </ol>
 *
 * Each step is logged on one line; {@link #status()} and {@link #metrics()} show the state.
 */
final class AutoFailover implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(AutoFailover.class);

    /**
     * @param heartbeatTimeout no frame from the leader for this long: it is presumed missing
     * @param statusInterval   the shortest time between two writes of this follower's status object
     * @param refresh          an unchanged status object is written again this often
     * @param freshness        a status object older than this (plus the skew margin) is ignored
     * @param winnerWait       how long the others wait for the winner to take over before passing over it
     * @param skewMargin       the lease's clock-skew margin, also allowed on status objects' times
     */
    record Options(Duration heartbeatTimeout, Duration statusInterval, Duration refresh, Duration freshness,
                   Duration winnerWait, Duration skewMargin) {
        /** The defaults derived from the heartbeat timeout, the status interval and the lease's times. */
        static Options of(Duration heartbeatTimeout, Duration statusInterval, Duration leaseTtl, Duration skewMargin) {
            Duration refresh = max(statusInterval, heartbeatTimeout.dividedBy(2));
            Duration freshness = heartbeatTimeout.multipliedBy(2).plus(refresh);
            // the winner notices the silence about when we do, then waits out the lease and promotes
            Duration winnerWait = PromotionLease.maxWait(leaseTtl, skewMargin).plus(heartbeatTimeout)
                    .plus(statusInterval).plus(Duration.ofSeconds(10));
            return new Options(heartbeatTimeout, statusInterval, refresh, freshness, winnerWait, skewMargin);
        }

        Duration tick() {
            long ms = Math.min(statusInterval.toMillis(), heartbeatTimeout.toMillis()) / 4;
            return Duration.ofMillis(Math.max(20, Math.min(250, ms)));
        }
    }

    enum State { FOLLOWING, LEADER_SILENT, WAITING_FOR_WINNER, PROMOTING, LEADER, STOPPED }

    private final LiveFollower live;
    private final SwitchingNode node;
    private final ObjectStore archive;
    private final String nodeId;
    /** {@code --failover auto}: a candidate that elects and promotes; else it only publishes its status. */
    private final boolean candidate;
    private final Supplier<String> httpUrl;
    private final Supplier<String> replUrl;
    private final Options options;
    private final LeaseClock clock;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "walship-failover");
        t.setDaemon(true);
        return t;
    });

    private volatile State state = State.FOLLOWING;
    private volatile String winner;
    private volatile String lastEvent;
    private volatile long silentMs;
    private final AtomicLong elections = new AtomicLong();
    private final AtomicLong promotions = new AtomicLong();
    private final AtomicLong promoted = new AtomicLong();
    private final AtomicLong statusWrites = new AtomicLong();
    private final AtomicLong statusFailures = new AtomicLong();

    // touched by the failover thread only
    private FollowerStatus published;
    private long publishedAtNanos;
    private long electAfterNanos;
    private long notBeforeNanos;
    private long winnerSinceNanos;
    private long electedAtNanos;
    /** Nodes whose status object was last seen written in the future (logged once, until it no longer is). */
    private final Set<String> inTheFuture = new HashSet<>();
    private boolean leaseAliveLogged;
    private boolean leaseValidLogged;
    private boolean noLeaseLogged;
    private final Set<String> passedOver = new HashSet<>();

    /** @param candidate {@code --failover auto}; false: {@code manual}, only its status object is written */
    AutoFailover(LiveFollower live, SwitchingNode node, ObjectStore archive, String nodeId, boolean candidate,
                 Supplier<String> httpUrl, Supplier<String> replUrl, Options options, LeaseClock clock) {
        this.live = live;
        this.node = node;
        this.archive = archive;
        this.nodeId = nodeId;
        this.candidate = candidate;
        this.httpUrl = httpUrl;
        this.replUrl = replUrl;
        this.options = options;
        this.clock = clock;
    }

    AutoFailover start() {
        if (!candidate) {
            LOG.info("failover manual: status object {} written at most every {} ms (unchanged every {} ms), so that"
                            + " an automatic promotion asks this node for WAL it lacks; this node is no candidate",
                    FollowerStatus.key(nodeId), options.statusInterval().toMillis(), options.refresh().toMillis());
            timer.scheduleWithFixedDelay(this::tick, 0, options.tick().toMillis(), TimeUnit.MILLISECONDS);
            return this;
        }
        LOG.info("failover auto: heartbeat timeout {} ms, status object {} written at most every {} ms (unchanged every"
                        + " {} ms), fresh for {} ms, a silent winner passed over after {} ms", options.heartbeatTimeout().toMillis(),
                FollowerStatus.key(nodeId), options.statusInterval().toMillis(), options.refresh().toMillis(),
                options.freshness().toMillis(), options.winnerWait().toMillis());
        long every = options.tick().toMillis();
        timer.scheduleWithFixedDelay(this::tick, 0, every, TimeUnit.MILLISECONDS);
        return this;
    }

    /** One round; never throws (a failure is logged and the next tick tries again). */
    void tick() {
        try {
            step();
        } catch (RuntimeException e) {
            event("failover step failed: " + Errors.oneLine(e), true);
        }
    }

    private void step() {
        if (state == State.LEADER || state == State.STOPPED) {
            return;
        }
        if (live.promoted()) { // promoted by hand (POST /promote)
            state = State.LEADER;
            event("this node leads (promoted by POST /promote); " + (candidate ? "automatic failover has nothing"
                    + " more to do" : "its follower status is no longer written"), false);
            return;
        }
        if (live.fatal() != null) {
            state = State.STOPPED;
            return;
        }
        long now = System.nanoTime();
        publishIfDue(now, false);
        if (!candidate) {
            return;
        }
        FollowerLoop loop = live.loop();
        Duration silent = loop.sinceContact();
        silentMs = silent.toMillis();
        if (silent.compareTo(options.heartbeatTimeout()) < 0) {
            if (state != State.FOLLOWING && !loop.heardFromLeader()) {
                return; // a new loop (after a refused promotion) that has heard nothing yet: its own timeout runs
            }
            if (state != State.FOLLOWING) {
                event("the leader is heard from again; following", false);
            }
            state = State.FOLLOWING;
            winner = null;
            passedOver.clear();
            leaseAliveLogged = false;
            leaseValidLogged = false;
            noLeaseLogged = false;
            return;
        }
        if (now - notBeforeNanos < 0) {
            return;
        }
        int timeline = live.store().timeline();
        Optional<LeaseRecord> lease = LeaderLease.current(archive);
        if (state == State.FOLLOWING) {
            state = State.LEADER_SILENT;
            event("no frame from the leader for " + silent.toMillis() + " ms (heartbeat timeout "
                    + options.heartbeatTimeout().toMillis() + " ms): leader presumed missing; lease "
                    + lease.map(LeaseRecord::describe).orElse("none"), false);
            publishIfDue(now, true); // the others elect from what we publish now
            electAfterNanos = now + options.statusInterval().toNanos();
        }
        switch (verdict(lease, timeline, clock.wallMicros(), options.skewMargin().toNanos() / 1000)) {
            case NONE -> {
                // a leader without a lease (--no-lease) cannot be fenced: silent to us it may still take
                // writes (a partition), and a promoted follower would be a second leader
                if (!noLeaseLogged) {
                    noLeaseLogged = true;
                    event("the archive holds no leader lease (" + io.walship.archive.ArchiveLayout.LEASE + "): the"
                            + " leader runs without one (--no-lease) or never took it, and cannot be fenced; no"
                            + " election without a lease (promote by hand: POST /promote)", false);
                }
                winner = null;
                return;
            }
            case NEWER_TIMELINE -> {
                if (!leaseAliveLogged) {
                    leaseAliveLogged = true;
                    LeaseRecord l = lease.get();
                    event("the lease names " + l.describe() + " on timeline " + l.timeline() + ", newer than ours ("
                            + timeline + "): a promotion happened; the follower loop switches to it", false);
                }
                return;
            }
            case VALID -> {
                // a leader that renews is alive (only unreachable from here), and one that died is
                // replaceable only once its lease lapsed: either way nobody may take over before
                if (!leaseValidLogged) {
                    leaseValidLogged = true;
                    event("the lease of " + lease.get().describe() + " is valid (plus the skew margin "
                            + options.skewMargin().toMillis() + " ms): no election before it expires; a leader that"
                            + " renews it is alive", false);
                }
                winner = null;
                return;
            }
            case TAKEABLE -> { }
        }
        if (now - electAfterNanos < 0) {
            return;
        }
        elect(now, timeline);
    }

    /** What the archive's lease says about electing a new leader of {@code timeline}. */
    enum LeaseVerdict {
        /** No lease object at all: the leader runs without one and cannot be fenced; never elect. */
        NONE,
        /** The lease is on a newer timeline: a promotion happened; the follower loop follows it. */
        NEWER_TIMELINE,
        /** Held and not expired by more than the skew margin: its holder may be alive; wait. */
        VALID,
        /** Released (a clean stop) or expired past the skew margin: an election may replace its holder. */
        TAKEABLE
    }

    static LeaseVerdict verdict(Optional<LeaseRecord> lease, int timeline, long wallMicros, long skewMarginMicros) {
        if (lease.isEmpty()) {
            return LeaseVerdict.NONE;
        }
        LeaseRecord l = lease.get();
        if (l.timeline() > timeline) {
            return LeaseVerdict.NEWER_TIMELINE;
        }
        return l.takeable(wallMicros, skewMarginMicros) ? LeaseVerdict.TAKEABLE : LeaseVerdict.VALID;
    }

    /** One election (package-private for tests); while waiting for a winner, at most once per status interval. */
    void elect(long now, int timeline) {
        if (state == State.WAITING_FOR_WINNER && now - electedAtNanos < options.statusInterval().toNanos()) {
            return; // each election is a LIST and a GET per follower: not every tick
        }
        electedAtNanos = now;
        List<String> skipped = new ArrayList<>();
        List<FollowerStatus> all = FollowerStatus.readAll(archive, skipped);
        skipped.forEach(s -> LOG.warn("ignoring an unreadable follower status: {}", s));
        long wall = clock.wallMicros();
        long skew = options.skewMargin().toNanos() / 1000;
        long fresh = options.freshness().toNanos() / 1000 + skew;
        logFuture(all, timeline, wall, skew);
        FollowerStatus mine = published != null ? published : current();
        List<FollowerStatus> candidates = candidates(all, mine, timeline, wall, fresh, skew);
        List<String> peers = peers(all, nodeId, timeline);
        Optional<FollowerStatus> best = winner(candidates, passedOver);
        if (best.isEmpty()) {
            return;
        }
        FollowerStatus w = best.get();
        elections.incrementAndGet();
        if (w.nodeId().equals(nodeId)) {
            winner = nodeId;
            state = State.PROMOTING;
            promotions.incrementAndGet();
            event("elected: this node (timeline " + timeline + ", flushed LSN " + mine.flushedLsn() + ") among "
                    + describe(candidates) + "; promoting with peers " + peers, false);
            try {
                var r = node.promote(false, peers);
                promoted.incrementAndGet();
                state = State.LEADER;
                event("promoted: leader of timeline " + r.timeline() + " (forked after LSN " + r.forkLsn() + ")", false);
            } catch (ConflictException e) {
                state = State.LEADER_SILENT;
                notBeforeNanos = System.nanoTime() + options.heartbeatTimeout().toNanos();
                event("promotion refused, following again: " + Errors.oneLine(e), false);
            } catch (RuntimeException e) {
                state = live.fatal() != null ? State.STOPPED : State.LEADER_SILENT;
                notBeforeNanos = System.nanoTime() + options.heartbeatTimeout().toNanos();
                event("promotion failed: " + Errors.oneLine(e), true);
            }
            return;
        }
        if (!w.nodeId().equals(winner)) {
            winner = w.nodeId();
            winnerSinceNanos = now;
            state = State.WAITING_FOR_WINNER;
            event("elected " + w.nodeId() + " (flushed LSN " + w.flushedLsn() + ") among " + describe(candidates)
                    + "; waiting up to " + options.winnerWait().toMillis() + " ms for it to take over", false);
        } else if (now - winnerSinceNanos > options.winnerWait().toNanos()) {
            passedOver.add(w.nodeId());
            winner = null;
            event(w.nodeId() + " did not take over within " + options.winnerWait().toMillis()
                    + " ms; passing over it and electing again", false);
        }
    }

    /**
     * Who takes part in an election: this node ({@code mine}, as it last published itself) and every
     * other {@code --failover auto} follower whose status is on {@code timeline} and was written
     * within {@code freshMicros} of {@code wallMicros} — and not more than {@code aheadMicros} (the
     * skew margin) after it: an object from the future would otherwise stay fresh for ever.
     */
    static List<FollowerStatus> candidates(List<FollowerStatus> all, FollowerStatus mine, int timeline, long wallMicros,
                                           long freshMicros, long aheadMicros) {
        List<FollowerStatus> out = new ArrayList<>();
        out.add(mine);
        for (FollowerStatus s : all) {
            if (!s.nodeId().equals(mine.nodeId()) && s.candidate() && s.timeline() == timeline
                    && wallMicros - s.writtenAtMicros() <= freshMicros && !future(s, wallMicros, aheadMicros)) {
                out.add(s);
            }
        }
        return out;
    }

    private static boolean future(FollowerStatus s, long wallMicros, long aheadMicros) {
        return s.writtenAtMicros() - wallMicros > aheadMicros;
    }

    /**
     * The peers a promotion asks for WAL it lacks: every other follower whose status object is on
     * {@code timeline}, candidate or not, fresh or not — a manual follower, or one whose status
     * writes fail, may hold acknowledged commits; an unreachable one is skipped by the promotion.
     */
    static List<String> peers(List<FollowerStatus> all, String self, int timeline) {
        return all.stream().filter(s -> !s.nodeId().equals(self) && s.timeline() == timeline && !s.httpUrl().isBlank())
                .map(FollowerStatus::httpUrl).distinct().toList();
    }

    /** Logs, once per node until it is no longer so, a status object written in the future (it takes no part). */
    private void logFuture(List<FollowerStatus> all, int timeline, long wallMicros, long aheadMicros) {
        for (FollowerStatus s : all) {
            if (s.nodeId().equals(nodeId) || s.timeline() != timeline) {
                continue;
            }
            if (!future(s, wallMicros, aheadMicros)) {
                inTheFuture.remove(s.nodeId());
            } else if (inTheFuture.add(s.nodeId())) {
                LOG.warn("ignoring the status of {} in elections: written at {} µs, {} ms after this clock (more than the"
                                + " skew margin {} ms); its clock or its object is wrong", s.nodeId(), s.writtenAtMicros(),
                        (s.writtenAtMicros() - wallMicros) / 1000, aheadMicros / 1000);
            }
        }
    }

    /** The election's winner: the highest flushed LSN, ties to the smallest node id; {@code passedOver} excluded. */
    static Optional<FollowerStatus> winner(List<FollowerStatus> candidates, Set<String> passedOver) {
        return candidates.stream().filter(s -> !passedOver.contains(s.nodeId()))
                .max(Comparator.comparingLong(FollowerStatus::flushed)
                        .thenComparing(FollowerStatus::nodeId, Comparator.reverseOrder()));
    }

    private static String describe(List<FollowerStatus> candidates) {
        StringBuilder b = new StringBuilder("[");
        for (FollowerStatus s : candidates) {
            b.append(b.length() > 1 ? ", " : "").append(s.nodeId()).append('@').append(s.flushedLsn());
        }
        return b.append(']').toString();
    }

    private FollowerStatus current() {
        Store s = live.store();
        return new FollowerStatus(FollowerStatus.FORMAT_VERSION, nodeId, s.timeline(), Lsn.format(s.durableLsn()),
                httpUrl.get(), replUrl.get(), clock.wallMicros(), candidate ? FollowerStatus.AUTO : FollowerStatus.MANUAL);
    }

    /** Writes the status object if it changed (at most once per interval), if stale, or if {@code now} asks. */
    private void publishIfDue(long nowNanos, boolean force) {
        FollowerStatus next = current();
        boolean changed = published == null || published.timeline() != next.timeline()
                || !published.flushedLsn().equals(next.flushedLsn()) || !published.httpUrl().equals(next.httpUrl())
                || !published.replUrl().equals(next.replUrl());
        long since = nowNanos - publishedAtNanos;
        boolean due = published == null || (changed && since >= options.statusInterval().toNanos())
                || since >= options.refresh().toNanos() || (force && changed);
        if (!due || next.httpUrl().isBlank()) {
            return;
        }
        try {
            FollowerStatus.publish(archive, next);
            published = next;
            publishedAtNanos = nowNanos;
            statusWrites.incrementAndGet();
        } catch (RuntimeException e) {
            statusFailures.incrementAndGet();
            LOG.warn("writing {} failed: {}", FollowerStatus.key(nodeId), Errors.oneLine(e));
        }
    }

    private void event(String what, boolean error) {
        lastEvent = what;
        if (error) {
            LOG.error("failover: {}", what);
        } else {
            LOG.info("failover: {}", what);
        }
    }

    /** The {@code failover} part of {@code /status}. */
    StatusResponse.Failover status() {
        return new StatusResponse.Failover("auto", state.name(), options.heartbeatTimeout().toString(),
                state == State.LEADER ? 0 : silentMs, winner, lastEvent, elections.get(), promotions.get(),
                promoted.get(), statusWrites.get());
    }

    /** The failover lines of {@code /metrics} (Prometheus text). */
    String metrics() {
        StringBuilder b = new StringBuilder();
        gauge(b, "walship_failover_state", "Automatic failover state: 0 following, 1 leader silent, 2 waiting for"
                + " the winner, 3 promoting, 4 leader, 5 stopped", state.ordinal());
        gauge(b, "walship_failover_leader_silent_seconds", "Time since the leader last sent a frame",
                state == State.LEADER ? 0 : silentMs / 1000.0);
        counter(b, "walship_failover_elections_total", "Elections this follower ran", elections.get());
        counter(b, "walship_failover_promotions_total", "Automatic promotions this follower attempted", promotions.get());
        counter(b, "walship_failover_promoted_total", "Automatic promotions that succeeded", promoted.get());
        counter(b, "walship_failover_status_writes_total", "Status objects written to the archive", statusWrites.get());
        counter(b, "walship_failover_status_write_failures_total", "Status object writes that failed",
                statusFailures.get());
        return b.toString();
    }

    private static void gauge(StringBuilder b, String name, String help, double v) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n').append("# TYPE ").append(name)
                .append(" gauge\n").append(name).append(' ').append(v).append('\n');
    }

    private static void counter(StringBuilder b, String name, String help, long v) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n').append("# TYPE ").append(name)
                .append(" counter\n").append(name).append(' ').append(v).append('\n');
    }

    private static Duration max(Duration a, Duration b) {
        return a.compareTo(b) >= 0 ? a : b;
    }

    @Override
    public void close() {
        timer.shutdownNow();
        try {
            timer.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
