package io.walship.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import io.walship.archive.Codec;
import io.walship.archive.ForwardingObjectStore;
import io.walship.archive.ObjectInfo;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.restorer.ArchiveVerifier;
import io.walship.restorer.Promotion;
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
 * review29 (verifybase): verify lists the archive once, in key order (an S3 listing is paginated: backups/ comes
 * long before wal/). A promotion whose guard takes a backup on the new timeline (its fork lies below the parent's
 * window: the documented "Timelines and promotion" case), followed by the new leader's first shipment, can fall
 * between the page that held backups/ and the pages of timelines/ and wal/: the listing then has timeline 2's
 * history and WAL but not the backup the guard took. Verify re-lists only when a backup listed on the path vanished
 * (onPath non-empty); here none was listed on it, so it reports timeline 2 "unrestorable" (exit 3) at once, on an
 * archive that restores timeline 2 and that the next verify passes.
 */
class VerifyListingRaceReview29Test {
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
    void aPromotionBetweenTheListingsPagesIsNotAnUnrestorableTimeline() {
        Path leader = tmp.resolve("leader");
        Path standby = tmp.resolve("standby");
        try (ObjectStore inner = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            long b1;
            try (Store s = Store.open(leader)) {
                writes(s, "a", 50);
                b1 = backup(s, inner);
                writes(s, "b", 50);
                ship(leader, inner);
                backup(s, inner);
                writes(s, "c", 50);
                ship(leader, inner);
            }
            Restore.run(inner, standby, Restore.Options.defaults().withTarget(RestoreTarget.lsn(b1 + 5, false)),
                    new Restore.Listener() { });
            Retention.apply(inner, Retention.plan(inner, new Retention.Policy(1, null), Instant.now()), d -> { });

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
}
