package io.walship.server;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

import io.walship.archive.LeaseKeeper;
import io.walship.archive.LeaseRecord;
import io.walship.protocol.BadInputException;
import io.walship.protocol.StatusResponse;
import io.walship.protocol.StatusResponse.Leader;
import io.walship.shipper.ShipLoop;
import io.walship.shipper.repl.AckTracker;
import io.walship.shipper.repl.ReplicationServer;
import io.walship.shipper.repl.SyncOptions;
import io.walship.wal.Durability;
import io.walship.wal.Errors;
import io.walship.wal.Lsn;
import io.walship.wal.Store;
import io.walship.wal.StoreStats;
import io.walship.wal.WalshipException;
import io.walship.wal.WriteBatch;

/**
 * The leader: a store open for writes (or a restored standby, which the store itself keeps to
 * reads), optionally with its WAL shipped by a {@link ShipLoop} in the same process. Writes are
 * timed into {@link LeaderMetrics}; {@code /status} includes the ship loop's view of the archive and,
 * with a {@link ReplicationServer}, every follower and slot.
 *
 * <p>Commit modes (README, "Commit modes"): a write commits durably on the store, then waits in
 * the replication endpoint's {@link AckTracker} for the follower acks its mode needs; reads wait
 * until the state they read is visible — durable here and acknowledged as the leader's mode needs
 * (MySQL's AFTER_SYNC) — so no reader sees a commit that could still be lost with the leader.
 *
 * <p><b>Fencing</b> (docs/OPERATIONS.md, "The leader lease"): with a {@link LeaseKeeper}, a write is
 * refused (503, nothing committed) unless the leader holds a valid lease, and after it committed it
 * is acknowledged only if the lease is still valid then; otherwise it is answered 503 saying that
 * it is committed on this node but not acknowledged. Reads go on: like a follower's, they may be
 * stale once another leader took over, and {@code /status} says so.
 *
 * <p>The node owns neither the store nor the ship loop: whoever opened them closes them, after the
 * API stopped. Thread-safe (the store and the loop are).
 */
public final class LeaderNode implements Node {
    private final Store store;
    private final ShipLoop shipping;
    private final ReplicationServer replication;
    private final LeaderMetrics metrics;
    private final AckTracker acks;
    private final SyncOptions sync;
    private final LeaseKeeper lease;
    private volatile String url;
    /**
     * Requests that may wait for follower acks at once ({@link #MAX_ACK_WAITS}): the rest of the
     * HTTP API's request threads (128 under Jetty, 64 under the JDK's server) stay free for {@code /status}, {@code /metrics} and reads that need no
     * wait, so a blocked leader can still say that it is blocked.
     */
    private final Semaphore ackWaits = new Semaphore(MAX_ACK_WAITS);
    static final int MAX_ACK_WAITS = 48;

    /** @param shipping the loop shipping this store's WAL, or null if this process ships none */
    public LeaderNode(Store store, ShipLoop shipping) {
        this(store, shipping, null);
    }

    /**
     * @param shipping    the loop shipping this store's WAL, or null if this process ships none
     * @param replication the replication endpoint serving followers ({@code --repl}), or null
     */
    public LeaderNode(Store store, ShipLoop shipping, ReplicationServer replication) {
        this(store, shipping, replication, null);
    }

    /**
     * @param lease the keeper of this leader's lease in the archive, which fences its writes; null
     *              for a leader without a lease
     */
    public LeaderNode(Store store, ShipLoop shipping, ReplicationServer replication, LeaseKeeper lease) {
        this.lease = lease;
        this.store = Objects.requireNonNull(store, "store");
        this.shipping = shipping;
        this.replication = replication;
        this.acks = replication == null ? null : replication.acks();
        this.sync = acks == null ? SyncOptions.async() : acks.options();
        this.metrics = new LeaderMetrics(store, replication, lease);
    }

    @Override
    public Store store() {
        return store;
    }

    @Override
    public long put(byte[] key, byte[] value, Durability durability) {
        return timed(() -> store.put(key, value, durability));
    }

    @Override
    public long delete(byte[] key, Durability durability) {
        return timed(() -> store.delete(key, durability));
    }

