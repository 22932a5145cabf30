package io.walship.scheduler;

import static io.walship.scheduler.ArchiveFixture.backup;
import static io.walship.scheduler.ArchiveFixture.followerOf;
import static io.walship.scheduler.ArchiveFixture.ship;
import static io.walship.scheduler.ArchiveFixture.writes;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ArchiveListing;
import io.walship.archive.BackupPin;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.TimelineHistory;
import io.walship.restorer.ArchiveVerifier;
import io.walship.restorer.Promotion;
import io.walship.restorer.Restore;
import io.walship.restorer.RestoreTarget;
import io.walship.shipper.BackupType;
import io.walship.shipper.LocalHistories;
import io.walship.wal.ControlFile;
import io.walship.wal.Store;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.api.io.TempDir;

/**
 * review30: random deployments (seeded, printed) of the operations a normal deployment does: writes and shipping,
 * full and incremental backups, retention with changing policies, pins, failovers (restore --promote, walship
 * promote of a restored standby, a live promotion of a follower), PITR restore --promote drill copies never
 * written. After each step the oracle compares {@code archive verify} with what restores do: the default restore and
 * {@code --timeline T} of every timeline with WAL of its own that no timeline forks from. Verify OK while one of
 * those fails is a false OK; verify reporting a problem while all of them work (nothing here corrupts anything) is a
 * false alarm (exit 3 pages and skips the scheduler's drill). Its fixture (writes, backups, shipping, a follower's
 * copy) is {@link ArchiveFixture}'s.
 */
class VerifyOracleReview30Test {
    @TempDir
    Path tmp;

    private int dirs;
    private int guards;
    private final StringBuilder log = new StringBuilder();

    private ObjectStore b;
    private Random brnd;

    /** Ships to A, and to B once added (an optional archive: sometimes it lags a round). */
    private void shipAll(Path data, ObjectStore a) {
        ship(data, a);
        if (b != null && brnd.nextInt(4) != 0) {
            try {
                ship(data, b);
            } catch (RuntimeException e) {
                step("   ship to B refused: " + e.getMessage());
            }
        }
    }

    private Path fresh(String what) {
        return tmp.resolve(what + (dirs++));
    }

    @org.junit.jupiter.api.AfterEach
    void closeB() {
        if (b != null) {
            b.close();
        }
    }

    private void step(String s) {
        log.append(s).append('\n');
    }

    /** Seeds 1..N: {@code walship.oracle.seeds} (6 in the default suite, 30 under {@code -Pstress}; ~3 s each). */
    static java.util.stream.LongStream seeds() {
        return java.util.stream.LongStream.rangeClosed(1, Integer.getInteger("walship.oracle.seeds", 6));
    }

