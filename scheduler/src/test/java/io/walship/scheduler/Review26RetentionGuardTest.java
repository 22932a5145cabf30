package io.walship.scheduler;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * review26: second adversarial review of fix23's promotion/retention guard (RetentionWatermark.forkUnprotected)
 * after review24's fixes. Deterministic interleavings (hooks in the store), no sleeps.
 */
class Review26RetentionGuardTest {
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

    private static String hex(long lsn) {
        return String.format("%016X", lsn);
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
}
