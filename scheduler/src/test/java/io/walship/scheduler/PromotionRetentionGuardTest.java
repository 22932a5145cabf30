package io.walship.scheduler;

import static io.walship.scheduler.ArchiveFixture.backup;
import static io.walship.scheduler.ArchiveFixture.livePromote;
import static io.walship.scheduler.ArchiveFixture.ship;
import static io.walship.scheduler.ArchiveFixture.standbyBelowThePrunedWindow;
import static io.walship.scheduler.ArchiveFixture.twoBackups;
import static io.walship.scheduler.ArchiveFixture.writes;
import static io.walship.scheduler.ArchiveFixture.writtenDigest;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import io.walship.archive.ArchiveListing;
import io.walship.archive.Codec;
import io.walship.archive.ForwardingObjectStore;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.StorageException;
import io.walship.restorer.ArchiveVerifier;
import io.walship.restorer.Promotion;
import io.walship.restorer.Restore;
import io.walship.restorer.RestoreTarget;
import io.walship.shipper.LocalHistories;
import io.walship.shipper.WalShipper;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import io.walship.wal.WalshipException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Retention against promotions: a prune that did not know a new timeline (it planned before the claim, or pruned
 * a second archive the timeline had not reached) must never leave that timeline unrestorable without someone
 * saying so. Offline promotions ({@code restore --promote}, {@code walship promote}) back themselves up, and
 * shippers refuse the archive, when {@link io.walship.archive.RetentionWatermark#forkUnprotected} finds the fork
 * below what retention keeps. The interleavings are from three adversarial reviews (review23, review24, review26:
 * each test's javadoc says what it first showed); hooks on the object store place each step, no sleeps. The
 * fixture (writes, backups, shipping, a live promotion) is {@link ArchiveFixture}'s.
 */
class PromotionRetentionGuardTest {
    @TempDir
    Path tmp;

    /**
     * A default restore of {@code archive} (the newest timeline) into {@code dir} under the test's directory
     * succeeds ({@code why} says what a failure means), reaches {@code timeline} and holds {@code digest}.
     */
    private Restore.Result restoresLatest(ObjectStore archive, String dir, int timeline, StateDigest digest, String why) {
        Restore.Result r = assertDoesNotThrow(() -> Restore.run(archive, tmp.resolve(dir), Restore.Options.defaults(),
                new Restore.Listener() { }), why);
        assertEquals(timeline, r.timeline());
        try (Store s = Store.open(tmp.resolve(dir))) {
            assertEquals(digest, s.digest());
        }
        return r;
    }

    /** Runs {@code hook} once, just before the first delete through this store (a prune past its new-timeline check). */
    private static final class BeforeFirstDelete extends ForwardingObjectStore {
        private final Runnable hook;
        private final AtomicBoolean ran = new AtomicBoolean();

        BeforeFirstDelete(ObjectStore inner, Runnable hook) {
            super(inner);
            this.hook = hook;
        }

        @Override
        public void delete(String key) {
            if (ran.compareAndSet(false, true)) {
                hook.run();
            }
            super.delete(key);
        }
    }

    /** Fails the first GET of a retention watermark, as a transient storage error (a 503, a reset) would. */
    private static final class FlakyWatermarkRead extends ForwardingObjectStore {
        private final AtomicBoolean failed = new AtomicBoolean();

        FlakyWatermarkRead(ObjectStore inner) {
            super(inner);
        }

        @Override
        public InputStream get(String key) {
            if (key.startsWith("retention/") && failed.compareAndSet(false, true)) {
                throw new StorageException("GET " + key + ": 503 Slow Down (test)");
            }
            return super.get(key);
        }
    }

    private static String hex(long lsn) {
        return String.format("%016X", lsn);
    }

    /** Runs {@code hook} once, just before the first object is created under {@code prefix} (a backup starting to upload). */
    private static final class BeforeFirstCreateUnder extends ForwardingObjectStore {
        private final String prefix;
        private final Runnable hook;
        private final AtomicBoolean ran = new AtomicBoolean();

        BeforeFirstCreateUnder(ObjectStore inner, String prefix, Runnable hook) {
            super(inner);
            this.prefix = prefix;
            this.hook = hook;
        }

        private void maybe(String key) {
            if (key.startsWith(prefix) && ran.compareAndSet(false, true)) {
                hook.run();
            }
        }

        @Override
        public void create(String key, InputStream content) {
            maybe(key);
            super.create(key, content);
        }

        @Override
        public String createReturningEtag(String key, byte[] content) {
            maybe(key);
            return super.createReturningEtag(key, content);
        }

        @Override
        public Resumed createResuming(String key, InputStream content) {
            maybe(key);
            return super.createResuming(key, content);
        }

        @Override
        public Resumed createResuming(String key, InputStream content, boolean resumeOnly) {
            maybe(key);
            return super.createResuming(key, content, resumeOnly);
        }
    }

    @Test
    void retentionDuringRestorePromoteLeavesTheNewTimelineWithoutABaseBackup() {
        Path data = tmp.resolve("leader");
        Path promoted = tmp.resolve("promoted");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            long b1 = twoBackups(data, a);
            long target = b1 + 5; // between the two backups: only the older one reaches it
            List<String> deleted = new ArrayList<>();
            Restore.Result r = Restore.run(a, promoted, Restore.Options.defaults()
                    .withTarget(RestoreTarget.lsn(target, false)).withPromote(true), new Restore.Listener() {
                        boolean ran;

                        @Override
                        public void replayed(long entries, long lsn, long walBytes) {
                            if (lsn == target && !ran) {
                                ran = true; // a cron prune with --keep-backups 1, between the replay and the claim
                                Retention.apply(a, Retention.plan(a, new Retention.Policy(1, null), Instant.now()),
                                        d -> deleted.add(d.key()));
                            }
                        }
                    });
            assertEquals(2, r.promotedTimeline(), "the restore promoted (exit 0)");
            assertTrue(r.promotedBackup() != null && r.promotedBackup().startsWith("backups/00000002-"),
                    "the restore took a base backup on the new timeline: " + r.promotedBackup());
            assertTrue(deleted.stream().anyMatch(k -> k.contains(String.format("%016X", b1))),
                    "retention deleted the backup the promotion was restored from: " + deleted);
            StateDigest tl2;
            tl2 = writtenDigest(promoted, "tl2-", 30);
            ship(promoted, a);
            // the promise: the new timeline restores from the archive (retention keeps each timeline's newest usable backup)
            restoresLatest(a, "tl2", 2, tl2, "timeline 2 is left with no base backup on its ancestry");
        }
    }

    /**
     * The same hole without any race, with two archives (docs/OPERATIONS.md "Several archives"): the promotion claims
     * its timeline in the archive it restored from (A); archive B learns of the timeline only when the new leader's
     * shipper first ships to it. A prune of B in between (B's shipper down for a while, or simply not run yet) sees
     * only timeline 1, deletes the backup the new timeline grew from and the WAL after it, and B can then never
     * restore the new timeline ("a restore reads any one of them").
     */
    @Test
    void pruneOfASecondArchiveBeforeTheNewTimelineReachesItDeletesItsBase() {
        Path data = tmp.resolve("leader");
        Path promoted = tmp.resolve("promoted");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archiveA"));
             ObjectStore b = ObjectStores.open("file://" + tmp.resolve("archiveB"))) {
            long b1 = twoBackups(data, a, b);
            Restore.Result r = Restore.run(a, promoted, Restore.Options.defaults()
                    .withTarget(RestoreTarget.lsn(b1 + 5, false)).withPromote(true), new Restore.Listener() { });
            assertEquals(2, r.promotedTimeline());
            // a prune of B before the new leader has shipped to it: B knows only timeline 1
            Retention.apply(b, Retention.plan(b, new Retention.Policy(1, null), Instant.now()), d -> { });
            StateDigest tl2;
            tl2 = writtenDigest(promoted, "tl2-", 30);
            ship(promoted, a);
            // uploads timeline 2's history to B, then finds B's retention past the fork and no backup on timeline 2:
            // the run fails, loudly and with what to do, rather than shipping WAL that B cannot restore
            io.walship.wal.WalshipException refused = org.junit.jupiter.api.Assertions.assertThrows(
                    io.walship.wal.WalshipException.class, () -> ship(promoted, b));
            assertTrue(refused.getMessage().contains("may not restore timeline 2") && refused.getMessage().contains("take one"),
                    refused.getMessage());
            io.walship.wal.WalshipException again = org.junit.jupiter.api.Assertions.assertThrows(
                    io.walship.wal.WalshipException.class, () -> ship(promoted, b));
            assertTrue(again.getMessage().contains("may not restore timeline 2"), "every run says so: " + again.getMessage());
            // B holds timeline 2's history and none of its WAL: archive verify notes that B cannot restore it (no problem:
            // nothing of timeline 2 is in B to lose)
            io.walship.restorer.ArchiveVerifier.Report vb = io.walship.restorer.ArchiveVerifier.verify(b, 2, true, m -> { });
            assertTrue(vb.ok(), "" + vb.problems());
            assertTrue(vb.notes().stream().anyMatch(n -> n.startsWith("timeline 2 (forked from timeline 1")
                    && n.contains("no WAL of its own")), "" + vb.notes());
            try (Store s = Store.open(promoted)) {
                backup(s, b); // what the message asks for
            }
            ship(promoted, b); // shipping to B resumes by itself
            vb = io.walship.restorer.ArchiveVerifier.verify(b, 2, true, m -> { });
            assertTrue(vb.ok() && vb.notes().stream().noneMatch(n -> n.contains("no WAL of its own")), vb + "");
            Restore.Result fromA = Restore.run(a, tmp.resolve("tl2a"), Restore.Options.defaults(), new Restore.Listener() { });
            assertEquals(2, fromA.timeline(), "archive A restores timeline 2");
            restoresLatest(b, "tl2b", 2, tl2, "archive B cannot restore timeline 2: its base backup was pruned");
        }
    }

    /**
     * The other order of the race: the prune plans before the claim and applies after it. Its watermark comes
     * before its look for new timelines, so it refuses (deleting nothing) and the promotion, looking after its
     * claim, sees the watermark past its fork: the new timeline is reported unprotected, whichever comes first.
     */
    @Test
    void aPrunePlannedBeforeAClaimRefusesAndThePromotionSeesItsWatermark() {
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            long b1 = twoBackups(tmp.resolve("leader"), a);
            Retention.Plan plan = Retention.plan(a, new Retention.Policy(1, null), Instant.now());
            assertTrue(plan.deletions().stream().anyMatch(d -> d.key().contains(String.format("%016X", b1))), "plan: " + plan);
            long fork = b1 + 5;
            int tl = io.walship.restorer.Promotion.claim(a, 1, fork, 0, "test");
            io.walship.wal.WalshipException e = org.junit.jupiter.api.Assertions.assertThrows(io.walship.wal.WalshipException.class,
                    () -> Retention.apply(a, plan, d -> { throw new AssertionError("deleted " + d); }));
            assertTrue(e.getMessage().contains("new timeline"), e.getMessage());
            assertTrue(io.walship.archive.RetentionWatermark.forkUnprotected(a, tl,
                            t -> io.walship.archive.TimelineHistory.readOne(a, t)).isPresent(),
                    "the prune's watermark is there for the promotion to see");
            io.walship.archive.TimelineHistory late = new io.walship.archive.TimelineHistory(
                    io.walship.archive.TimelineHistory.FORMAT_VERSION, tl, 1, io.walship.wal.Lsn.format(Long.MAX_VALUE - 1),
                    "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "test");
            assertTrue(io.walship.archive.RetentionWatermark.forkUnprotected(a, tl, t -> late).isEmpty(),
                    "a fork past the kept backup is protected");
            assertEquals(2, tl);
        }
    }

    /**
     * {@code walship promote} of a standby restored before a prune deleted its base: the promotion takes a
     * base backup on the new timeline, which the archive then restores.
     */
    @Test
    void promotingAStandbyWhoseBaseWasPrunedTakesABackupOnTheNewTimeline() {
        Path standby = tmp.resolve("standby");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            standbyBelowThePrunedWindow(tmp.resolve("leader"), a, standby);
            io.walship.restorer.Promotion.Promoted p = io.walship.restorer.Promotion.promote(standby, a);
            assertEquals(2, p.timeline());
            assertTrue(p.backup() != null && p.backup().imageKey().startsWith("backups/00000002-"), "" + p.backup());
            StateDigest tl2;
            tl2 = writtenDigest(standby, "tl2-", 30);
            ship(standby, a);
            Restore.Result again = restoresLatest(a, "tl2", 2, tl2, "timeline 2 restores");
            assertTrue(again.backupKey().startsWith("backups/00000002-"), again.backupKey());
        }
    }

    /**
     * Finding 1 (silent loss): two prunes overlap a live promotion. P_old plans and passes its new-timeline check
     * before the claim (it knows only timeline 1, and will delete the backup the fork grew from and the WAL after
     * it); it is slow to delete. Meanwhile the follower is promoted (claimNext: no backup), a second prune P_new that
     * knows timeline 2 runs and creates timeline 2's watermark, and the new leader's shipper checks: the timeline's
     * own watermark "protects" it (requireBaseKept returns before looking at the parent's watermark, which P_old
     * created past the fork and which the check did see), so the check passes and is never run again in that
     * process. P_old then deletes the base. Nobody says anything; archive A cannot restore timeline 2.
     */
    @Test
    void aTimelinesOwnWatermarkHidesAConcurrentOlderPruneDeletingItsBase() {
        Path standby = tmp.resolve("standby");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            long b1 = twoBackups(tmp.resolve("leader"), a);
            Restore.run(a, standby, Restore.Options.defaults().withTarget(RestoreTarget.lsn(b1 + 5, false)),
                    new Restore.Listener() { });
            Retention.Plan old = Retention.plan(a, new Retention.Policy(1, null), Instant.now());
            assertTrue(old.deletions().stream().anyMatch(d -> d.key().contains(String.format("%016X", b1))), "" + old);
            List<String> deletedByOld = new ArrayList<>();
            ObjectStore slow = new BeforeFirstDelete(a, () -> {
                // P_old is past its look at timelines/ (it saw only timeline 1) and about to delete
                assertEquals(2, livePromote(standby, a));
                Retention.apply(a, Retention.plan(a, new Retention.Policy(1, null), Instant.now()), d -> { });
                try (Store s = Store.open(standby)) {
                    writes(s, "tl2-", 30);
                }
                // the new leader's first run: the check must see that P_old (whose watermark is there) may be deleting
                // timeline 2's base (timeline 2's own watermark, P_new's, says nothing about P_old)
                WalshipException refused = assertThrows(WalshipException.class, () -> ship(standby, a));
                assertTrue(refused.getMessage().contains("may not restore timeline 2"), refused.getMessage());
            });
            Retention.apply(slow, old, d -> deletedByOld.add(d.key()));
            assertTrue(deletedByOld.stream().anyMatch(k -> k.contains(String.format("%016X", b1))),
                    "P_old deleted the backup timeline 2 grew from: " + deletedByOld);
            StateDigest tl2;
            tl2 = writtenDigest(standby, "tl2b-", 30);
            // a new shipper (a restart of the leader) checks again, and refuses again, until a backup is taken
            WalshipException again = assertThrows(WalshipException.class, () -> ship(standby, a));
            assertTrue(again.getMessage().contains("may not restore timeline 2"), again.getMessage());
            try (Store s = Store.open(standby)) {
                backup(s, a); // what the message asks for
            }
            ship(standby, a);
            restoresLatest(a, "tl2", 2, tl2, "archive A cannot restore timeline 2");
        }
    }

    /**
     * Finding 2 (false positive that blocks shipping): restore --promote below the parent's watermark takes a base
     * backup on timeline 2 (fix23 working as meant). Before the archive's next prune, timeline 2 is forked again
     * (a second PITR or failover) into timeline 3, which grows from that very backup on timeline 2. The promotion of
     * timeline 3 takes no backup (timeline 2 has no watermark), and its shipper then refuses archive A on every run:
     * requireBaseKept counts only a backup on timeline 3 itself, walks down to timeline 1's watermark past timeline
     * 2's fork and says A "holds no base backup on timeline 2" — it does, the one timeline 3 restores from. Shipping
     * (and with --on-archive-lag refuse-writes, writing) stops until someone takes a backup or a prune runs.
     */
    @Test
    void aForkOfAPromotedTimelineFromItsOwnBackupIsRefusedAsUnprotected() {
        Path standby = tmp.resolve("standby");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            standbyBelowThePrunedWindow(tmp.resolve("leader"), a, standby);
            Promotion.Promoted p = Promotion.promote(standby, a);
            assertTrue(p.backup() != null, "timeline 2 backed itself up");
            try (Store s = Store.open(standby)) {
                writes(s, "tl2-", 30);
            }
            ship(standby, a);
            // timeline 3 from the newest state of timeline 2: its base is timeline 2's own backup
            Path t3 = tmp.resolve("t3");
            Restore.Result r = Restore.run(a, t3, Restore.Options.defaults().withPromote(true), new Restore.Listener() { });
            assertEquals(3, r.promotedTimeline());
            assertTrue(r.backupKey().startsWith("backups/00000002-"), r.backupKey());
            StateDigest tl3;
            tl3 = writtenDigest(t3, "tl3-", 30);
            assertDoesNotThrow(() -> ship(t3, a), "archive A holds timeline 3's base (timeline 2's backup), yet its"
                    + " shipper refuses it");
            restoresLatest(a, "tl3", 3, tl3, "timeline 3 restores");
        }
    }

    /**
     * Finding 3 (silent miss on a transient error): RetentionWatermark.scan counts a watermark it cannot read as
     * corrupt and ignores it (right for verify, where a watermark too few only reports a gap). For the promotion
     * guards ignoring it is the unsafe direction: a transient GET failure makes the parent's watermark vanish, the
     * fork is judged protected, the shipper marks the timeline checked for the life of the process and ships WAL
     * archive A cannot restore. The first run should fail (and be retried), not pass.
     */
    @Test
    void aTransientWatermarkReadFailureMakesTheShipperCheckPass() {
        Path standby = tmp.resolve("standby");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            standbyBelowThePrunedWindow(tmp.resolve("leader"), a, standby);
            livePromote(standby, a);
            try (Store s = Store.open(standby)) {
                writes(s, "tl2-", 30);
            }
            ObjectStore flaky = new FlakyWatermarkRead(a);
            try (WalShipper w = new WalShipper(standby, flaky, new WalShipper.Options(Codec.ZSTD, 4096))) {
                RuntimeException first = assertThrows(RuntimeException.class, w::shipOnce,
                        "a watermark that could not be read was taken as none: timeline 2 was judged protected and its"
                        + " WAL shipped, though A's retention pruned its base");
                assertTrue(!(first instanceof WalshipException) || first.getMessage().contains("may not restore"),
                        first.getMessage());
                WalshipException second = assertThrows(WalshipException.class, w::shipOnce);
                assertTrue(second.getMessage().contains("may not restore timeline 2"), second.getMessage());
            }
        }
    }

    /**
     * Finding 3b: the same transient failure in an offline promotion: {@code walship promote} judges the fork
     * protected and takes no backup (exit 0, nothing printed), although the parent's watermark lies past the fork.
     */
    @Test
    void aTransientWatermarkReadFailureMakesPromoteSkipItsBackup() {
        Path standby = tmp.resolve("standby");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            standbyBelowThePrunedWindow(tmp.resolve("leader"), a, standby);
            Promotion.Promoted p;
            try {
                p = Promotion.promote(standby, new FlakyWatermarkRead(a));
            } catch (RuntimeException e) {
                return; // failing loudly is acceptable
            }
            assertTrue(p.backup() != null, "promoted onto timeline " + p.timeline() + " with no backup: the parent's"
                    + " watermark past the fork could not be read and was taken as absent");
        }
    }

    /**
     * Finding 5 (the two guards disagree, timeline 3 from 2): Promotion.forkUnprotected looks only at the parent's
     * watermark, LocalHistories.requireBaseKept walks the ancestry. Timeline 2 was promoted live (no backup) after a
     * prune of A deleted its base, so A's timeline 1 watermark lies past timeline 2's fork; timeline 2 ships to
     * archive B. A standby restored from B at timeline 2's end is promoted with {@code walship promote --archive A}:
     * A has no watermark of timeline 2, so the promotion judges the fork protected, takes no backup and prints
     * nothing; then timeline 3's own shipper refuses A (the walk reaches timeline 1's watermark). The documented
     * promise ("every offline promotion ... backs itself up") does not hold for a grandparent's pruned base.
     */
    @Test
    void anOfflinePromotionDoesNotWalkTheAncestryAsItsShipperDoes() {
        Path leader = tmp.resolve("leader");
        Path t2 = tmp.resolve("t2");
        Path t3 = tmp.resolve("t3");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archiveA"));
             ObjectStore b = ObjectStores.open("file://" + tmp.resolve("archiveB"))) {
            long b1 = twoBackups(leader, a, b);
            Restore.run(a, t2, Restore.Options.defaults().withTarget(RestoreTarget.lsn(b1 + 5, false)),
                    new Restore.Listener() { });
            Retention.apply(a, Retention.plan(a, new Retention.Policy(1, null), Instant.now()), d -> { });
            assertEquals(2, livePromote(t2, a));
            try (Store s = Store.open(t2)) {
                writes(s, "tl2-", 30);
            }
            assertThrows(WalshipException.class, () -> ship(t2, a), "A refuses timeline 2 (true positive)");
            ship(t2, b);
            Restore.run(b, t3, Restore.Options.defaults(), new Restore.Listener() { });
            Promotion.Promoted p = Promotion.promote(t3, a);
            assertEquals(3, p.timeline());
            try (Store s = Store.open(t3)) {
                writes(s, "tl3-", 30);
            }
            RuntimeException shipped = null;
            try {
                ship(t3, a);
            } catch (RuntimeException e) {
                shipped = e;
            }
            assertTrue(p.backup() != null || shipped == null, "walship promote took no backup and said nothing (A has no"
                    + " watermark of timeline 2), yet timeline 3's shipper then refuses A: " + shipped);
        }
    }

    /**
     * A standby on timeline 2 whose history archive A lacks: timeline 2 was claimed in archive B and its WAL is
     * only there, and A's retention pruned timeline 1 past timeline 2's fork. The data directory keeps timeline
     * 2's record ({@code DIR/timelines/2.history}, docs/FORMAT.md). {@code walship promote --archive A} claims
     * timeline 3 in A. Before smallfix the guard read timeline 2's record from A alone and failed ("checking …
     * failed", exit 1). An ancestor whose history A lacks means A lacks its WAL too (a shipper uploads a history
     * before any of its WAL), so whatever A's watermarks say, timeline 3 is unprotected: the guard backs it up in A,
     * naming timeline 2's missing history, and A restores timeline 3.
     */
    @Test
    void anOfflinePromotionWhoseAncestorsHistoryTheArchiveLacksBacksItselfUp() {
        Path standby = tmp.resolve("standby");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archiveA"));
             ObjectStore b = ObjectStores.open("file://" + tmp.resolve("archiveB"))) {
            standbyOnATimelineOnlyBHas(a, b, standby, true);
            assertTrue(a.head(io.walship.archive.ArchiveLayout.historyKey(2)).isEmpty(), "A lacks timeline 2's history");
            Promotion.Promoted p = assertDoesNotThrow(() -> Promotion.promote(standby, a));
            assertEquals(3, p.timeline());
            assertTrue(p.backup() != null && p.backup().imageKey().startsWith("backups/00000003-"),
                    "A lacks timeline 2's history, so its WAL: timeline 3 backs itself up");
            assertTrue(p.backupReason().contains("timeline 3 forked from timeline 2, whose history is not in "),
                    p.backupReason());
            StateDigest tl3;
            tl3 = writtenDigest(standby, "tl3-", 30);
            ship(standby, a); // uploads timeline 2's record to A from the data directory
            restoresLatest(a, "tl3", 3, tl3, "archive A cannot restore timeline 3");
        }
    }

    /**
     * The same with timeline 2's record in neither the data directory nor A: the guard needs no record of timeline 2
     * to decide (A lacks it), so it backs timeline 3 up, naming timeline 2; the promotion's shipper to A is the one
     * that needs the record (A cannot restore timeline 3 without it), and it names both places.
     */
    @Test
    void anAncestorsHistoryInNeitherTheDataDirectoryNorTheArchiveStillBacksUpAndTheShipperNamesIt() {
        Path standby = tmp.resolve("standby");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archiveA"));
             ObjectStore b = ObjectStores.open("file://" + tmp.resolve("archiveB"))) {
            standbyOnATimelineOnlyBHas(a, b, standby, false);
            Promotion.Promoted p = assertDoesNotThrow(() -> Promotion.promote(standby, a));
            assertEquals(3, p.timeline());
            assertTrue(p.backup() != null && p.backup().imageKey().startsWith("backups/00000003-"),
                    "A lacks timeline 2's history, so its WAL: timeline 3 backs itself up");
            assertTrue(p.backupReason().contains("timeline 3 forked from timeline 2, whose history is not in "),
                    p.backupReason());
            WalshipException e = assertThrows(WalshipException.class, () -> ship(standby, a));
            assertTrue(e.getMessage().contains("the history of timeline 2 is neither in " + standby.resolve("timelines")
                    + " nor in "), e.getMessage());
        }
    }

    /**
     * Timeline 1 with two backups, in archives A and B; timeline 2 forked from it just past the older one
     * (restored from B and promoted into B, its WAL shipped to B only); {@code standby} restored from B on timeline
     * 2, keeping timeline 2's record in its data directory if {@code keepsHistory}; then a prune of A keeping one
     * backup (A's timeline 1 watermark past timeline 2's fork).
     */
    private void standbyOnATimelineOnlyBHas(ObjectStore a, ObjectStore b, Path standby, boolean keepsHistory) {
        Path leader = tmp.resolve("leader");
        Path t2 = tmp.resolve("t2");
        long b1 = twoBackups(leader, a, b);
        Restore.run(b, t2, Restore.Options.defaults().withTarget(RestoreTarget.lsn(b1 + 5, false)),
                new Restore.Listener() { });
        assertEquals(2, Promotion.promote(t2, b).timeline());
        try (Store s = Store.open(t2)) {
            writes(s, "tl2-", 30);
        }
        ship(t2, b);
        assertEquals(2, Restore.run(b, standby, Restore.Options.defaults(), new Restore.Listener() { }).timeline());
        if (keepsHistory) {
            // as a data directory that was on timeline 2 keeps it (the promotion wrote it, or a shipper copied it in)
            LocalHistories.save(standby, LocalHistories.read(t2, 2).orElseThrow());
        }
        Retention.apply(a, Retention.plan(a, new Retention.Policy(1, null), Instant.now()), d -> { });
    }

    /**
     * Finding 1 (silent loss; two overlapping prunes, both documented as supported): the guard trusts the parent's
     * HIGHEST watermark "at or below fork + 1 ⇒ a prune kept a backup at or before the fork with its WAL". True of
     * the prune that wrote it, but another prune whose window start on the parent's path is lower (so it creates no
     * watermark of the parent: a higher one is there) may delete exactly the backup the first one kept, while the
     * first deletes the older one the second kept.
     *
     * <p>Timeline 1 has backups b0 &lt; b1. T's standby is restored from b1 (to b1+5, a PITR) and waits.
     * P_h (keep 1) plans: keeps b1, deletes b0, creates 1@b1+1, passes its new-timeline check; slow to delete.
     * Meanwhile: a new backup b2 on timeline 1; a second standby restored to b0+5 is promoted ({@code walship
     * promote}, timeline 2): its guard sees 1@b1+1 past its fork and takes a full backup; while that uploads, P_l
     * (keep 1) plans: timeline 2's newest usable backup is b0 (its own has no manifest yet), so it keeps b0 and b2,
     * deletes b1; its window start on timeline 1's path is b0+1, below 1@b1+1, so it creates no watermark of timeline
     * 1 (only 2@b0+1); it runs to the end. P_h resumes and deletes b0. Then T's standby is promoted (timeline 3, fork
     * at b1+5): the walk reads 1@b1+1 &lt;= fork+1, judges the fork protected, takes no backup, prints nothing. Its
     * shipper's check (same walk) would pass too. Every backup on timeline 3's path at or before its fork (b0, b1) is
     * gone: the archive cannot restore timeline 3.
     */
    @Test
    void twoOverlappingPrunesEachKeepingADifferentBackupBelowTheForkDeleteBoth() {
        Path leader = tmp.resolve("leader");
        Path qStandby = tmp.resolve("q");
        Path tStandby = tmp.resolve("t");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            long b0;
            long b1;
            try (Store s = Store.open(leader)) {
                writes(s, "a", 50);
                b0 = backup(s, a);
                writes(s, "b", 50);
                ship(leader, a);
                b1 = backup(s, a);
                writes(s, "c", 50);
                ship(leader, a);
            }
            // T: a standby restored from b1 to a point just past it (PITR), to be promoted later
            Restore.Result rt = Restore.run(a, tStandby, Restore.Options.defaults()
                    .withTarget(RestoreTarget.lsn(b1 + 5, false)), new Restore.Listener() { });
            assertEquals(b1, rt.backupLsn());
            // Q: a standby restored from b0 (below b1)
            Restore.Result rq = Restore.run(a, qStandby, Restore.Options.defaults()
                    .withTarget(RestoreTarget.lsn(b0 + 5, false)), new Restore.Listener() { });
            assertEquals(b0, rq.backupLsn());

            Retention.Plan high = Retention.plan(a, new Retention.Policy(1, null), Instant.now());
            assertTrue(high.keptBackups().stream().anyMatch(k -> k.contains(hex(b1))), "" + high.keptBackups());
            assertEquals(b1 + 1, high.windowStarts().get(1));
            List<String> lowDeleted = new ArrayList<>();
            long[] b2 = new long[1];
            ObjectStore slow = new BeforeFirstDelete(a, () -> {
                // P_h has created 1@b1+1 and passed its look at timelines/ (only timeline 1); it is about to delete b0
                try (Store s = Store.open(leader)) {
                    writes(s, "d", 50);
                    ship(leader, a);
                    b2[0] = backup(s, a);
                    writes(s, "e", 10);
                    ship(leader, a);
                }
                // Q's promotion: its guard (correctly) takes a backup; P_l plans and runs while that backup uploads
                ObjectStore qStore = new BeforeFirstCreateUnder(a, "backups/00000002-", () -> {
                    Retention.Plan low = Retention.plan(a, new Retention.Policy(1, null), Instant.now());
                    assertTrue(low.keptBackups().stream().anyMatch(k -> k.contains(hex(b0))), "" + low.keptBackups());
                    Retention.apply(a, low, d -> lowDeleted.add(d.key()));
                });
                Promotion.Promoted q = Promotion.promote(qStandby, qStore);
                assertEquals(2, q.timeline());
                assertTrue(q.backup() != null, "timeline 2 forked below 1@b1+1 and backed itself up");
            });
            List<String> highDeleted = new ArrayList<>();
            Retention.apply(slow, high, d -> highDeleted.add(d.key()));
            assertTrue(highDeleted.stream().anyMatch(k -> k.contains(hex(b0))), "P_h deleted b0: " + highDeleted);
            assertTrue(lowDeleted.stream().anyMatch(k -> k.contains(hex(b1))), "P_l deleted b1: " + lowDeleted);

            // T's promotion, after both prunes
            Promotion.Promoted p = Promotion.promote(tStandby, a);
            assertEquals(3, p.timeline());
            RuntimeException unrestorable = null;
            try {
                Restore.run(a, tmp.resolve("tl3"), Restore.Options.defaults().withTimeline(3), new Restore.Listener() { });
            } catch (RuntimeException e) {
                unrestorable = e;
            }
            assertTrue(p.backup() != null || unrestorable == null, "timeline 3 was promoted with no backup (the guard"
                    + " read timeline 1's highest watermark " + hex(b1 + 1) + " <= fork+1 as protected), yet the archive"
                    + " cannot restore it: " + unrestorable);
        }
    }

    /**
     * Must pass (false-positive guard): a leader on timeline 2, promoted live long ago from a follower at the end
     * of timeline 1, takes backups on timeline 2 regularly and retention keeps 2; timeline 1's backups have long
     * been pruned (but for its newest, which every timeline keeps). A restarted leader's shipper checks once and
     * must ship.
     */
    @Test
    void aLeaderRestartedOnTimeline2WithNormalRetentionShips() {
        Path leader = tmp.resolve("leader");
        Path follower = tmp.resolve("follower");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            try (Store s = Store.open(leader)) {
                for (int i = 0; i < 3; i++) {
                    writes(s, "a" + i, 40);
                    backup(s, a);
                    ship(leader, a);
                }
                writes(s, "z", 20);
                ship(leader, a);
            }
            Retention.apply(a, Retention.plan(a, new Retention.Policy(2, null), Instant.now()), d -> { });
            Restore.run(a, follower, Restore.Options.defaults(), new Restore.Listener() { });
            assertEquals(2, livePromote(follower, a));
            for (int day = 0; day < 4; day++) {
                try (Store s = Store.open(follower)) {
                    writes(s, "tl2-" + day, 40);
                    backup(s, a);
                }
                ship(follower, a);
                Retention.apply(a, Retention.plan(a, new Retention.Policy(2, null), Instant.now()), d -> { });
            }
            try (Store s = Store.open(follower)) {
                writes(s, "after", 20);
            }
            assertDoesNotThrow(() -> ship(follower, a), "a restarted leader on timeline 2 with normal retention");
            assertEquals(java.util.Optional.empty(), io.walship.archive.RetentionWatermark.forkUnprotected(a, 2,
                    t -> io.walship.archive.TimelineHistory.readOne(a, t)));
        }
    }

    /**
     * Must pass (false-positive guard): a follower at the end of timeline 1 promoted live (no backup) with
     * keep-backups 2, pruned before and after the promotion; its shipper's first run must ship.
     */
    @Test
    void aFollowerPromotedLiveAtItsEndWithKeepBackups2Ships() {
        Path leader = tmp.resolve("leader");
        Path follower = tmp.resolve("follower");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            try (Store s = Store.open(leader)) {
                for (int i = 0; i < 4; i++) {
                    writes(s, "a" + i, 40);
                    backup(s, a);
                    ship(leader, a);
                }
                writes(s, "z", 20);
                ship(leader, a);
            }
            Retention.apply(a, Retention.plan(a, new Retention.Policy(2, null), Instant.now()), d -> { });
            Restore.run(a, follower, Restore.Options.defaults(), new Restore.Listener() { });
            assertEquals(2, livePromote(follower, a));
            try (Store s = Store.open(follower)) {
                writes(s, "tl2-", 40);
            }
            assertDoesNotThrow(() -> ship(follower, a), "a follower promoted live at its end, keep-backups 2");
            Retention.apply(a, Retention.plan(a, new Retention.Policy(2, null), Instant.now()), d -> { });
            try (Store s = Store.open(follower)) {
                writes(s, "tl2b-", 40);
            }
            assertDoesNotThrow(() -> ship(follower, a), "after a prune that knows timeline 2");
            Restore.Result r = Restore.run(a, tmp.resolve("tl2"), Restore.Options.defaults().withTimeline(2),
                    new Restore.Listener() { });
            assertEquals(2, r.timeline());
        }
    }

    /**
     * review29 (smallfix a): the guard after an offline promotion now reads an ancestor's history from the data directory
     * when the archive lacks it (LocalHistories.readHereOrIn), and walks on. Before, an ancestor missing from the archive
     * made the guard fail ("checking ... failed", exit 1: "take a base backup of it now"), which is what the archive
     * needs here. The archive (A) lacks timeline 2 entirely (its history and its WAL: timeline 2 was claimed and written
     * in archive B only) and was never pruned, so the walk 3 -> 2 -> 1 finds no watermark and says "protected": no
     * backup, no error, exit 0. But A cannot restore timeline 3: timeline 2's WAL between its fork and timeline 3's fork
     * is in B only (a restored standby's data directory does not hold it to ship), so the only backups on timeline 3's
     * path in A (timeline 1's) cannot reach it. Passes on main (the promotion fails naming the backup to take).
     */
    @Test
    void theGuardPassesAnArchiveThatLacksTheAncestorsWal() {
        Path leader = tmp.resolve("leader");
        Path t2 = tmp.resolve("t2");
        Path standby = tmp.resolve("standby");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archiveA"));
             ObjectStore b = ObjectStores.open("file://" + tmp.resolve("archiveB"))) {
            long b1;
            try (Store s = Store.open(leader)) {
                writes(s, "a", 50);
                b1 = backup(s, a);
                backup(s, b);
                writes(s, "b", 50);
                ship(leader, a);
                ship(leader, b);
            }
            // timeline 2: restored from B and promoted into B, written, shipped to B only
            Restore.run(b, t2, Restore.Options.defaults().withTarget(RestoreTarget.lsn(b1 + 5, false)),
                    new Restore.Listener() { });
            assertEquals(2, Promotion.promote(t2, b).timeline());
            try (Store s = Store.open(t2)) {
                writes(s, "tl2-", 60);
            }
            ship(t2, b);
            // a standby of timeline 2 (restored from B), keeping timeline 2's record as the smallfix test's does
            assertEquals(2, Restore.run(b, standby, Restore.Options.defaults(), new Restore.Listener() { }).timeline());
            LocalHistories.save(standby, LocalHistories.read(t2, 2).orElseThrow());
            assertTrue(a.head(io.walship.archive.ArchiveLayout.historyKey(2)).isEmpty(), "setup: A lacks timeline 2");

            Promotion.Promoted p;
            try {
                p = Promotion.promote(standby, a);
            } catch (io.walship.wal.WalshipException e) {
                // main: the guard cannot read timeline 2 from A and fails, telling the operator to take a backup of
                // timeline 3 into A, which is what A needs
                assertTrue(e.getMessage().contains("walship backup --data " + standby), e.getMessage());
                return;
            }
            assertEquals(3, p.timeline());
            StateDigest tl3;
            tl3 = writtenDigest(standby, "tl3-", 30);
            ship(standby, a);
            System.out.println("A after the promotion: timelines " + ArchiveListing.of(a).timelines() + ", timeline 2 WAL "
                    + ArchiveListing.of(a).coverage(2) + ", backup taken by the guard: " + p.backup());
            ArchiveVerifier.Report r = ArchiveVerifier.verify(a, 2, false, m -> { });
            assertTrue(p.backup() != null || r.ok(), "the guard said timeline 3 needs no backup in A (exit 0), but A"
                    + " cannot restore it: verify " + r.problems());
            Restore.Result res = assertDoesNotThrow(() -> Restore.run(a, tmp.resolve("drill"), Restore.Options.defaults(),
                    new Restore.Listener() { }), "A restores timeline 3");
            assertEquals(3, res.timeline());
            try (Store s = Store.open(tmp.resolve("drill"))) {
                assertEquals(tl3, s.digest());
            }
        }
    }
}