    @ParameterizedTest
    @org.junit.jupiter.params.provider.MethodSource("seeds")
    void verifyAgreesWithRestores(long seed) throws Exception {
        System.out.println("VerifyOracleReview30Test seed " + seed);
        Random rnd = new Random(seed);
        brnd = new Random(seed * 31);
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            Path live = fresh("leader");
            try (Store s = Store.open(live)) {
                writes(s, "init", 40, 30);
                backup(s, a);
            }
            shipAll(live, a);
            step("init: leader, full backup, ship");
            for (int i = 0; i < 30; i++) {
                int op = rnd.nextInt(10);
                switch (op) {
                    case 0, 1, 2 -> {
                        try (Store s = Store.open(live)) {
                            writes(s, "w" + i, 10 + rnd.nextInt(40), 30);
                        }
                        shipAll(live, a);
                        step(i + ": writes, ship");
                    }
                    case 3, 4 -> {
                        BackupType.Policy p = rnd.nextBoolean() ? BackupType.FULL.policy()
                                : new BackupType.Policy(BackupType.INCREMENTAL, 3);
                        try (Store s = Store.open(live)) {
                            backup(s, a, p);
                        }
                        step(i + ": backup " + p);
                    }
                    case 5 -> {
                        Retention.Policy p = rnd.nextBoolean() ? new Retention.Policy(1 + rnd.nextInt(3), null)
                                : new Retention.Policy(1 + rnd.nextInt(2), 7);
                        Retention.apply(a, Retention.plan(a, p, Instant.now()), d -> { });
                        step(i + ": prune " + p);
                    }
                    case 6 -> {
                        List<ArchiveListing.BackupInfo> bs = ArchiveListing.of(a).backups();
                        if (!bs.isEmpty()) {
                            ArchiveLayout.BackupName n = bs.get(rnd.nextInt(bs.size())).name();
                            if (rnd.nextInt(3) == 0) {
                                BackupPin.unpin(a, n);
                                step(i + ": unpin " + n.dir());
                            } else {
                                BackupPin.pin(a, n, Instant.now());
                                step(i + ": pin " + n.dir());
                            }
                        }
                    }
                    case 7 -> {
                        // failover: the leader ships (B too: a B behind at the leader's death is
                        // LaggingArchiveForkCheckTest) and dies; a standby restored from A is promoted
                        ship(live, a);
                        if (b != null) {
                            try {
                                ship(live, b);
                            } catch (RuntimeException e) {
                                step("   ship to B refused: " + e.getMessage());
                            }
                        }
                        Path next = fresh("node");
                        int how = rnd.nextInt(3);
                        if (how == 0) {
                            Restore.Result r = Restore.run(a, next, Restore.Options.defaults().withPromote(true),
                                    new Restore.Listener() { });
                            guards += r.promotedBackup() != null ? 1 : 0;
                            step(i + ": failover by restore --promote -> timeline " + r.promotedTimeline()
                                    + (r.promotedBackup() != null ? " (guard backup)" : ""));
                        } else if (how == 1) {
                            Restore.run(a, next, Restore.Options.defaults(), new Restore.Listener() { });
                            Promotion.Promoted p = Promotion.promote(next, a);
                            guards += p.backup() != null ? 1 : 0;
                            step(i + ": failover by walship promote -> timeline " + p.timeline()
                                    + (p.backup() != null ? " (guard backup: " + p.backupReason() + ")" : ""));
                        } else {
                            if (rnd.nextBoolean()) {
                                try (Store s = Store.open(live)) {
                                    writes(s, "unshipped" + i, 20, 30); // the leader's last writes, replicated, never archived
                                }
                            }
                            followerOf(live, next);
                            ControlFile c = ControlFile.read(next);
                            int tl;
                            try {
                                tl = Promotion.claimNext(a, c.timeline(), c.checkpointLsn(), c.checkpointTimeMicros(),
                                        "live (test)");
                            } catch (Promotion.TimelineTakenException e) {
                                // a drill copy took T+1 (InspectionCopyBlocksFailoverReview30Test): fail over offline
                                tl = Promotion.claim(a, c.timeline(), c.checkpointLsn(), c.checkpointTimeMicros(), "x");
                            }
                            LocalHistories.saveFrom(a, next, tl);
                            ControlFile.read(next).promoted(tl).write(next);
                            step(i + ": live failover of a follower at the leader's end -> timeline " + tl);
                        }
                        live = next;
                        try (Store s = Store.open(live)) {
                            writes(s, "f" + i, 10, 30);
                        }
                        shipAll(live, a);
                    }
                    case 8 -> {
                        // a PITR drill copy inside the window of the default path, never written
                        ArchiveListing l = ArchiveListing.of(a);
                        Map<Integer, TimelineHistory> h = TimelineHistory.readAll(a, l);
                        int tl = ControlFile.read(live).timeline();
                        List<TimelineHistory.Span> anc = TimelineHistory.ancestry(tl, h);
                        List<ArchiveListing.BackupInfo> on = io.walship.restorer.RestorePlan.backupsOn(l, anc);
                        long end = io.walship.restorer.RestorePlan.chain(l, anc, on.isEmpty() ? 1
                                : on.get(0).name().lsn() + 1).end();
                        if (on.isEmpty() || end <= on.get(0).name().lsn()) {
                            break;
                        }
                        long from = on.get(0).name().lsn();
                        long at = from + 1 + (long) rnd.nextInt((int) Math.max(1, end - from));
                        at = Math.min(at, end);
                        Restore.Result r = Restore.run(a, fresh("drill"), Restore.Options.defaults().withTimeline(tl)
                                .withTarget(RestoreTarget.lsn(at, false)).withPromote(true), new Restore.Listener() { });
                        guards += r.promotedBackup() != null ? 1 : 0;
                        step(i + ": drill copy restore --promote --timeline " + tl + " --lsn " + Long.toHexString(at)
                                + " -> timeline " + r.promotedTimeline()
                                + (r.promotedBackup() != null ? " (guard backup)" : ""));
                    }
                    default -> {
                        if (b == null) {
                            b = ObjectStores.open("file://" + tmp.resolve("archiveB"));
                            shipAll(live, a);
                            try {
                                ship(live, b);
                            } catch (RuntimeException e) {
                                step("   first ship to B refused: " + e.getMessage());
                            }
                            try (Store s = Store.open(live)) {
                                backup(s, b);
                            }
                            step(i + ": archive B added (ship, first backup by hand)");
                        } else {
                            step(i + ": idle");
                        }
                    }
                }
                check(a, i);
                drill(live);
                if (b != null) {
                    check(b, i);
                }
                if (guards > 0) {
                    fail("step " + i + ": an offline promotion of a copy restored from this archive at or past the newest"
                            + " backup on its path took a guard backup\nsteps:\n" + log);
                }
            }
        }
    }

    /** The scheduler's verify job (archive verify, then its restore drill) on the primary. */
    private void drill(Path data) throws Exception {
        SchedulerConfig c = SchedulerConfig.parse("databases:\n  - name: db\n    data: " + data + "\n    archive: file://"
                + tmp.resolve("archive") + "\n    jobs:\n      verify: {cron: \"0 0 4 * * ?\"}\n", "t");
        try (ArchiveJobs jobs = new ArchiveJobs(c.databases().get(0))) {
            try {
                jobs.verify(tmp.resolve("scratch"));
            } catch (Exception e) {
                fail("the scheduler's verify job failed: " + e + "\nsteps:\n" + log);
            }
        }
    }

    private void check(ObjectStore a, int i) {
        ArchiveVerifier.Report r = ArchiveVerifier.verify(a, 2, false, m -> { });
        ArchiveListing l = ArchiveListing.of(a);
        Map<Integer, TimelineHistory> h = TimelineHistory.readAll(a, l);
        List<String> failed = new ArrayList<>();
        try {
            Restore.run(a, fresh("check"), Restore.Options.defaults(), new Restore.Listener() { });
        } catch (RuntimeException e) {
            failed.add("default restore: " + e.getMessage());
        }
        for (int t : l.timelines()) {
            long fork = h.containsKey(t) ? h.get(t).forkLsnValue() : 0;
            boolean own = l.lastArchivedLsn(t) > fork;
            boolean leaf = h.values().stream().noneMatch(x -> x.parent() == t);
            if (own && leaf) {
                try {
                    Restore.run(a, fresh("check"), Restore.Options.defaults().withTimeline(t), new Restore.Listener() { });
                } catch (RuntimeException e) {
                    failed.add("restore --timeline " + t + ": " + e.getMessage());
                }
            }
        }
        // PITR inside the kept window of the default path: a time between the oldest unpinned backup on it and the
        // newest backup on it
        try {
            int tl = io.walship.restorer.RestorePlan.make(a, l, 0, RestoreTarget.end()).timeline();
            List<ArchiveListing.BackupInfo> on = io.walship.restorer.RestorePlan.backupsOn(l,
                    TimelineHistory.ancestry(tl, h)).stream().filter(x -> !l.pinned(x.name())).toList();
            if (on.size() > 1) {
                long lo = io.walship.restorer.RestorePlan.readManifest(a, on.get(on.size() - 1).name()).commitTimeMicros();
                long hi = io.walship.restorer.RestorePlan.readManifest(a, on.get(0).name()).commitTimeMicros();
                long at = lo + (hi - lo) / 2;
                try {
                    Restore.run(a, fresh("check"), Restore.Options.defaults().withTarget(RestoreTarget.time(
                            Instant.ofEpochSecond(at / 1_000_000, (at % 1_000_000) * 1000), false)),
                            new Restore.Listener() { });
                } catch (RuntimeException e) {
                    failed.add("restore --time (micros " + at + ", window " + lo + ".." + hi + "): " + e.getMessage());
                }
            }
        } catch (RuntimeException e) {
            // the default restore's own failure is reported above
        }
        if (r.ok() && !failed.isEmpty()) {
            fail(a.describe() + " step " + i + ": verify OK but " + failed + "\nsteps:\n" + log + "notes: " + r.notes());
        }
        if (!r.ok() && failed.isEmpty()) {
            fail(a.describe() + " step " + i + ": verify reports " + r.problems() + " but every restore works\nsteps:\n" + log
                    + "notes: " + r.notes());
        }
        if (!r.ok()) {
            fail(a.describe() + " step " + i + ": the archive a normal deployment made is not restorable: " + failed + "; verify: "
                    + r.problems() + "\nsteps:\n" + log);
        }
    }
}
