package io.walship.scheduler;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import io.walship.archive.Codec;
import io.walship.archive.ForwardingObjectStore;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.StorageException;
import io.walship.restorer.Promotion;
import io.walship.restorer.Restore;
import io.walship.restorer.RestoreTarget;
import io.walship.shipper.BaseBackup;
import io.walship.shipper.LocalHistories;
import io.walship.shipper.WalShipper;
import io.walship.wal.ControlFile;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import io.walship.wal.WalshipException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * review24: adversarial review of fix23 (retention vs promotion). Each test is an interleaving of prunes, claims,
 * backups and shipping against the guards fix23 added (Retention.apply's watermark-before-listing,
 * Promotion.forkUnprotected / backUpIfUnprotected, LocalHistories.requireBaseKept).
 */
class Review24RetentionGuardTest {
    @TempDir
    Path tmp;

    private static void writes(Store s, String tag, int n) {
        for (int i = 0; i < n; i++) {
            s.put(("k" + (i % 20)).getBytes(StandardCharsets.UTF_8), (tag + i).getBytes(StandardCharsets.UTF_8));
        }
    }

    private static long backup(Store s, ObjectStore a) {
        try (Snapshot snap = s.snapshot()) {
            BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), a, Codec.ZSTD, x -> { });
            return snap.lsn();
        }
    }

    private static void ship(Path data, ObjectStore a) {
        try (WalShipper w = new WalShipper(data, a, new WalShipper.Options(Codec.ZSTD, 4096))) {
            w.shipOnce();
        }
    }

    /** Two backups on timeline 1 and WAL past both; returns the older backup's LSN. */
    private static long twoBackups(Path data, ObjectStore a) {
        long b1;
        try (Store s = Store.open(data)) {
            writes(s, "a", 50);
            b1 = backup(s, a);
            writes(s, "b", 50);
            ship(data, a);
            backup(s, a);
            writes(s, "c", 50);
            ship(data, a);
        }
        return b1;
    }

    /** What a live follower's promotion does to the archive and its directory (LiveFollower.promote): no backup. */
    private static int livePromote(Path dir, ObjectStore a) {
        ControlFile c = ControlFile.read(dir);
        int tl = Promotion.claimNext(a, c.timeline(), c.checkpointLsn(), c.checkpointTimeMicros(), "live promotion (test)");
        LocalHistories.saveFrom(a, dir, tl);
        ControlFile.read(dir).promoted(tl).write(dir);
        return tl;
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
            try (Store s = Store.open(standby)) {
                writes(s, "tl2b-", 30);
                tl2 = s.digest();
            }
            // a new shipper (a restart of the leader) checks again, and refuses again, until a backup is taken
            WalshipException again = assertThrows(WalshipException.class, () -> ship(standby, a));
            assertTrue(again.getMessage().contains("may not restore timeline 2"), again.getMessage());
            try (Store s = Store.open(standby)) {
                backup(s, a); // what the message asks for
            }
            ship(standby, a);
            Restore.Result r = assertDoesNotThrow(() -> Restore.run(a, tmp.resolve("tl2"), Restore.Options.defaults(),
                    new Restore.Listener() { }), "archive A cannot restore timeline 2");
            assertEquals(2, r.timeline());
            try (Store s = Store.open(tmp.resolve("tl2"))) {
                assertEquals(tl2, s.digest());
            }
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
            long b1 = twoBackups(tmp.resolve("leader"), a);
            Restore.run(a, standby, Restore.Options.defaults().withTarget(RestoreTarget.lsn(b1 + 5, false)),
                    new Restore.Listener() { });
            Retention.apply(a, Retention.plan(a, new Retention.Policy(1, null), Instant.now()), d -> { });
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
            try (Store s = Store.open(t3)) {
                writes(s, "tl3-", 30);
                tl3 = s.digest();
            }
            assertDoesNotThrow(() -> ship(t3, a), "archive A holds timeline 3's base (timeline 2's backup), yet its"
                    + " shipper refuses it");
            Restore.Result again = Restore.run(a, tmp.resolve("tl3"), Restore.Options.defaults(), new Restore.Listener() { });
            assertEquals(3, again.timeline());
            try (Store s = Store.open(tmp.resolve("tl3"))) {
                assertEquals(tl3, s.digest());
            }
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
            long b1 = twoBackups(tmp.resolve("leader"), a);
            Restore.run(a, standby, Restore.Options.defaults().withTarget(RestoreTarget.lsn(b1 + 5, false)),
                    new Restore.Listener() { });
            Retention.apply(a, Retention.plan(a, new Retention.Policy(1, null), Instant.now()), d -> { });
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
            long b1 = twoBackups(tmp.resolve("leader"), a);
            Restore.run(a, standby, Restore.Options.defaults().withTarget(RestoreTarget.lsn(b1 + 5, false)),
                    new Restore.Listener() { });
            Retention.apply(a, Retention.plan(a, new Retention.Policy(1, null), Instant.now()), d -> { });
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
            long b1;
            try (Store s = Store.open(leader)) {
                writes(s, "a", 50);
                b1 = backup(s, a);
                backup(s, b);
                writes(s, "b", 50);
                ship(leader, a);
                ship(leader, b);
                backup(s, a);
                backup(s, b);
                writes(s, "c", 50);
                ship(leader, a);
                ship(leader, b);
            }
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
}
