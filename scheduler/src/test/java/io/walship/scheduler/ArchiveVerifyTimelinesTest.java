package io.walship.scheduler;

import static io.walship.scheduler.ArchiveFixture.backup;
import static io.walship.scheduler.ArchiveFixture.followerOf;
import static io.walship.scheduler.ArchiveFixture.livePromote;
import static io.walship.scheduler.ArchiveFixture.ship;
import static io.walship.scheduler.ArchiveFixture.standbyBelowThePrunedWindow;
import static io.walship.scheduler.ArchiveFixture.writes;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ArchiveListing;
import io.walship.archive.BackupManifest;
import io.walship.archive.BackupPin;
import io.walship.archive.ForwardingObjectStore;
import io.walship.archive.ObjectInfo;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.restorer.ArchiveVerifier;
import io.walship.restorer.Promotion;
import io.walship.restorer.Restore;
import io.walship.restorer.RestoreTarget;
import io.walship.shipper.BackupType;
import io.walship.shipper.LocalHistories;
import io.walship.wal.ControlFile;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import io.walship.wal.WalshipException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code archive verify} against the timelines normal deployments make (failovers live and offline, PITR promotions,
 * second archives, incrementals, pins, prunes) and against what restores of them do. The tests are from review29
 * and review30 (each test's javadoc, or the comment above its group, says which review found it). The fixture is
 * {@link ArchiveFixture}'s.
 */
class ArchiveVerifyTimelinesTest {
    @TempDir
    Path tmp;

    // ---- formerly VerifyListingRaceReview29Test

    /**
     * review29 (verifybase): verify lists the archive once, in key order (an S3 listing is paginated: backups/ comes
     * long before wal/). A promotion whose guard takes a backup on the new timeline (its fork lies below the parent's
     * window: the documented "Timelines and promotion" case), followed by the new leader's first shipment, can fall
     * between the page that held backups/ and the pages of timelines/ and wal/: the listing then has timeline 2's
     * history and WAL but not the backup the guard took. Verify re-lists only when a backup listed on the path vanished
     * (onPath non-empty); here none was listed on it, so it reports timeline 2 "unrestorable" (exit 3) at once, on an
     * archive that restores timeline 2 and that the next verify passes.
     */
    @Test
    void aPromotionBetweenTheListingsPagesIsNotAnUnrestorableTimeline() {
        Path leader = tmp.resolve("leader");
        Path standby = tmp.resolve("standby");
        try (ObjectStore inner = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            standbyBelowThePrunedWindow(leader, inner, standby);

            AtomicBoolean promoted = new AtomicBoolean();
            ObjectStore a = new ForwardingObjectStore(inner) {
                @Override
                public List<ObjectInfo> list(String prefix, String startAfter) {
                    if (!prefix.isEmpty() || startAfter != null || !promoted.compareAndSet(false, true)) {
                        return super.list(prefix, startAfter);
                    }
                    // the pages up to and including backups/ ...
                    List<ObjectInfo> out = new ArrayList<>();
                    for (ObjectInfo o : super.list("", null)) {
                        if (o.key().compareTo("backups/\uffff") < 0) {
                            out.add(o);
                        }
                    }
                    // ... then walship promote --data STANDBY (its guard backs timeline 2 up), and the new leader ships
                    Promotion.Promoted p = Promotion.promote(standby, inner);
                    assertTrue(p.backup() != null, "setup: the guard took a backup on timeline 2");
                    try (Store s = Store.open(standby)) {
                        writes(s, "t2-", 40);
                    }
                    ship(standby, inner);
                    // ... then the pages after backups/
                    for (ObjectInfo o : super.list("", null)) {
                        if (o.key().compareTo("backups/\uffff") >= 0) {
                            out.add(o);
                        }
                    }
                    return out;
                }
            };
            ArchiveVerifier.Report r = ArchiveVerifier.verify(a, 2, false, m -> { });
            assertTrue(promoted.get());
            ArchiveVerifier.Report again = ArchiveVerifier.verify(inner, 2, false, m -> { });
            assertTrue(again.ok(), "setup: the archive is healthy: " + again.problems());
            assertEquals(2, Restore.run(inner, tmp.resolve("drill"), Restore.Options.defaults(),
                    new Restore.Listener() { }).timeline(), "setup: it restores timeline 2");
            assertTrue(r.ok(), "a promotion during verify's listing: " + r.problems());
        }
    }

    // ---- formerly VerifyAncestorWithoutBackupReview29Test
    /*
     * review29 (verifybase): {@code archive verify} calls a timeline "unrestorable" (exit 3) when it has WAL of its own
     * and no base backup on its path. Archives a normal deployment produces have such a timeline with nothing wrong
     * and nothing an operator can do about it: timeline 1 of a deployment whose leader failed over before the first
     * scheduled base backup (every backup since is on timeline 2, whose history holds all of timeline 1's), and
     * timeline 1 in a second archive added after a failover (its shipper ships the WAL the data directory still holds,
     * the entries before the fork going to timeline 1). Both archives restore every state they ever could (the default
     * restore reaches timeline 2's end); retention keeps timeline 1's WAL forever ("no kept backup: its WAL is all
     * there is"), so verify exits 3 on every run, and its advice, "take one from a store on timeline 1", names a store
     * that no longer exists. On main verify passes both archives.
     */

    private static void assertVerifyOk(ObjectStore a, String why) {
        ArchiveVerifier.Report r = ArchiveVerifier.verify(a, 2, false, m -> { });
        assertTrue(r.ok(), why + ": verify exits 3 on " + r.problems() + " (notes " + r.notes() + ")");
    }

    /**
     * Leader on timeline 1 ships its WAL from the start; it dies before the first scheduled base backup; its
     * follower is promoted at the leader's end (the usual failover), takes writes, and the backup job then runs on
     * timeline 2, as does the retention job. Nothing is lost and the default restore reaches timeline 2's end.
     */
    @Test
    void aFailoverBeforeTheFirstBackupIsNoProblemOnceTimelineTwoHasOne() {
        Path leader = tmp.resolve("leader");
        Path follower = tmp.resolve("follower");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            try (Store s = Store.open(leader)) {
                writes(s, "a", 80);
                ship(leader, a);
                writes(s, "b", 80);
                ship(leader, a);
            }
            followerOf(leader, follower);
            assertEquals(2, livePromote(follower, a));
            StateDigest end;
            try (Store s = Store.open(follower)) {
                writes(s, "t2-", 40);
                ship(follower, a);
                backup(s, a); // the scheduler's backup job, now on timeline 2
                writes(s, "t2b-", 40);
                ship(follower, a);
                end = s.digest();
            }
            Retention.apply(a, Retention.plan(a, new Retention.Policy(1, 7), Instant.now()), d -> { });

            Restore.Result r = assertDoesNotThrow(() -> Restore.run(a, tmp.resolve("drill"), Restore.Options.defaults(),
                    new Restore.Listener() { }), "setup: the archive restores its newest state");
            assertEquals(2, r.timeline());
            try (Store s = Store.open(tmp.resolve("drill"))) {
                assertEquals(end, s.digest(), "setup: the restore reaches timeline 2's end");
            }
            assertEquals(ArchiveListing.of(a).lastArchivedLsn(1),
                    io.walship.archive.TimelineHistory.readOne(a, 2).forkLsnValue(),
                    "setup: timeline 1 ends at the fork; it holds nothing timeline 2's history does not");
            assertVerifyOk(a, "a healthy archive after a failover before the first backup");
        }
    }

    /**
     * The scheduler's verify job on the same archive as {@link #aFailoverBeforeTheFirstBackupIsNoProblemOnceTimelineTwoHasOne}:
     * it fails on verify's problem before its restore drill (ArchiveJobs.verify), so from then on the job fails on
     * every run and the drill, the stronger check, never runs again.
     */
    @Test
    void theSchedulersVerifyJobFailsForeverAndSkipsItsDrillAfterAFailoverBeforeTheFirstBackup() throws Exception {
        Path leader = tmp.resolve("leader");
        Path follower = tmp.resolve("follower");
        String uri = "file://" + tmp.resolve("archive");
        try (ObjectStore a = ObjectStores.open(uri)) {
            try (Store s = Store.open(leader)) {
                writes(s, "a", 80);
                ship(leader, a);
            }
            followerOf(leader, follower);
            assertEquals(2, livePromote(follower, a));
            try (Store s = Store.open(follower)) {
                writes(s, "t2-", 40);
                ship(follower, a);
                backup(s, a);
                writes(s, "t2b-", 40);
                ship(follower, a);
            }
        }
        SchedulerConfig c = SchedulerConfig.parse("databases:\n  - name: db\n    data: " + follower + "\n    archive: " + uri
                + "\n    jobs:\n      verify: {cron: \"0 0 4 * * ?\"}\n", "t");
        try (ArchiveJobs jobs = new ArchiveJobs(c.databases().get(0))) {
            assertDoesNotThrow(() -> jobs.verify(tmp.resolve("scratch")), "the scheduler's verify job and its drill");
        }
    }

    /**
     * docs/OPERATIONS.md "Several archives": archive B is added after a failover (a new required archive holds the
     * WAL from the start), and its first base backup is taken as the docs say (walship backup --archive B) on the
     * timeline the store is on. B restores timeline 2 to its end.
     */
    @Test
    void aSecondArchiveAddedAfterAFailoverIsNoProblem() {
        Path leader = tmp.resolve("leader");
        Path follower = tmp.resolve("follower");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archiveA"));
             ObjectStore b = ObjectStores.open("file://" + tmp.resolve("archiveB"))) {
            try (Store s = Store.open(leader)) {
                writes(s, "a", 40);
                backup(s, a);
                writes(s, "b", 80);
                ship(leader, a);
            }
            followerOf(leader, follower);
            assertEquals(2, livePromote(follower, a));
            StateDigest end;
            try (Store s = Store.open(follower)) {
                writes(s, "t2-", 40);
                ship(follower, a);
                ship(follower, b); // B is added: its shipper ships what the data directory holds
                backup(s, b);      // and its first base backup, by hand as the docs say
                writes(s, "t2b-", 40);
                ship(follower, a);
                ship(follower, b);
                end = s.digest();
            }
            assertVerifyOk(a, "setup: archive A");
            assertTrue(ArchiveListing.of(b).lastArchivedLsn(1) > 0,
                    "setup: B got the entries before the fork under timeline 1 " + ArchiveListing.of(b).timelines());
            Restore.Result r = assertDoesNotThrow(() -> Restore.run(b, tmp.resolve("drill"), Restore.Options.defaults(),
                    new Restore.Listener() { }), "setup: B restores its newest state");
            assertEquals(2, r.timeline());
            try (Store s = Store.open(tmp.resolve("drill"))) {
                assertEquals(end, s.digest());
            }
            assertVerifyOk(b, "archive B, which restores timeline 2 to its end");
        }
    }

    // ---- formerly VerifyDefaultRestoreReview29Test

    /**
     * review29 (verifybase): a timeline "claimed and never written" is only a note, "since nothing was written on it".
     * But when its parent's archived history stops at the fork, it is the timeline a default {@code walship restore}
     * follows (RestorePlan.latest), and with no backup on its path that restore fails, while verify exits 0. How it
     * arises: an async follower at LSN X is promoted live after its leader died; the leader had taken a backup at
     * Y > X (--url LEADER, its commit point) and a prune keeping one backup deleted the older ones; the archive's
     * timeline 1 ends at or before X. The new leader's shipper refuses the archive (RetentionWatermark.forkUnprotected:
     * timeline 2 has no WAL in it), so the "unwritten" timeline 2 does take writes, and the archive's default restore
     * fails until someone takes a backup on it.
     */
    @Test
    void verifyPassesAnArchiveWhoseDefaultRestoreFails() {
        Path leader = tmp.resolve("leader");
        Path follower = tmp.resolve("follower");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            try (Store s = Store.open(leader)) {
                writes(s, "a", 60);
                backup(s, a);
                writes(s, "b", 60);
                ship(leader, a);
            }
            followerOf(leader, follower); // the follower has what the archive has, LSN X
            try (Store s = Store.open(leader)) {
                writes(s, "c", 40);
                backup(s, a); // at Y > X, not yet shipped nor replicated
            }
            Retention.apply(a, Retention.plan(a, new Retention.Policy(1, null), Instant.now()), d -> { });
            // the leader dies; the follower is promoted live (LiveFollower.promote)
            ControlFile c = ControlFile.read(follower);
            int tl = Promotion.claimNext(a, c.timeline(), c.checkpointLsn(), c.checkpointTimeMicros(), "live (test)");
            LocalHistories.saveFrom(a, follower, tl);
            ControlFile.read(follower).promoted(tl).write(follower);
            try (Store s = Store.open(follower)) {
                writes(s, "t2-", 30); // the new leader takes writes
            }
            WalshipException refused = assertThrows(WalshipException.class, () -> ship(follower, a));
            assertTrue(refused.getMessage().contains("may not restore timeline 2"), refused.getMessage());
            assertEquals(0, ArchiveListing.of(a).lastArchivedLsn(2), "setup: nothing of timeline 2 is archived");

            Exception e = assertThrows(Exception.class, () -> Restore.run(a, tmp.resolve("drill"),
                    Restore.Options.defaults(), new Restore.Listener() { }));
            assertTrue(e.getMessage().contains("no base backup on timeline 2"), "setup: the default restore fails: " + e);
            ArchiveVerifier.Report r = ArchiveVerifier.verify(a, 2, false, m -> { });
            assertTrue(!r.ok(), "the archive's default restore fails, verify exits 0: notes " + r.notes());
        }
    }

    // ---- formerly VerifyLifecycleReview29Test

    private static void pruneAndVerify(ObjectStore a, Retention.Policy p, String step) {
        Retention.apply(a, Retention.plan(a, p, Instant.now()), d -> { });
        ArchiveVerifier.Report r = ArchiveVerifier.verify(a, 2, false, m -> { });
        assertTrue(r.ok(), step + " (" + p + "): verify " + r.problems() + " notes " + r.notes() + "; timelines "
                + ArchiveListing.of(a).timelines() + " backups " + ArchiveListing.of(a).backups());
    }

    /**
     * review29: a normal deployment's archive through failovers (a caught-up follower promoted live), PITR restores
     * promoted onto new timelines, incremental chains, a pin, and prunes with several policies; verify after every
     * prune must pass (verifybase's unrestorable check must not fire on it). Every timeline here had a backup on its
     * path when it was created.
     */
    @Test
    void aLifecycleOfFailoversPitrIncrementalsAndPinsVerifiesCleanAfterEveryPrune() {
        BackupType.Policy incr = new BackupType.Policy(BackupType.INCREMENTAL, 3);
        Path l1 = tmp.resolve("l1");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            long pitr1;
            try (Store s = Store.open(l1)) {
                writes(s, "a", 60, 30);
                backup(s, a, BackupType.FULL.policy());
                writes(s, "b", 60, 30);
                ship(l1, a);
                pitr1 = s.lastLsn() - 7;
                backup(s, a, incr);
                writes(s, "c", 60, 30);
                ship(l1, a);
                backup(s, a, incr);
                writes(s, "d", 60, 30);
                ship(l1, a);
            }
            pruneAndVerify(a, new Retention.Policy(2, null), "timeline 1 only");
            // a PITR restore promoted: timeline 2, written, no backup of its own (the guard decides)
            Restore.Result r2 = Restore.run(a, tmp.resolve("p2"), Restore.Options.defaults().withTimeline(1)
                    .withTarget(RestoreTarget.lsn(pitr1, false)).withPromote(true), new Restore.Listener() { });
            try (Store s = Store.open(tmp.resolve("p2"))) {
                writes(s, "p2-", 40, 30);
            }
            ship(tmp.resolve("p2"), a);
            pruneAndVerify(a, new Retention.Policy(1, null), "after the PITR promotion to timeline " + r2.promotedTimeline());
            pruneAndVerify(a, new Retention.Policy(null, 0), "keep-days 0");
            // the leader fails over to a caught-up follower: timeline 3 from timeline 1's end
            Path f3 = tmp.resolve("f3");
            followerOf(l1, f3);
            int t3 = Promotion.promote(f3, a).timeline(); // walship promote of the caught-up follower
            try (Store s = Store.open(f3)) {
                writes(s, "t3-", 60, 30);
                ship(f3, a);
                pruneAndVerify(a, new Retention.Policy(1, null), "after the failover to timeline " + t3 + ", no backup on it yet");
                backup(s, a, incr);
                writes(s, "t3b-", 60, 30);
                ship(f3, a);
                BackupManifest pinned = backup(s, a, incr);
                assertEquals(BackupPin.Outcome.PINNED, BackupPin.pin(a, new ArchiveLayout.BackupName(pinned.timeline(),
                        Long.parseUnsignedLong(pinned.lsn(), 16)), Instant.now()));
                writes(s, "t3c-", 60, 30);
                ship(f3, a);
                backup(s, a, incr);
                writes(s, "t3d-", 60, 30);
                ship(f3, a);
            }
            pruneAndVerify(a, new Retention.Policy(1, null), "timeline 3 with a pinned incremental");
            pruneAndVerify(a, new Retention.Policy(3, 1), "keep 3 or a day");
            // another failover, from timeline 3, then a PITR of timeline 3 onto timeline 5
            Path f4 = tmp.resolve("f4");
            followerOf(f3, f4);
            int t4 = livePromote(f4, a); // a live promotion: timeline t3 + 1
            try (Store s = Store.open(f4)) {
                writes(s, "t4-", 60, 30);
                ship(f4, a);
                backup(s, a, BackupType.FULL.policy());
                writes(s, "t4b-", 60, 30);
                ship(f4, a);
            }
            pruneAndVerify(a, new Retention.Policy(1, null), "after the failover to timeline " + t4);
            long end3 = ArchiveListing.of(a).lastArchivedLsn(3);
            Restore.Result r5 = Restore.run(a, tmp.resolve("p5"), Restore.Options.defaults().withTimeline(3)
                    .withTarget(RestoreTarget.lsn(end3 - 3, false)).withPromote(true), new Restore.Listener() { });
            try (Store s = Store.open(tmp.resolve("p5"))) {
                writes(s, "p5-", 40, 30);
            }
            ship(tmp.resolve("p5"), a);
            pruneAndVerify(a, new Retention.Policy(1, null), "after the PITR promotion to timeline " + r5.promotedTimeline());
            pruneAndVerify(a, new Retention.Policy(null, 0), "keep-days 0 at the end");
            for (int t : List.of(1, 2, 3, 4, r5.promotedTimeline())) {
                int tl = t;
                assertDoesNotThrow(() -> Restore.run(a, tmp.resolve("drill" + tl), Restore.Options.defaults()
                        .withTimeline(tl), new Restore.Listener() { }), "restore --timeline " + tl);
            }
        }
    }

    // ---- formerly VerifyLifecycleReview30Test

    private static void prune(ObjectStore a) {
        Retention.apply(a, Retention.plan(a, new Retention.Policy(2, null), Instant.now()), d -> { });
    }

    private int n;

    private void verifiesAndRestores(ObjectStore a, String step) {
        ArchiveVerifier.Report r = ArchiveVerifier.verify(a, 2, false, m -> { });
        assertTrue(r.ok(), step + ": verify must pass a healthy archive: " + r.problems() + " notes " + r.notes());
        assertDoesNotThrow(() -> Restore.run(a, tmp.resolve("check" + (n++)), Restore.Options.defaults(),
                new Restore.Listener() { }), step + ": the default restore");
    }

    /** Days of scheduled work on the store in {@code data}: incremental backups (a full one every 3), ship, prune. */
    private void days(Path data, ObjectStore a, String tag, int count) {
        for (int d = 0; d < count; d++) {
            try (Store s = Store.open(data)) {
                writes(s, tag + d, 40);
                backup(s, a, new BackupType.Policy(BackupType.INCREMENTAL, 3));
                writes(s, tag + d + "x", 10);
            }
            ship(data, a);
            prune(a);
            verifiesAndRestores(a, tag + " day " + d);
        }
    }

    /**
     * review30: a deployment's life in one archive, as the scheduler and an operator drive it (scheduled backups, full
     * and incremental; retention keeping 2; a pin; offline failovers by {@code restore --promote} and by
     * {@code walship promote} of a standby restored from the same archive; a PITR {@code restore --promote} drill copy
     * never written). After every step {@code archive verify} must pass (the scheduler pages on exit 3 and skips the
     * drill), the default restore must work, and no offline promotion of a standby restored from this archive takes a
     * guard backup.
     */
    @Test
    void failoversByRestorePromoteThenPromoteWithPinsIncrementalsAndADrillCopy() {
        Path leader = tmp.resolve("leader");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            try (Store s = Store.open(leader)) {
                writes(s, "first", 40);
                BackupManifest first = backup(s, a, BackupType.FULL.policy());
                BackupPin.pin(a, new ArchiveLayout.BackupName(first.timeline(), Long.parseUnsignedLong(first.lsn(), 16)),
                        Instant.now());
            }
            ship(leader, a);
            days(leader, a, "tl1-", 4);

            // failover 1 -> 2: a standby restored from this archive, promoted by restore --promote
            Path n2 = tmp.resolve("node2");
            Restore.Result p2 = Restore.run(a, n2, Restore.Options.defaults().withPromote(true), new Restore.Listener() { });
            assertEquals(2, p2.promotedTimeline());
            assertNull(p2.promotedBackup(), "restore --promote 1->2 from the archive it promotes into took a backup");
            verifiesAndRestores(a, "after the promotion to timeline 2");
            days(n2, a, "tl2-", 4);

            // a PITR drill copy, never written: restore --promote to an LSN inside the kept window
            io.walship.archive.ArchiveListing l = io.walship.archive.ArchiveListing.of(a);
            long end2 = l.lastArchivedLsn(2);
            long newestBackup = l.backups().stream().mapToLong(b -> b.name().lsn()).max().orElseThrow();
            long mid = newestBackup + (end2 - newestBackup) / 2;
            Restore.Result drill = Restore.run(a, tmp.resolve("drill"), Restore.Options.defaults()
                    .withTarget(RestoreTarget.lsn(mid, false)).withPromote(true), new Restore.Listener() { });
            assertEquals(3, drill.promotedTimeline());
            assertNull(drill.promotedBackup(), "a drill copy restored inside the window took a backup");
            verifiesAndRestores(a, "after the drill copy (timeline 3, never written)");
            days(n2, a, "tl2b-", 2);

            // failover 2 -> 4: a standby restored from this archive (not promoted), then walship promote
            Path n4 = tmp.resolve("node4");
            Restore.run(a, n4, Restore.Options.defaults(), new Restore.Listener() { });
            Promotion.Promoted p4 = Promotion.promote(n4, a);
            assertEquals(4, p4.timeline());
            assertNull(p4.backup(), "walship promote 2->4 of a standby restored from this archive took a backup: "
                    + p4.backupReason());
            verifiesAndRestores(a, "after the promotion to timeline 4");
            days(n4, a, "tl4-", 4);

            // failover 4 -> 5 by restore --promote again
            Path n5 = tmp.resolve("node5");
            Restore.Result p5 = Restore.run(a, n5, Restore.Options.defaults().withPromote(true), new Restore.Listener() { });
            assertEquals(5, p5.promotedTimeline());
            assertNull(p5.promotedBackup(), "restore --promote 4->5 took a backup");
            verifiesAndRestores(a, "after the promotion to timeline 5");
            days(n5, a, "tl5-", 4);
        }
    }
}
