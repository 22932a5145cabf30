package io.walship.scheduler;

import java.util.ArrayList;
import java.util.List;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;

import io.walship.archive.ArchiveListing;
import io.walship.archive.BackupManifest;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.restorer.ArchiveVerifier;
import io.walship.restorer.Restore;
import io.walship.restorer.RestorePlan;
import io.walship.restorer.RestoreTarget;
import io.walship.shipper.LeaderClient;
import io.walship.shipper.ShipLoop;
import io.walship.shipper.ShipLoops;
import io.walship.shipper.WalShipper;
import io.walship.wal.FileTrees;
import io.walship.wal.Lsn;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import io.walship.wal.WalshipException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The jobs of one database, exactly what the CLI runs: ship the WAL (the same {@link ShipLoop} as
 * {@code walship ship --interval}), take a base backup, apply retention, run a restore drill.
 * Every position comes from the archive, so a job killed at any point is simply run again. Each
 * Quartz job method is called by one thread at a time per job kind (Quartz never overlaps a job
 * with itself); different kinds and the ship loop may run concurrently, which the archive
 * tolerates (objects are immutable, creation is atomic).
 */
public final class ArchiveJobs implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ArchiveJobs.class);

    /** What a run did: bytes moved and a one-line summary. */
    public record Outcome(long bytes, String summary) {
    }

    private final SchedulerConfig.Database db;
    private final ObjectStore archive;
    /** Retention deletes what a drill is reading: the two never run at once for one database. */
    private final Object readersVersusRetention = new Object();
    private volatile ShipLoop shipping;
    private volatile ShipLoops loops;
    private final List<ShipLoops.Target> targets;

    /** Opens the database's archive and checks that it is usable; the scheduler does not start if not. */
    public ArchiveJobs(SchedulerConfig.Database db) {
        this(db, io.walship.archive.UploadLimit.NONE);
    }

    /** As {@link #ArchiveJobs(SchedulerConfig.Database)}, its uploads under {@code limit} (shared by the process). */
    public ArchiveJobs(SchedulerConfig.Database db, io.walship.archive.UploadLimit limit) {
        this.db = db;
        io.walship.archive.EncryptionKeys keys = db.encryptionKeys(); // one set for all its archives
        this.archive = ObjectStores.openVerified(db.primaryArchive(), limit, keys);
        List<ShipLoops.Target> t = new ArrayList<>();
        t.add(new ShipLoops.Target(archive, true));
        try {
            // the others are opened without a request: a down one delays nothing, its ship job shows it failing
            for (String u : db.requiredArchives().subList(1, db.requiredArchives().size())) {
                t.add(new ShipLoops.Target(ObjectStores.open(io.walship.archive.ArchiveUri.parse(u), limit, keys), true));
            }
            for (String u : db.optionalArchiveList()) {
                t.add(new ShipLoops.Target(ObjectStores.open(io.walship.archive.ArchiveUri.parse(u), limit, keys), false));
            }
        } catch (RuntimeException e) {
            t.forEach(x -> x.store().close());
            throw e;
        }
        this.targets = List.copyOf(t);
    }

    /** Every archive shipped to, the primary first. */
    public List<ShipLoops.Target> targets() {
        return targets;
    }

    /** Each archive's ship loop, the primary first; empty if this database does not ship. */
    public List<ShipLoop> shipLoops() {
        ShipLoops l = loops;
        return l == null ? List.of() : l.loops();
    }

    public String name() {
        return db.name();
    }

    public ObjectStore archive() {
        return archive;
    }

    /**
     * Starts shipping the WAL every {@code ship.interval}; the loop holds {@code DATA/ship.lock}
     * until {@link #close}, which ships a last time.
     */
    public synchronized void startShipping(ShipLoop.Listener listener) {
        startShipping(t -> listener);
    }

    /**
     * Starts shipping the WAL to every archive, each on its own loop ({@link ShipLoops}); each loop
     * holds its {@code DATA/ship.ID.lock} until {@link #close}, which ships a last time on all at once.
     */
    public synchronized void startShipping(java.util.function.Function<ShipLoops.Target, ShipLoop.Listener> listener) {
        SchedulerConfig.Ship cfg = SchedulerConfig.jobsOf(db).ship();
        loops = ShipLoops.open(Path.of(db.data()), targets, cfg.options(), cfg.intervalDuration(), listener,
                ShipLoop.Gate.OPEN).start();
        shipping = loops.primary();
    }

    /** What the ship loop knows of the archive's lag; unknown (all -1) if this database does not ship. */
    public ShipLoop.Status shipping() {
        ShipLoop s = shipping;
        return s != null ? s.status() : new ShipLoop.Status(archive.describe(), -1, -1, -1, null);
    }

    /** Takes a base backup ({@code walship backup}) from {@link SchedulerConfig.Database#backupSource}. */
    public Outcome backup() throws Exception {
        SchedulerConfig.Backup cfg = SchedulerConfig.jobsOf(db).backup();
        BackupManifest m = db.backupSource().backup(archive, cfg.codecValue(), total -> done -> { }, cfg.policy());
        return new Outcome(m.objectBytes(), (m.incremental() ? "incremental base backup at LSN " + m.lsn() + " on "
                + m.parent().name().dir() + " (" + m.incrementalPages() + " of " + m.pageCount() + " pages, "
                : "base backup at LSN " + m.lsn() + " (") + m.objectBytes() + " bytes)");
    }

    /** Applies the retention policy ({@code walship archive prune}). */
    public Outcome retention() {
        synchronized (readersVersusRetention) {
            return retentionLocked();
        }
    }

    private Outcome retentionLocked() {
        Retention.Plan plan = Retention.plan(archive, SchedulerConfig.jobsOf(db).retention().policy(), Instant.now());
        long bytes = Retention.apply(archive, plan, d -> LOG.info("{}: retention deleted {} ({} bytes): {}", db.name(),
                d.key(), d.bytes(), d.reason()));
        return new Outcome(bytes, "kept " + plan.keptBackups().size() + " backup(s), deleted " + plan.deletions().size()
                + " object(s)");
    }

    /**
     * A restore drill: checks the archive ({@code walship archive verify}), restores the newest
     * base backup and all WAL after it into a scratch directory and compares digests where one is
     * known — the leader's, if it is at the same LSN; and, when an older backup exists, a restore
     * from it to the newest backup's LSN against that backup's manifest (which proves the WAL
     * between them replays to the recorded state). The scratch directories are deleted.
     */
    public Outcome verify(Path scratchRoot) throws Exception {
        synchronized (readersVersusRetention) {
            return verifyLocked(scratchRoot);
        }
    }

    private Outcome verifyLocked(Path scratchRoot) throws Exception {
        boolean quick = SchedulerConfig.jobsOf(db).verify().quickValue();
        ArchiveVerifier.Report report = ArchiveVerifier.verify(archive, 2, quick, m -> { });
        if (!report.ok()) {
            throw new WalshipException("archive verify found " + report.problems().size() + " problem(s), first: "
                    + report.problems().get(0).describe());
        }
        Files.createDirectories(scratchRoot);
        Path dir = Files.createTempDirectory(scratchRoot, "drill-" + db.name() + "-");
        try {
            Restore.Result r = Restore.run(archive, dir.resolve("latest"), Restore.Options.defaults(), new Restore.Listener() { });
            StateDigest restored = digestOf(dir.resolve("latest"));
            String checked = "";
            if (db.url() != null) {
                StateDigest leader = new LeaderClient(db.url()).digest();
                if (leader.lsn() == restored.lsn()) {
                    if (!leader.equals(restored)) {
                        throw new WalshipException("restore drill: restored digest " + restored.sha256() + " at LSN "
                                + Lsn.format(restored.lsn()) + " differs from the leader's " + leader.sha256());
                    }
                    checked = ", equal to the leader's digest";
                }
            }
            ArchiveListing listing = ArchiveListing.of(archive);
            List<ArchiveListing.BackupInfo> onPath = RestorePlan.backupsOn(listing,
                    io.walship.archive.TimelineHistory.ancestry(r.followedTimeline(),
                            io.walship.archive.TimelineHistory.readAll(archive, listing)));
            List<io.walship.archive.TimelineHistory.Span> ancestry = io.walship.archive.TimelineHistory.ancestry(
                    r.followedTimeline(), io.walship.archive.TimelineHistory.readAll(archive, listing));
            ArchiveListing.BackupInfo newest = onPath.isEmpty() ? null : onPath.get(0);
            // the replay starts at the backup below the newest, if the WAL from it reaches the newest (the WAL after
            // a pinned backup may have been pruned: it is kept for itself, not for a point-in-time window)
            ArchiveListing.BackupInfo below = newest == null ? null : onPath.stream()
                    .filter(b -> b.name().lsn() < newest.name().lsn()).findFirst().orElse(null);
            boolean older = below != null
                    && RestorePlan.chain(listing, ancestry, below.name().lsn() + 1).end() >= newest.name().lsn();
            if (older) {
                BackupManifest m = RestorePlan.readManifest(archive, newest.name());
                Restore.run(archive, dir.resolve("replayed"), Restore.Options.defaults()
                        .withTarget(RestoreTarget.lsn(newest.name().lsn(), false)).withTimeline(r.followedTimeline())
                        .withBackupBelow(newest.name().lsn()), new Restore.Listener() { });
                StateDigest replayed = digestOf(dir.resolve("replayed"));
                if (!replayed.sha256().equals(m.digestSha256())) {
                    throw new WalshipException("restore drill: replaying WAL from an older backup to LSN " + m.lsn()
                            + " gives digest " + replayed.sha256() + ", but that LSN's backup manifest records "
                            + m.digestSha256());
                }
                checked += ", WAL replay to LSN " + m.lsn() + " matches its manifest's digest";
            }
            return new Outcome(r.backupObjectBytes() + r.walObjectBytes(), "restored LSN " + Lsn.format(r.lsn())
                    + " from " + r.backupKey() + checked + "; archive verify: " + report.segments() + " segments OK");
        } finally {
            FileTrees.deleteTree(dir);
        }
    }

    private static StateDigest digestOf(Path dir) {
        try (Store s = Store.open(dir)) {
            return s.digest();
        }
    }

    /**
     * Hands over the ship loops for closing (with other databases', {@link ShipLoops#closeAll}), so
     * {@link #close} does not wait for a hanging one a second time.
     */
    synchronized List<ShipLoop> takeShipLoops() {
        ShipLoops l = loops;
        loops = null;
        return l == null ? List.of() : l.loops();
    }

    @Override
    public synchronized void close() {
        if (loops != null) {
            loops.close();
        }
        for (ShipLoops.Target t : targets) {
            t.store().close();
        }
    }
}
