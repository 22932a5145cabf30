package io.walship.scheduler;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.BackupManifest;
import io.walship.archive.BackupPin;
import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.restorer.ArchiveVerifier;
import io.walship.restorer.Promotion;
import io.walship.restorer.Restore;
import io.walship.restorer.RestoreTarget;
import io.walship.shipper.BackupType;
import io.walship.shipper.BaseBackup;
import io.walship.shipper.WalShipper;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * review30: a deployment's life in one archive, as the scheduler and an operator drive it (scheduled backups, full
 * and incremental; retention keeping 2; a pin; offline failovers by {@code restore --promote} and by
 * {@code walship promote} of a standby restored from the same archive; a PITR {@code restore --promote} drill copy
 * never written). After every step {@code archive verify} must pass (the scheduler pages on exit 3 and skips the
 * drill), the default restore must work, and no offline promotion of a standby restored from this archive takes a
 * guard backup.
 */
class VerifyLifecycleReview30Test {
    @TempDir
    Path tmp;

    private static void writes(Store s, String tag, int n) {
        for (int i = 0; i < n; i++) {
            s.put(("k" + (i % 20)).getBytes(StandardCharsets.UTF_8), (tag + i).getBytes(StandardCharsets.UTF_8));
        }
    }

    private static BackupManifest backup(Store s, ObjectStore a, BackupType.Policy p) {
        try (Snapshot snap = s.snapshot()) {
            return BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), a, Codec.ZSTD, x -> { }, p);
        }
    }

    private static void ship(Path data, ObjectStore a) {
        try (WalShipper w = new WalShipper(data, a, new WalShipper.Options(Codec.ZSTD, 4096))) {
            w.shipOnce();
        }
    }

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
