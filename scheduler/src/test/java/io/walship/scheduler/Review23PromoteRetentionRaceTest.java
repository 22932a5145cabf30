package io.walship.scheduler;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.restorer.Restore;
import io.walship.restorer.RestoreTarget;
import io.walship.shipper.BaseBackup;
import io.walship.shipper.WalShipper;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * review23: {@code restore --promote} claims its timeline only after the replay, and nothing checks at the claim
 * that the base backup (and WAL) it was restored from is still in the archive. A retention run that plans and
 * applies while the restore replays (before the claim) sees no new timeline, so its "every timeline keeps the
 * newest backup it can restore from" rule (docs/OPERATIONS.md "Archive retention": "what keeps a promotion safe")
 * cannot protect it, and Retention.apply's own new-timeline check passes. The promotion then succeeds (exit 0) and
 * leaves a timeline the archive cannot restore: no base backup on its ancestry. Deterministic: retention runs from
 * the restore's own progress callback, between the last replayed entry and the claim.
 */
class Review23PromoteRetentionRaceTest {
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

    @Test
    void retentionDuringRestorePromoteLeavesTheNewTimelineWithoutABaseBackup() {
        Path data = tmp.resolve("leader");
        Path promoted = tmp.resolve("promoted");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
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
            try (Store s = Store.open(promoted)) {
                writes(s, "tl2-", 30);
                tl2 = s.digest();
            }
            ship(promoted, a);
            // the promise: the new timeline restores from the archive (retention keeps each timeline's newest usable backup)
            Restore.Result again = assertDoesNotThrow(() -> Restore.run(a, tmp.resolve("tl2"), Restore.Options.defaults(),
                    new Restore.Listener() { }), "timeline 2 is left with no base backup on its ancestry");
            assertEquals(2, again.timeline());
            try (Store s = Store.open(tmp.resolve("tl2"))) {
                assertEquals(tl2, s.digest());
            }
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
            long b1;
            try (Store s = Store.open(data)) {
                writes(s, "a", 50);
                b1 = backup(s, a);
                backup(s, b);
                writes(s, "b", 50);
                ship(data, a);
                ship(data, b);
                backup(s, a);
                backup(s, b);
                writes(s, "c", 50);
                ship(data, a);
                ship(data, b);
            }
            Restore.Result r = Restore.run(a, promoted, Restore.Options.defaults()
                    .withTarget(RestoreTarget.lsn(b1 + 5, false)).withPromote(true), new Restore.Listener() { });
            assertEquals(2, r.promotedTimeline());
            // a prune of B before the new leader has shipped to it: B knows only timeline 1
            Retention.apply(b, Retention.plan(b, new Retention.Policy(1, null), Instant.now()), d -> { });
            StateDigest tl2;
            try (Store s = Store.open(promoted)) {
                writes(s, "tl2-", 30);
                tl2 = s.digest();
            }
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
            try (Store s = Store.open(promoted)) {
                backup(s, b); // what the message asks for
            }
            ship(promoted, b); // shipping to B resumes by itself
            Restore.Result fromA = Restore.run(a, tmp.resolve("tl2a"), Restore.Options.defaults(), new Restore.Listener() { });
            assertEquals(2, fromA.timeline(), "archive A restores timeline 2");
            Restore.Result fromB = assertDoesNotThrow(() -> Restore.run(b, tmp.resolve("tl2b"), Restore.Options.defaults(),
                    new Restore.Listener() { }), "archive B cannot restore timeline 2: its base backup was pruned");
            assertEquals(2, fromB.timeline());
            try (Store s = Store.open(tmp.resolve("tl2b"))) {
                assertEquals(tl2, s.digest());
            }
        }
    }
    /** Two backups on timeline 1 and WAL past both; returns the older backup's LSN. */
    private long twoBackups(Path data, ObjectStore a) {
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
            long b1 = twoBackups(tmp.resolve("leader"), a);
            Restore.run(a, standby, Restore.Options.defaults().withTarget(RestoreTarget.lsn(b1 + 5, false)),
                    new Restore.Listener() { });
            Retention.apply(a, Retention.plan(a, new Retention.Policy(1, null), Instant.now()), d -> { });
            io.walship.restorer.Promotion.Promoted p = io.walship.restorer.Promotion.promote(standby, a);
            assertEquals(2, p.timeline());
            assertTrue(p.backup() != null && p.backup().imageKey().startsWith("backups/00000002-"), "" + p.backup());
            StateDigest tl2;
            try (Store s = Store.open(standby)) {
                writes(s, "tl2-", 30);
                tl2 = s.digest();
            }
            ship(standby, a);
            Restore.Result again = Restore.run(a, tmp.resolve("tl2"), Restore.Options.defaults(), new Restore.Listener() { });
            assertEquals(2, again.timeline());
            assertTrue(again.backupKey().startsWith("backups/00000002-"), again.backupKey());
            try (Store s = Store.open(tmp.resolve("tl2"))) {
                assertEquals(tl2, s.digest());
            }
        }
    }
}