    @Override
    public long write(WriteBatch batch, Durability durability) {
        return timed(() -> store.write(batch, durability));
    }

    /** Runs a commit and records how long it took (a refused one is not recorded). */
    private long timed(LongSupplier commit) {
        fence(-1);
        long start = System.nanoTime();
        long lsn = commit.getAsLong();
        metrics.commitLatency().record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
        return lsn;
    }

    @Override
    public CommitWait commitWait(String requested, Durability durability) {
        SyncOptions.Mode mode = requested == null ? sync.mode()
                : SyncOptions.Mode.parse("?" + io.walship.protocol.Endpoints.SYNC + "=", requested);
        if (mode.compareTo(sync.mode()) > 0) {
            throw new BadInputException("sync=" + requested + " is stronger than this leader's --sync-mode "
                    + sync.mode().flag() + "; a write may ask only for the same or a weaker mode");
        }
        if (durability == Durability.ASYNC) {
            if (requested != null && mode != SyncOptions.Mode.ASYNC) {
                throw new BadInputException("sync=" + requested + " needs durability=durable: a commit not yet"
                        + " durable on the leader cannot wait for followers");
            }
            return new CommitWait(SyncOptions.Mode.ASYNC.flag(), 0);
        }
        if (sync.required(mode) > 0 && ackWaits.availablePermits() == 0) {
            throw new WriteRefusedException(tooManyWaiting("nothing was committed").getMessage(), null);
        }
        return new CommitWait(mode.flag(), sync.required(mode));
    }

    /**
     * {@link #commitWait} for a write already committed (its wait was made by a node without commit
     * modes): nothing may be refused any more, so a {@code ?sync=} stronger than this leader's mode,
     * or one that is not a mode, waits for this leader's mode (the safe side) instead of a 400.
     */
    private CommitWait decidedAfterCommit(CommitWait undecided) {
        if (undecided.durability() == Durability.ASYNC) {
            return new CommitWait(SyncOptions.Mode.ASYNC.flag(), 0); // never waits on a commit not yet durable
        }
        SyncOptions.Mode mode = sync.mode();
        if (undecided.requested() != null) {
            try {
                SyncOptions.Mode asked = SyncOptions.Mode.parse("?" + io.walship.protocol.Endpoints.SYNC + "=",
                        undecided.requested());
                if (asked.compareTo(mode) < 0) {
                    mode = asked;
                }
            } catch (BadInputException e) {
                // committed already: wait as this leader's mode asks
            }
        }
        return new CommitWait(mode.flag(), sync.required(mode));
    }

    private boolean fenced() {
        return lease != null && lease.refusal() != null;
    }

    /**
     * 503 unless this leader may acknowledge writes now (it holds its lease, or has none).
     * {@code committedLsn}: the commit this node already made, or -1 if nothing was committed yet (the
     * refusal's message is built only when there is one: this runs twice for every write).
     */
    private void fence(long committedLsn) {
        if (lease == null) {
            return;
        }
        String refusal = lease.refusal();
        if (refusal != null) {
            boolean committed = committedLsn >= 0;
            String what = committed ? "LSN " + Lsn.format(committedLsn) + " is committed on this node but not acknowledged"
                    : "nothing was committed";
            String message = "this leader does not acknowledge writes: " + refusal + "; " + what;
            if (committed) {
                throw new WalshipException(message);
            }
            Leader other = otherHolder();
            throw new WriteRefusedException(message, other == null ? null : other.url());
        }
    }

    /**
     * The node that holds this leader's lease now, as last read, if it is another node (another id,
     * or a newer timeline) and not this one: who leads instead. Null otherwise.
     */
    private Leader otherHolder() {
        LeaseRecord seen = lease.seen();
        if (seen == null || (seen.nodeId().equals(lease.holder().nodeId()) && seen.timeline() <= store.timeline())) {
            return null;
        }
        return new Leader(false, seen.httpUrl().isBlank() ? null : seen.httpUrl(),
                seen.replUrl().isBlank() ? null : seen.replUrl(), seen.timeline(), null, null);
    }

