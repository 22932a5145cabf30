package io.walship.scheduler;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import io.walship.archive.ArchiveListing;
import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.restorer.ArchiveVerifier;
import io.walship.restorer.Promotion;
import io.walship.restorer.Restore;
import io.walship.restorer.RestoreTarget;
import io.walship.shipper.BaseBackup;
import io.walship.shipper.LocalHistories;
import io.walship.shipper.WalShipper;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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
class GuardLocalHistoryReview29Test {
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
            try (Store s = Store.open(standby)) {
                writes(s, "tl3-", 30);
                tl3 = s.digest();
            }
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
