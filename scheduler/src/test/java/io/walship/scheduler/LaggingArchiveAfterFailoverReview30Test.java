package io.walship.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import io.walship.archive.ArchiveListing;
import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.restorer.ArchiveVerifier;
import io.walship.restorer.Promotion;
import io.walship.restorer.Restore;
import io.walship.shipper.BaseBackup;
import io.walship.shipper.WalShipper;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * review30 (found by VerifyOracleReview30Test, seed 2): a leader ships to a primary A and a second archive B (an
 * optional one, "shipped to, never waited for", or a required one that is behind when the leader dies). The leader
 * dies with B behind A. The documented failover ("Procedure after losing the leader": restore from A, walship
 * promote into A) gives a store whose data directory holds none of the entries B lacks. Its shipper then ships the
 * new timeline to B from the fork on, over a hole on the parent's timeline: B can never restore the new timeline
 * (nor reach anything past the hole) and says so only when someone restores from it or verifies it. The shipper
 * refuses an archive that "may not restore timeline T" when retention pruned the fork's base (LocalHistories
 * .requireBaseKept), but not when the parent's WAL up to the fork never reached it. Either that run to B should fail
 * naming the hole (take a base backup into B), or B should restore timeline 2.
 */
class LaggingArchiveAfterFailoverReview30Test {
    @TempDir
    Path tmp;

    private static void writes(Store s, String tag, int n) {
        for (int i = 0; i < n; i++) {
            s.put(("k" + (i % 20)).getBytes(StandardCharsets.UTF_8), (tag + i).getBytes(StandardCharsets.UTF_8));
        }
    }

    private static void ship(Path data, ObjectStore a) {
        try (WalShipper w = new WalShipper(data, a, new WalShipper.Options(Codec.ZSTD, 4096))) {
            w.shipOnce();
        }
    }

    @Test
    void theNewLeadersShipperFillsOrRefusesALaggingArchive() {
        Path leader = tmp.resolve("leader");
        Path standby = tmp.resolve("standby");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archiveA"));
             ObjectStore b = ObjectStores.open("file://" + tmp.resolve("archiveB"))) {
            try (Store s = Store.open(leader)) {
                writes(s, "a", 40);
                for (ObjectStore x : new ObjectStore[] {a, b}) {
                    try (Snapshot snap = s.snapshot()) {
                        BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), x, Codec.ZSTD, p -> { });
                    }
                }
                writes(s, "b", 40);
            }
            ship(leader, a);
            ship(leader, b);
            try (Store s = Store.open(leader)) {
                writes(s, "c", 40);
            }
            ship(leader, a); // B's loop is behind when the leader dies
            long aEnd = ArchiveListing.of(a).lastArchivedLsn(1);
            assertTrue(ArchiveListing.of(b).lastArchivedLsn(1) < aEnd, "setup: B lags A");

            // failover as documented: restore from A, walship promote into A
            Restore.run(a, standby, Restore.Options.defaults(), new Restore.Listener() { });
            Promotion.Promoted p = Promotion.promote(standby, a);
            assertEquals(2, p.timeline());
            assertNull(p.backup());
            try (Store s = Store.open(standby)) {
                writes(s, "t2-", 40);
            }
            ship(standby, a);
            boolean shippedToB;
            try {
                ship(standby, b);
                shippedToB = true;
            } catch (RuntimeException refused) {
                shippedToB = false; // refusing B, naming what to do, is a fine answer
            }
            if (shippedToB) {
                ArchiveVerifier.Report r = ArchiveVerifier.verify(b, 2, false, m -> { });
                try {
                    Restore.run(b, tmp.resolve("fromB"), Restore.Options.defaults(), new Restore.Listener() { });
                } catch (RuntimeException e) {
                    fail("the new leader's shipper shipped timeline 2 to B over a hole on timeline 1 (B ends at "
                            + Long.toHexString(ArchiveListing.of(b).lastArchivedLsn(1)) + ", the fork is at "
                            + Long.toHexString(aEnd) + "), without a word; B cannot restore it: " + e.getMessage()
                            + "; verify B: " + r.problems());
                }
            }
        }
    }
}
