package io.walship.cli;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import javax.net.SocketFactory;
import javax.net.ssl.SSLContext;

import io.walship.archive.ArchiveListing;
import io.walship.archive.LeaderLease;
import io.walship.archive.LeaseClock;
import io.walship.archive.LeaseKeeper;
import io.walship.archive.LeaseRecord;
import io.walship.archive.ObjectStore;
import io.walship.archive.TimelineHistory;
import io.walship.protocol.Endpoints;
import io.walship.protocol.HostPort;
import io.walship.protocol.Json;
import io.walship.protocol.PromoteResponse;
import io.walship.protocol.StatusResponse;
import io.walship.protocol.WalStream;
import io.walship.restorer.Promotion;
import io.walship.restorer.follow.FollowerLoop;
import io.walship.server.ConflictException;
import io.walship.server.FollowerNode;
import io.walship.server.LeaderNode;
import io.walship.server.SwitchingNode;
import io.walship.shipper.ShipLoop;
import io.walship.shipper.ShipLoops;
import io.walship.shipper.WalShipper;
import io.walship.shipper.repl.ReplicationOptions;
import io.walship.shipper.repl.ReplicationServer;
import io.walship.shipper.repl.SyncOptions;
import io.walship.wal.ControlFile;
import io.walship.wal.Durability;
import io.walship.wal.EntryCodec;
import io.walship.wal.Errors;
import io.walship.wal.Lsn;
import io.walship.wal.Store;
import io.walship.wal.StoreOptions;
import io.walship.wal.WalEntry;
import io.walship.wal.WalshipException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running follower ({@code walship follow}) that {@code POST /promote} turns into the leader in
 * the same process (docs/OPERATIONS.md, "Failover"): it owns the store, the follower loop, the
 * replication server (cascading, then the leader's) and, once promoted, the ship loop and the
 * keeper of the leader lease. With an archive, its follower loop also looks for the leader where
 * the archive's lease says it is ({@link #leaseSource}).
 *
 * <p>Promotion, in order: stop following (the loop closes its connection; what it applied is
 * durable); ask the peers for their position and fetch, from the most advanced one ahead of this
 * node, the entries it lacks ({@code GET /wal}), applying them like streamed ones — or refuse naming
 * it, unless forced; take the leader lease on the old timeline, waiting for a dead leader's to
 * expire or refusing a live leader's ({@link PromotionLease}); renew it; claim the next timeline in the
 * archive that no other live promotion took, passing over offline promotions' claims ({@link Promotion#claimNext})
 * — a lost race refuses (releasing the lease) and the node goes on following. Only then, past the point of no return: stop
 * the cascading server, close the store, mark it promoted, reopen it for writes, take the lease on the
 * new timeline (it fences writes and shipping from then on), start shipping the new timeline, serve followers on it (and on its ancestors, so the old leader's followers can
 * switch) in the commit mode it was started with ({@code --sync-mode}, as a leader's), and hand the leader node to the {@link SwitchingNode}. A failure past that point is
 * {@link #fatal()}: the process exits 1, and {@code walship leader --data DIR} opens the promoted store.
 * So is a key error that stops the promoted node's ship loop: the process exits 2, as
 * {@code walship leader}'s does.
 */
final class LiveFollower implements SwitchingNode.Promoter, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(LiveFollower.class);

    /**
     * How the follower was started: what a promotion needs to become the leader. {@code unprotectedWrites}:
     * why this node may not take writes (an off-loopback --http without a token), or null. {@code sync}:
     * the commit mode it runs once promoted ({@code walship follow --sync-mode …}, as the leader's).
     * {@code archive} is the primary (bootstrap, catch-up, the lease, status objects, timeline claims);
     * {@code otherArchives}: the further {@code --archive}s and the {@code --optional-archive}s, shipped
     * to only once promoted (docs/OPERATIONS.md, "Several archives").
     */
    record Config(Path data, ObjectStore archive, FollowerLoop.Options loopOptions, SocketFactory leaderSockets,
                  SSLContext peerSsl, java.net.InetSocketAddress replAddress, ReplicationOptions cascadeOptions,
                  ReplicationOptions leaderOptions, Duration shipInterval, Duration readWait, Duration maxReplayLag,
                  String nodeId, String unprotectedWrites, Lease lease, SyncOptions sync,
                  List<ShipLoops.Target> otherArchives) {
        Config {
            java.util.Objects.requireNonNull(sync, "sync");
            if (sync.mode() != SyncOptions.Mode.ASYNC && replAddress == null) {
                throw new IllegalArgumentException("commit mode " + sync.mode().flag() + " needs a replication address");
            }
            otherArchives = List.copyOf(otherArchives);
            if (!otherArchives.isEmpty() && archive == null) {
                throw new IllegalArgumentException("further archives need a primary archive");
            }
        }

        /** A follower with one archive (or none). */
        Config(Path data, ObjectStore archive, FollowerLoop.Options loopOptions, SocketFactory leaderSockets,
               SSLContext peerSsl, java.net.InetSocketAddress replAddress, ReplicationOptions cascadeOptions,
               ReplicationOptions leaderOptions, Duration shipInterval, Duration readWait, Duration maxReplayLag,
               String nodeId, String unprotectedWrites, Lease lease, SyncOptions sync) {
            this(data, archive, loopOptions, leaderSockets, peerSsl, replAddress, cascadeOptions, leaderOptions,
                    shipInterval, readWait, maxReplayLag, nodeId, unprotectedWrites, lease, sync, List.of());
        }

        /** A follower that runs async once promoted. */
        Config(Path data, ObjectStore archive, FollowerLoop.Options loopOptions, SocketFactory leaderSockets,
               SSLContext peerSsl, java.net.InetSocketAddress replAddress, ReplicationOptions cascadeOptions,
               ReplicationOptions leaderOptions, Duration shipInterval, Duration readWait, Duration maxReplayLag,
               String nodeId, String unprotectedWrites, Lease lease) {
            this(data, archive, loopOptions, leaderSockets, peerSsl, replAddress, cascadeOptions, leaderOptions,
                    shipInterval, readWait, maxReplayLag, nodeId, unprotectedWrites, lease, SyncOptions.async());
        }
    }

    /**
     * The leader lease a promotion takes ({@code --node-id}, {@code --lease-ttl},
     * {@code --lease-skew-margin}, as {@code walship leader} has them); {@code maxWait}: how long a
     * promotion waits for another node's lease to expire ({@link PromotionLease}).
     */
    record Lease(String nodeId, Duration ttl, Duration skewMargin, LeaseClock clock, Duration maxWait,
                 PromotionLease.Sleeper sleeper) {
    }

    private final Config config;
    private volatile Store store;
    private volatile FollowerLoop loop;
    private volatile ReplicationServer replication;
    private volatile ShipLoop shipping;
    /** Every ship loop of the promoted node ({@link #shipping} alone, or the {@link ShipLoops} of several archives). */
    private volatile AutoCloseable allShipping;
    private volatile LeaseKeeper leaseKeeper;
    /** This node's HTTP URL once its API listens ({@link #httpUrl(String)}): written into the lease. */
    private volatile String httpUrl = "";
    private volatile LeaderNode leader;
    private volatile Throwable fatal;
    /** Where the replication server listens (the port the system chose, with port 0), kept across the switch. */
    private volatile InetSocketAddress boundRepl;

    LiveFollower(Config config, Store store) {
        this.config = config;
        this.store = store;
    }

    private volatile boolean leadersOnly;

    /** Every follower loop of this node streams from leaders only ({@link FollowerLoop#leadersOnly}); before {@link #start}. */
    void leadersOnly() {
        this.leadersOnly = true;
    }

    /** Starts the cascading server (with --repl) and the follower loop. */
    LiveFollower start() throws IOException {
        if (config.replAddress() != null) {
            replication = new ReplicationServer(store, config.replAddress(), config.cascadeOptions()).start();
            boundRepl = replication.address();
        }
        follow();
        return this;
    }

    private void follow() {
        FollowerLoop l = config.leaderSockets() == null
                ? new FollowerLoop(store, config.archive(), config.loopOptions())
                : new FollowerLoop(store, config.archive(), config.loopOptions(), config.leaderSockets(), Clock.systemUTC());
        if (config.archive() != null) {
            l.withLeaderSource(leaseSource(config.archive()));
        }
        if (leadersOnly) {
            l.leadersOnly();
        }
        loop = l;
        l.start();
    }

    /**
     * Where the lease in {@code archive} says the leader serves followers (its {@code replUrl}), asked
     * before every connection: after a promotion the followers find the new leader there even if it
     * is not in their {@code --leader} list (docs/OPERATIONS.md, "Failover").
     */
    static FollowerLoop.LeaderSource leaseSource(ObjectStore archive) {
        return () -> {
            Optional<LeaseRecord> l = LeaderLease.current(archive);
            if (l.isEmpty() || l.get().replUrl().isBlank()) {
                return List.of();
            }
            return List.of(HostPort.parse(l.get().replUrl()));
        };
    }

    /** This node's HTTP URL (scheme://host:port), once its API listens: the lease names it after a promotion. */
    void httpUrl(String url) {
        this.httpUrl = url == null ? "" : url;
    }

    /** This node's HTTP URL ("" until its API listens). */
    String httpUrl() {
        return httpUrl;
    }

    /** The node served before any promotion. */
    FollowerNode followerNode() {
        return new FollowerNode(store, () -> loop.status(), config.readWait(), config.maxReplayLag());
    }

    Store store() {
        return store;
    }

    FollowerLoop loop() {
        return loop;
    }

    ReplicationServer replication() {
        return replication;
    }

    boolean promoted() {
        return leader != null;
    }

    /** A failure after the point of no return of a promotion (the process must exit), or null. */
    Throwable fatal() {
        return fatal;
    }

    /** How long a promotion waits for the follower loop to stop, beyond {@link FollowerLoop#close}'s own wait. */
    static final Duration LOOP_STOP_WAIT = Duration.ofSeconds(120);

    private static boolean stopped(FollowerLoop l) {
        try {
            return l.awaitStopped(LOOP_STOP_WAIT);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    @Override
    public synchronized SwitchingNode.Result promote(boolean force, List<String> peers) {
        if (leader != null) {
            throw new ConflictException("this node is already the leader (timeline " + store.timeline() + ")");
        }
        FollowerLoop l = loop;
        l.close();
        if (!stopped(l)) {
            // still applying (stuck in a catch-up download, say): the fork LSN read now could be
            // passed by it, and a new loop must not run beside it (so none is started); the next
            // /promote waits for it again
            throw new ConflictException("the follower loop did not stop within " + LOOP_STOP_WAIT.toSeconds()
                    + " s (it is finishing a download or an apply); nothing was promoted and the node no longer follows:"
                    + " POST /promote again once it has stopped, or restart the follower");
        }
        if (l.failure() != null) {
            LOG.warn("promoting a follower whose loop had stopped: {}", Errors.oneLine(l.failure()));
        }
        int timeline = store.timeline();
        long fork;
        String fetchedFrom = null;
        long fetched = 0;
        int claimed;
        LeaderLease oldLease = null;
        try {
            if (config.unprotectedWrites() != null) {
                throw new ConflictException(config.unprotectedWrites());
            }
            if (config.archive() == null) {
                throw new ConflictException("this follower has no --archive in which to claim a timeline after " + timeline
                        + "; without the archive two promotions could both take it");
            }
            // the lease first, on the old timeline: a leader still alive must stop (or this refuses)
            // before the next timeline is claimed, and then cannot take it back. And before the peers
            // are asked: until its lease expires the old leader may go on acknowledging commits that
            // the peers flush, so what they hold is final only once this node holds the lease
            Lease lc = config.lease();
            oldLease = PromotionLease.take(config.archive(), new LeaseRecord.Holder(lc.nodeId(), httpUrl, replUrl()),
                    timeline, lc.ttl(), lc.skewMargin(), lc.clock(), lc.maxWait(), lc.sleeper());
            Peer best = bestPeer(peers.isEmpty() ? archivePeers(timeline) : peers, timeline, force);
            if (best != null && best.durable() > store.lastLsn()) {
                long before = store.lastLsn();
                String fetchFailed = null;
                try {
                    fetched = fetch(best);
                    fetchedFrom = best.url();
                } catch (IOException | RuntimeException e) {
                    if (!force) {
                        throw new ConflictException("peer " + best.url() + " holds WAL up to LSN " + Lsn.format(best.durable())
                                + " and this follower only up to " + Lsn.format(store.lastLsn()) + ", and fetching it"
                                + " failed (" + Errors.oneLine(e) + "); promote there, or pass force to lose it");
                    }
                    fetchFailed = Errors.oneLine(e);
                }
                if (store.lastLsn() < best.durable()) {
                    if (!force) {
                        throw new ConflictException("peer " + best.url() + " holds WAL up to LSN " + Lsn.format(best.durable())
                                + " but only " + Lsn.format(store.lastLsn()) + " could be fetched from it (from "
                                + Lsn.format(before) + "); promote there, or pass force to lose the rest");
                    }
                    // forced: what the peer holds past this store is lost to the new timeline, whether the fetch
                    // failed or its answer simply ended short (an older peer's cut stream looks whole)
                    LOG.warn("forced promotion: peer {} holds WAL up to LSN {}, this store only up to {} ({}): the rest is"
                            + " lost to the new timeline", best.url(), Lsn.format(best.durable()), Lsn.format(store.lastLsn()),
                            fetchFailed != null ? "fetching it failed: " + fetchFailed
                                    : "fetched " + (store.lastLsn() - before) + " entries, then the answer ended");
                }
            }
            catchUpFromArchive(timeline, force);
            fork = store.lastLsn();
            LeaderLease held = oldLease;
            try {
                // nothing renewed the lease on the old timeline while the peers were asked and fetched from: it is
                // renewed (compare-and-swap on the version this node wrote) before each claim the walk tries, so that
                // if it lapsed and another node took it since (the old leader back, another promotion, an
                // offline-promoted store now leading a timeline this claim would pass over) this promotion refuses
                // before it claims anything, however many offline claims it passes over
                claimed = Promotion.claimNext(config.archive(), timeline, fork, store.lastCommitMicros(),
                        "live promotion of " + config.nodeId() + " at LSN " + Lsn.format(fork), candidate -> {
                            try {
                                held.renew();
                            } catch (io.walship.archive.LeaseException e) {
                                throw new ConflictException("promotion refused: the leader lease on timeline " + timeline
                                        + " was taken by another node while this promotion asked its peers or claimed"
                                        + " a timeline (" + Errors.oneLine(e) + "); this node stays a follower");
                            }
                        });
                try {
                    // the data directory keeps its history, for every archive it will ship to (docs/FORMAT.md)
                    io.walship.shipper.LocalHistories.saveFrom(config.archive(), config.data(), claimed);
                } catch (RuntimeException e) {
                    // its shipper copies it from this archive later: the claim stands
                    LOG.warn("could not keep the history of timeline {} in {}: {}", claimed, config.data(),
                            Errors.oneLine(e));
                }
            } catch (Promotion.TimelineTakenException e) {
                throw new ConflictException(e.getMessage());
            }
        } catch (RuntimeException e) {
            if (oldLease != null) {
                oldLease.release(); // the winner of the timeline need not wait for it to expire
            }
            LOG.warn("promotion refused, following again: {}", Errors.oneLine(e));
            follow();
            throw e;
        }
        try {
            becomeLeader(claimed, timeline, fork);
        } catch (RuntimeException | IOException e) {
            fatal = e;
            LOG.error("timeline {} is claimed but this node could not start as its leader: {}; restart it with"
                    + " walship leader --data {} --archive … --node-id {}", claimed, Errors.oneLine(e), config.data(),
                    config.lease().nodeId());
            throw new WalshipException("timeline " + claimed + " is claimed but the node could not start as its leader: "
                    + Errors.oneLine(e) + "; restart it with walship leader --data " + config.data() + " --archive …"
                    + " --node-id " + config.lease().nodeId(), e);
        }
        LOG.info("promoted: leader on timeline {} (forked from timeline {} after LSN {}{}), commit mode {}", claimed,
                timeline, Lsn.format(fork), fetchedFrom == null ? "" : ", " + fetched + " entries fetched from "
                + fetchedFrom, config.sync());
        return new SwitchingNode.Result(leader, new PromoteResponse(claimed, timeline, Lsn.format(fork), fetchedFrom,
                fetched));
    }

    /**
     * Before the fork, with the lease on {@code timeline} held: replays what the primary archive holds of this
     * timeline past the store's end, as a PostgreSQL standby replays its restore_command's WAL before it ends
     * recovery. The old leader may have shipped WAL no follower received (async commits it acknowledged, a follower
     * that lagged); now that this node holds the lease the old leader starts no more uploads (one it began before its
     * lease lapsed may still land after this), and a fork before the archive's end would lose acknowledged writes.
     * Archived WAL of the timeline that cannot be replayed — past a gap, a damaged segment, one the archive will not
     * serve, one sealed with a key this node lacks — refuses the promotion unless {@code force} (then it is lost to
     * the new timeline, with a WARN). A failure to list the archive fails the promotion.
     */
    private void catchUpFromArchive(int timeline, boolean force) {
        long before = store.lastLsn();
        String unreadable = null;
        boolean keyMissing = false;
        try {
            io.walship.restorer.follow.ArchiveCatchUp.Result r = io.walship.restorer.follow.ArchiveCatchUp.run(
                    config.archive(), store, config.loopOptions().archiveParallel(), () -> false);
            if (r.entries() > 0) {
                LOG.info("promotion: replayed {} entries of timeline {} from the archive ({} segment(s)), LSN {} to {}:"
                        + " WAL the old leader shipped that no follower held", r.entries(), timeline, r.segments(),
                        Lsn.format(before), Lsn.format(store.lastLsn()));
            }
        } catch (io.walship.archive.EncryptionKeyException e) {
            unreadable = "this node's keys cannot open it: " + Errors.oneLine(e);
            keyMissing = true;
        } catch (io.walship.wal.IntegrityException | io.walship.archive.StorageException e) {
            // a segment damaged, or one the archive will not serve (403, gone since the listing): WAL that could not
            // be replayed; the listing below fails by itself if the archive cannot be read at all
            unreadable = "it cannot be read: " + Errors.oneLine(e);
        }
        long archived = ArchiveListing.of(config.archive()).lastArchivedLsn(timeline);
        if (archived > store.lastLsn()) {
            String what = "the archive holds WAL of timeline " + timeline + " to LSN " + Lsn.format(archived)
                    + " but only LSN " + Lsn.format(store.lastLsn()) + " could be replayed from it ("
                    + (unreadable != null ? unreadable : "a gap in the archive: walship verify names it") + ")";
            if (!force) {
                throw new ConflictException(what + "; promoting here would lose the rest: "
                        + (keyMissing ? "give this node the archive's key (--encryption-key-file)"
                        : "restore the missing or damaged WAL") + ", or pass force to lose it");
            }
            LOG.warn("forced promotion: {}; the rest is lost to the new timeline", what);
        } else if (unreadable != null) {
            LOG.warn("promotion: the archive catch-up stopped at LSN {} ({}); the archive holds nothing of timeline {}"
                    + " past it", Lsn.format(store.lastLsn()), unreadable, timeline);
        }
    }

    /**
     * Past the claim: reopen the store as the leader of {@code claimed} and serve it. The leader lease
     * (taken on the old timeline before the claim) is taken again on {@code claimed} by a
     * {@link LeaseKeeper} before the leader node answers any write, and fences the leader node (writes
     * 503 while it is not held) and the ship loop (nothing shipped), as {@code walship leader --archive}'s.
     */
    private void becomeLeader(int claimed, int parent, long fork) throws IOException {
        ReplicationServer cascade = replication;
        if (cascade != null) {
            cascade.close();
            replication = null;
        }
        store.close();
        Path dir = config.data();
        ControlFile.read(dir).promoted(claimed).write(dir);
        Store s = Store.open(dir, StoreOptions.defaults().withWalCompression(store.options().walCompression()));
        store = s;
        // the lease on the claimed timeline (this node's own, taken on the old one before the claim,
        // so normally at once): writes and shipping are fenced by it from here on, as a leader's are
        Lease lc = config.lease();
        LeaseKeeper keeper = LeaseKeeper.unstarted(config.archive(), new LeaseRecord.Holder(lc.nodeId(), "", ""), claimed,
                lc.ttl(), lc.skewMargin(), lc.clock());
        leaseKeeper = keeper;
        keeper.start(new LeaseRecord.Holder(lc.nodeId(), httpUrl, replUrl()));
        LeaseKeeper.Status ls = keeper.status();
        if (ls.writable()) {
            LOG.info("holding the leader lease on timeline {} (term {}, TTL {}, skew margin {})", claimed, ls.term(),
                    lc.ttl(), lc.skewMargin());
        } else {
            LOG.error("not taking writes yet: {}", ls.reason());
        }
        // a key error in the ship loop stops the process (exit 2), as it stops walship leader: a
        // leader that cannot archive must not go on serving as if it did
        ShipLoops several = null;
        if (config.otherArchives().isEmpty()) {
            java.util.concurrent.atomic.AtomicReference<ShipLoop> loopRef = new java.util.concurrent.atomic.AtomicReference<>();
            ShipLoop loop = new ShipLoop(dir, config.archive(), WalShipper.Options.defaults(), config.shipInterval(),
                    LeaderCommand.stopOnKeyError(loopRef::get, k -> fatal = k), keeper::refusal);
            loopRef.set(loop);
            shipping = loop.start();
            allShipping = loop;
        } else {
            // one loop per archive, all fenced by the lease, as walship leader's: a key error stops the
            // node for a required archive; an optional archive's failures are shown, never fatal
            List<ShipLoops.Target> targets = new ArrayList<>();
            targets.add(new ShipLoops.Target(config.archive(), true));
            targets.addAll(config.otherArchives());
            Map<ShipLoops.Target, ShipLoop> byTarget = new java.util.concurrent.ConcurrentHashMap<>();
            several = ShipLoops.open(dir, targets, WalShipper.Options.defaults(), config.shipInterval(),
                    t -> !t.required() ? ShipLoop.Listener.NONE
                            : LeaderCommand.stopOnKeyError(() -> byTarget.get(t), k -> fatal = k), keeper::refusal);
            for (int i = 0; i < targets.size(); i++) {
                byTarget.put(targets.get(i), several.loops().get(i));
            }
            allShipping = several;
            shipping = several.start().primary();
        }
        if (config.replAddress() != null) {
            Map<Integer, Long> ancestors = new HashMap<>(ancestors(config.archive(), claimed));
            ancestors.put(parent, fork);
            replication = new ReplicationServer(s, boundRepl, config.leaderOptions(), config.sync())
                    .withAncestors(ancestors).withGate(LeaderCommand.leaseGate(keeper)).start();
        }
        LeaderNode node = new LeaderNode(s, shipping, replication, keeper);
        if (several != null) {
            node.archives(several.loops());
        }
        leader = node;
    }

    /** HOST:PORT of the replication server, as the lease names it ("" without --repl). */
    String replUrl() {
        InetSocketAddress r = boundRepl;
        return r == null ? "" : new HostPort(r.getHostString(), r.getPort()).toString();
    }

    /** Timeline → fork LSN for every ancestor of {@code timeline} the archive's histories name. */
    static Map<Integer, Long> ancestors(ObjectStore archive, int timeline) {
        Map<Integer, Long> out = new HashMap<>();
        List<TimelineHistory.Span> spans = TimelineHistory.ancestry(timeline,
                TimelineHistory.readAll(archive, ArchiveListing.of(archive)));
        for (int i = 0; i < spans.size() - 1; i++) {
            out.put(spans.get(i).timeline(), spans.get(i).toLsn());
        }
        return out;
    }

    /**
     * The peers of a promotion given none ({@code walship promote --url} without {@code --peers}):
     * every other follower whose status object in the archive is on {@code timeline}
     * ({@link AutoFailover#peers}); none if the archive cannot be read now.
     */
    private List<String> archivePeers(int timeline) {
        try {
            List<String> skipped = new ArrayList<>();
            List<String> found = AutoFailover.peers(io.walship.archive.FollowerStatus.readAll(config.archive(), skipped),
                    config.nodeId(), timeline);
            skipped.forEach(k -> LOG.warn("ignoring an unreadable follower status: {}", k));
            if (!found.isEmpty()) {
                LOG.info("no peers given: asking the followers whose status the archive holds on timeline {}: {}",
                        timeline, found);
            }
            return found;
        } catch (RuntimeException e) {
            LOG.warn("no peers given and the followers' status objects cannot be read ({}); promoting without peers",
                    Errors.oneLine(e));
            return List.of();
        }
    }

    /** A peer follower's position, from its /status. */
    private record Peer(String url, long durable) {
    }

    /** How long a peer may take to answer {@code /status} (all are asked at once). */
    private static final Duration PEER_STATUS_TIMEOUT = Duration.ofSeconds(5);

    /**
     * The most advanced reachable peer on this node's timeline and system (null if none); all are
     * asked at once, so dead peers cost one timeout, not one each. A peer on a newer timeline means a
     * promotion already happened: refused. An unreachable peer, one that answers no valid status, and
     * one of another system (another cluster holds nothing of ours) are skipped, with a warning: none
     * holds anything this promotion could save.
     */
    private Peer bestPeer(List<String> peers, int timeline, boolean force) {
        List<java.util.concurrent.CompletableFuture<HttpResponse<byte[]>>> asked = new ArrayList<>();
        for (String url : peers) {
            try {
                asked.add(http().sendAsync(HttpRequest.newBuilder(URI.create(trim(url) + Endpoints.STATUS))
                        .timeout(PEER_STATUS_TIMEOUT).GET().build(), HttpResponse.BodyHandlers.ofByteArray()));
            } catch (RuntimeException e) {
                asked.add(java.util.concurrent.CompletableFuture.failedFuture(e));
            }
        }
        String ours = Long.toHexString(store.systemId());
        Peer best = null;
        for (int i = 0; i < peers.size(); i++) {
            String url = peers.get(i);
            StatusResponse st;
            long durable;
            try {
                HttpResponse<byte[]> r = asked.get(i).get();
                if (r.statusCode() != 200) {
                    throw new IOException("GET " + Endpoints.STATUS + " answered " + r.statusCode());
                }
                st = Json.read(r.body(), StatusResponse.class);
                if (st == null || st.systemId() == null || st.durableLsn() == null) {
                    throw new IOException("its " + Endpoints.STATUS + " names no system id or durable LSN");
                }
                durable = Lsn.parse(st.durableLsn());
                if (durable < 0 || st.timeline() < 1) {
                    // LSNs and timelines are positive (compared signed everywhere here): past that it is garbage
                    throw new IOException("its " + Endpoints.STATUS + " names durable LSN " + st.durableLsn()
                            + " and timeline " + st.timeline());
                }
            } catch (java.util.concurrent.ExecutionException e) {
                Throwable c = e.getCause() != null ? e.getCause() : e;
                LOG.warn("peer {} is not reachable ({}); promoting without it", url, Errors.oneLine(c));
                continue;
            } catch (IOException | RuntimeException e) {
                LOG.warn("peer {} answered no valid status ({}); promoting without it", url, Errors.oneLine(e));
                continue;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                asked.forEach(f -> f.cancel(true));
                throw new WalshipException("interrupted while asking peer " + url + " for its position");
            }
            if (!st.systemId().equals(ours)) {
                LOG.warn("peer {} belongs to another system (system id {}, ours {}); promoting without it", url,
                        st.systemId(), ours);
                continue;
            }
            if (st.timeline() != timeline) {
                if (st.timeline() > timeline && !force) {
                    throw new ConflictException("peer " + url + " is on timeline " + st.timeline() + ", newer than this"
                            + " follower's " + timeline + ": a promotion already happened; follow it instead");
                }
                LOG.warn("peer {} is on timeline {}, not {}: not asked for WAL", url, st.timeline(), timeline);
                continue;
            }
            LOG.info("peer {} ({}) holds WAL up to LSN {}", url, st.role(), Lsn.format(durable));
            if (best == null || durable > best.durable()) {
                best = new Peer(url, durable);
            }
        }
        return best;
    }

    /**
     * Fetches and applies the entries after this store's last LSN from {@code peer}, up to the durable
     * LSN its {@code /status} showed on this timeline; returns how many.
     */
    private long fetch(Peer peer) throws IOException {
        long from = store.lastLsn() + 1;
        HttpResponse<InputStream> r;
        try {
            HttpRequest.Builder req = HttpRequest.newBuilder(URI.create(trim(peer.url()) + Endpoints.WAL + "?"
                    + Endpoints.FROM + "=" + Lsn.format(from))).timeout(Duration.ofSeconds(60)).GET();
            String token = config.loopOptions().authToken();
            if (!token.isEmpty()) {
                req.header("Authorization", "Bearer " + token); // GET /wal needs the write token, as HELLO does
            }
            r = http().send(req.build(), HttpResponse.BodyHandlers.ofInputStream());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while fetching WAL from " + peer.url());
        }
        long applied = 0;
        IdleGuard guard = new IdleGuard(r.body(), fetchIdleTimeout, peer.url());
        try (guard; DataInputStream in = new DataInputStream(new BufferedInputStream(guard, 1 << 16))) {
            if (r.statusCode() != 200) {
                throw new IOException("GET " + Endpoints.WAL + " answered " + r.statusCode() + ": "
                        + new String(in.readNBytes(512), java.nio.charset.StandardCharsets.UTF_8).strip());
            }
            List<WalEntry> batch = new ArrayList<>();
            long batchBytes = 0;
            WalStream.Entry en;
            long expect = from;
            while ((en = WalStream.read(in)) != null) {
                if (en.lsn() > peer.durable()) {
                    // past what the peer's /status showed on this timeline: if it was promoted since, the
                    // rest is its new timeline's WAL, which must not enter this one (closing drops the rest)
                    break;
                }
                WalEntry e = EntryCodec.decode(en.bytes()); // CRC and format checked
                if (e.lsn() != en.lsn() || e.lsn() != expect) {
                    throw new IOException("peer " + peer.url() + " sent LSN " + Lsn.format(e.lsn()) + " where "
                            + Lsn.format(expect) + " belongs");
                }
                expect++;
                batch.add(e);
                batchBytes += en.bytes().length;
                if (batch.size() >= 1024 || batchBytes >= (16 << 20)) {
                    store.applyAll(batch, Durability.DURABLE);
                    applied += batch.size();
                    batch = new ArrayList<>();
                    batchBytes = 0;
                }
            }
            if (!batch.isEmpty()) {
                store.applyAll(batch, Durability.DURABLE);
                applied += batch.size();
            }
        }
        LOG.info("fetched {} entries from peer {}, now at LSN {}", applied, peer.url(), Lsn.format(store.lastLsn()));
        return applied;
    }

    /**
     * The longest a peer's {@code /wal} body may send nothing before the fetch gives up: the request
     * timeout ends at the headers, and a peer that stalls after them would hold the promotion (and keep
     * this node from following) for ever. Settable for tests.
     */
    volatile Duration fetchIdleTimeout = Duration.ofSeconds(30);

    /** A body that a watchdog closes when it sends nothing for {@code idle}; a read then fails naming the peer. */
    private static final class IdleGuard extends java.io.FilterInputStream {
        private static final java.util.concurrent.ScheduledExecutorService WATCHDOG =
                java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
                    Thread t = new Thread(r, "walship-fetch-watchdog");
                    t.setDaemon(true);
                    return t;
                });
        private final long idleNanos;
        private final String peer;
        private final java.util.concurrent.ScheduledFuture<?> check;
        private volatile long lastProgress = System.nanoTime();
        private volatile boolean timedOut;

        IdleGuard(InputStream in, Duration idle, String peer) {
            super(in);
            this.idleNanos = idle.toNanos();
            this.peer = peer;
            long every = Math.max(10, Math.min(1000, idle.toMillis() / 4));
            this.check = WATCHDOG.scheduleWithFixedDelay(this::check, every, every,
                    java.util.concurrent.TimeUnit.MILLISECONDS);
        }

        private void check() {
            if (!timedOut && System.nanoTime() - lastProgress > idleNanos) {
                timedOut = true;
                check.cancel(false);
                try {
                    in.close(); // unblocks a read waiting for the next bytes
                } catch (IOException | RuntimeException ignored) {
                    // the read that waits fails or ends either way; timedOut names why
                }
            }
        }

        private IOException timeout(Throwable cause) {
            return new IOException("peer " + peer + " sent nothing for " + idleNanos / 1_000_000 + " ms", cause);
        }

        /** After a read: a timeout (the watchdog closed the body, which may look like its end) or progress. */
        private int progress(int n) throws IOException {
            if (timedOut) {
                throw timeout(null);
            }
            lastProgress = System.nanoTime();
            return n;
        }

        @Override
        public int read() throws IOException {
            int b;
            try {
                b = super.read();
            } catch (IOException e) {
                throw timedOut ? timeout(e) : e;
            } catch (RuntimeException e) {
                if (timedOut) {
                    throw timeout(e);
                }
                throw e;
            }
            return progress(b);
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n;
            try {
                n = super.read(b, off, len);
            } catch (IOException e) {
                throw timedOut ? timeout(e) : e;
            } catch (RuntimeException e) {
                if (timedOut) {
                    throw timeout(e);
                }
                throw e;
            }
            return progress(n);
        }

        @Override
        public void close() throws IOException {
            check.cancel(false);
            super.close();
        }
    }

    /** The client of every call to a peer, made at the first (one per node: it keeps a thread and a pool). */
    private HttpClient peerClient;

    private synchronized HttpClient http() {
        if (peerClient == null) {
            HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5));
            if (config.peerSsl() != null) {
                b.sslContext(config.peerSsl());
            }
            peerClient = b.build();
        }
        return peerClient;
    }

    private static String trim(String url) {
        return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
    }

    /** Stops everything this node runs, the store last (the API is already closed). */
    @Override
    public synchronized void close() {
        LeaderNode l = leader;
        if (l != null) {
            l.stopWaiting();
        }
        closeQuietly(loop);
        closeQuietly(replication);
        closeQuietly(allShipping); // several archives: all at once, each ships a last time
        closeQuietly(leaseKeeper); // after the last shipment, which ran under the lease
        closeQuietly(store);
    }

    private static void closeQuietly(AutoCloseable c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (Exception e) {
            LOG.error("closing {}: {}", c.getClass().getSimpleName(), Errors.oneLine(e));
        }
    }

    InetSocketAddress replAddress() {
        ReplicationServer r = replication;
        return r == null ? null : r.address();
    }
}