    @Override
    public String awaitCommit(long lsn, CommitWait wait) {
        if (wait.mode() == null) {
            // made by a node without commit modes — a follower this node was promoted from while the
            // write was under way (HttpApi asks before the commit, a SwitchingNode switched between):
            // the commit is this leader's, so it waits as this leader decides for what the write asked
            wait = decidedAfterCommit(wait);
        }
        String mode = awaitAcks(lsn, wait);
        fence(lsn);
        return mode;
    }

    private String awaitAcks(long lsn, CommitWait wait) {
        if (wait.required() == 0) {
            return wait.mode();
        }
        long start = System.nanoTime();
        AckTracker.Outcome o;
        if (!ackWaits.tryAcquire()) { // filled up since commitWait() looked
            throw tooManyWaiting("LSN " + Lsn.format(lsn) + " is durable on the leader, its follower acks unknown");
        }
        try {
            // a leader whose lease lapsed has ended its followers' sessions: no ack can come, so the
            // wait ends there and fence() below answers 503 (committed here, not acknowledged)
            // (if the lease came back by the time fence() looks, the wait goes on)
            while ((o = acks.await(lsn, wait.required(), this::fenced)) == null) {
                fence(lsn);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new WalshipException("interrupted while LSN " + Lsn.format(lsn) + " (durable on the leader) waited"
                    + " for follower acks");
        } finally {
            ackWaits.release();
        }
        if (o == AckTracker.Outcome.DEGRADED) {
            return "degraded";
        }
        recordSyncAcked(lsn);
        metrics.ackLatency().record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
        return wait.mode();
    }

    /** The highest LSN acknowledged in a sync mode that waits to be recorded (-1: none). */
    private final java.util.concurrent.atomic.AtomicLong syncAckedPending = new java.util.concurrent.atomic.AtomicLong(-1);
    /** The highest LSN recorded in the store's sync-acked mark by this node (-1: none yet). */
    private long syncAckedRecorded = -1;

    /**
     * Records {@code lsn}, acknowledged by followers in a sync mode, in the store's sync-acked mark
     * before the commit is answered: a rejoin of this node after a failover refuses to discard it
     * (docs/OPERATIONS.md, "Rejoin"). Commits acknowledged meanwhile share one write.
     */
    private void recordSyncAcked(long lsn) {
        syncAckedPending.accumulateAndGet(lsn, Math::max);
        synchronized (syncAckedPending) {
            long upTo = syncAckedPending.get();
            if (upTo > syncAckedRecorded) {
                try {
                    store.marks().setSyncAcked(upTo);
                } catch (java.io.UncheckedIOException e) {
                    // the disk under the marks failed (full, read-only, broken): the commit stands, its
                    // answer says so (503, like every failed storage step), not a bug's 500
                    throw new WalshipException("LSN " + Lsn.format(lsn) + " is committed and acknowledged by"
                            + " followers, but recording it in marks/sync-acked failed: "
                            + Errors.oneLine(e), e);
                }
                syncAckedRecorded = upTo;
            }
        }
    }

    /**
     * Waits until {@code readLsn} — the newest commit the read's answer depends on, not the
     * newest commit of the store — is visible: durable on the store and, in a sync mode,
     * acknowledged by as many followers as the leader's mode needs (or the leader degraded); with
     * block, as long as that takes. A read of pages no unacknowledged commit touched answers at
     * once. The answer carries the commit point (never an LSN still waiting), or {@code readLsn}
     * if that is higher.
     */
    @Override
    public long awaitVisible(long readLsn, long stateLsn) {
        if (visibleLsn() < readLsn) {
            while (!store.awaitDurable(readLsn, Duration.ofSeconds(1))) {
                store.failure().ifPresent(f -> {
                    throw f;
                });
            }
            if (acks != null && sync.required() > 0 && acks.visibleLsn() < readLsn) {
                if (!ackWaits.tryAcquire()) {
                    throw tooManyWaiting("the read waits for what it read to be acknowledged");
                }
                try {
                    // a fenced leader's followers are gone: nothing it has not had acknowledged becomes visible
                    while (acks.await(readLsn, sync.required(), this::fenced) == null) {
                        String refusal = lease.refusal();
                        if (refusal != null) {
                            throw new WalshipException("this leader does not acknowledge writes: " + refusal
                                    + "; what the read touched (LSN " + Lsn.format(readLsn) + ") is not acknowledged by"
                                    + " followers");
                        }
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new WalshipException("interrupted while a read waited for what it read to be acknowledged"
                            + " by followers");
                } finally {
                    ackWaits.release();
                }
            }
        }
        return Math.max(readLsn, Math.min(visibleLsn(), stateLsn));
    }

    /**
     * The commit point: the highest LSN readers on this leader may see — durable, and acknowledged
     * as the mode needs ({@link AckTracker#visibleLsn}); never goes back.
     */
    long visibleLsn() {
        // before any follower acked anything (a fresh start, a restart, a promotion) the tracker
        // says -1, which would print as FFFFFFFFFFFFFFFF, the highest LSN there is: 0 says what is
        // true — nothing is visible yet
        return acks == null ? store.durableLsn() : Math.max(0, acks.visibleLsn());
    }

    @Override
    public long shownLsn() {
        return visibleLsn();
    }

    /** 503: {@link #MAX_ACK_WAITS} requests already hold HTTP threads waiting for follower acks. */
    private WalshipException tooManyWaiting(String what) {
        return new WalshipException(MAX_ACK_WAITS + " requests already wait for follower acks (" + sync + "; see"
                + " /status sync.blocked); " + what + "; try again later");
    }

    /** Ends every wait for follower acks (answered 503): the API is stopping. */
    public void stopWaiting() {
        if (acks != null) {
            acks.close();
        }
    }

    /** Every archive this process ships the store's WAL to, the primary first (it is {@code shipping}). */
    private volatile List<ShipLoop> archives = List.of();

    /**
     * Shows each of {@code loops} in /status ({@code archives}) and /metrics; the first should be
     * the {@code shipping} loop given at construction (the primary). Call once, before serving.
     */
    public void archives(List<ShipLoop> loops) {
        this.archives = List.copyOf(loops);
        metrics.archives(this.archives);
    }

    private static List<StatusResponse.ArchiveShipping> archiveList(List<ShipLoop> loops) {
        List<StatusResponse.ArchiveShipping> out = new ArrayList<>();
        for (ShipLoop l : loops) {
            ShipLoop.Status a = l.status();
            out.add(new StatusResponse.ArchiveShipping(a.id(), a.archive(), a.required(),
                    a.archivedUpTo() < 0 ? null : Lsn.format(a.archivedUpTo()), a.lagLsns(), a.lagSeconds(),
                    a.failing(), a.lastError()));
        }
        return out;
    }

    @Override
    public StatusResponse status() {
        StatusResponse.Archive archive = null;
        Double lagSeconds = null;
        if (shipping != null) {
            ShipLoop.Status a = shipping.status();
            archive = new StatusResponse.Archive(a.archive(), a.archivedUpTo() < 0 ? null : Lsn.format(a.archivedUpTo()),
                    a.lastError());
            lagSeconds = a.lagSeconds() < 0 ? null : a.lagSeconds();
        }
        List<StatusResponse.Replication> followers = null;
        List<StatusResponse.Slot> slots = null;
        if (replication != null) {
            followers = new ArrayList<>();
            for (ReplicationServer.SessionInfo f : replication.sessions()) {
                followers.add(new StatusResponse.Replication(f.nodeId(), f.slot(), f.remote(), f.state(),
                        Lsn.format(f.sentLsn()), Lsn.format(f.writeLsn()), Lsn.format(f.flushLsn()),
                        Lsn.format(f.replayLsn()), f.writeLagMs(), f.flushLagMs(), f.replayLagMs()));
            }
            slots = new ArrayList<>();
            for (ReplicationServer.SlotInfo s : replication.slotList()) {
                slots.add(new StatusResponse.Slot(s.name(), Lsn.format(s.restartLsn()), s.lost(), s.retainedBytes(),
                        s.active()));
            }
        }
        StatusResponse base = statusOf(store, store.standby() ? "standby" : "leader", archive, lagSeconds);
        return new StatusResponse(base.role(), base.systemId(), base.timeline(), base.lastLsn(), base.durableLsn(),
                base.checkpointLsn(), base.dataDir(), base.archiveLag(), base.archive(), base.pageCache(),
                base.failed(), base.failure(), followers, slots, null, acks == null ? null : syncStatus(),
                lease == null ? null : leaseStatus(lease)).withLeader(leaderStatus())
                .withArchives(archives.isEmpty() ? null : archiveList(archives));
    }

    /**
     * Who leads, as this node knows it: another node if the lease says it holds it, else this node,
     * with its timeline, whether it acknowledges writes now and its lease's state.
     */
    private StatusResponse.Leader leaderStatus() {
        if (store.standby()) {
            return null; // a restored copy not yet promoted leads nothing and knows no leader
        }
        if (lease != null) {
            LeaseKeeper.Status ls = lease.status();
            if (!ls.writable()) {
                Leader other = otherHolder();
                if (other != null) {
                    return other;
                }
            }
            String own = lease.holder().httpUrl();
            return new Leader(true, own.isBlank() ? url : own, replAddress(), store.timeline(),
                    ls.writable() && store.failure().isEmpty(), ls.state().name());
        }
        return new Leader(true, url, replAddress(), store.timeline(), store.failure().isEmpty(), null);
    }

    private String replAddress() {
        if (lease != null && !lease.holder().replUrl().isBlank()) {
            return lease.holder().replUrl();
        }
        return replication == null ? null : new io.walship.protocol.HostPort(replication.address().getHostString(), replication.address().getPort()).toString();
    }

    /**
     * This leader's HTTP URL ({@code http(s)://HOST:PORT}), named in {@code /status} when its lease
     * does not name it (a leader without a lease); set once its API listens.
     */
    public void url(String url) {
        this.url = url;
    }

    /** The lease part of {@code /status}. */
    static StatusResponse.Lease leaseStatus(LeaseKeeper lease) {
        LeaseKeeper.Status s = lease.status();
        String expires = s.expiresAtMicros() == 0 ? null : java.time.Instant.ofEpochSecond(
                Math.floorDiv(s.expiresAtMicros(), 1_000_000L), Math.floorMod(s.expiresAtMicros(), 1_000_000L) * 1000L)
                .toString();
        return new StatusResponse.Lease(s.state().name(), s.writable(), s.holder(), s.term(), expires,
                s.validForMillis(), s.reason(), lease.ttl().toString(), lease.skewMargin().toString(), s.renewals(),
                s.renewalFailures(), s.fencings());
    }

    private StatusResponse.Sync syncStatus() {
        AckTracker.Status s = acks.status();
        List<String> names = new ArrayList<>();
        for (AckTracker.SyncFollower f : s.synchronous()) {
            names.add(f.name());
        }
        SyncOptions o = s.options();
        return new StatusResponse.Sync(o.mode().flag(), o.required(), o.timeout().toString(), o.onTimeout().flag(),
                names, s.waiting(), s.ackedLsn() < 0 ? null : Lsn.format(s.ackedLsn()), Lsn.format(visibleLsn()),
                s.blocked(), s.blockedForMs(), s.blocks(), s.degraded(), s.degradations(),
                s.degradedUntilLsn() < 0 ? null : Lsn.format(s.degradedUntilLsn()));
    }

    /**
     * The {@code /status} answer for {@code store} in {@code role}: its LSNs, the one archive lag
     * figure (the store's, plus {@code lagSeconds} if this process ships), the page cache and
     * whether the store has failed.
     */
    static StatusResponse statusOf(Store store, String role, StatusResponse.Archive archive, Double lagSeconds) {
        StoreStats s = store.stats();
        StatusResponse.PageCache cache = new StatusResponse.PageCache(s.poolCapacityBytes(), s.poolBytes(),
                s.poolDirtyPages(), s.poolHits(), s.poolMisses(), s.poolHitRatio(), s.evictions());
        String failure = store.failure().map(Errors::oneLine).orElse(null);
        return new StatusResponse(role, Long.toHexString(store.systemId()), store.timeline(),
                Lsn.format(s.lastLsn()), Lsn.format(s.durableLsn()), Lsn.format(s.checkpointLsn()),
                store.dir().toString(), new StatusResponse.ArchiveLag(s.archiveLagBytes(), s.archiveLagLsns(), lagSeconds),
                archive, cache, failure != null, failure);
    }

    @Override
    public String metrics() {
        return metrics.scrape();
    }
}
