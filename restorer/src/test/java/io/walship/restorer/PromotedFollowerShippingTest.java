package io.walship.restorer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import io.walship.archive.ArchiveListing;
import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.shipper.BaseBackup;
import io.walship.shipper.WalShipper;
import io.walship.wal.ControlFile;
import io.walship.wal.Durability;
import io.walship.wal.Snapshot;
import io.walship.wal.SnapshotLoader;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import io.walship.wal.WalEntry;
import io.walship.wal.WalReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A follower promoted live holds entries its dead leader never archived. Its first shipment puts
 * those under the old timeline, continuing the old leader's segments without overlap, and its own
 * entries under the new timeline: a default restore of the archive then reaches the new leader's
 * state, with no gap at the fork.
 */
class PromotedFollowerShippingTest {
    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void theOldTimelinesUnarchivedTailGoesUnderItAndARestoreReachesTheNewLeader() throws Exception {
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            Path fDir = tmp.resolve("f");
            long shippedByOld;
            long fork;
            try (Store old = Store.open(tmp.resolve("old"))) {
                for (int i = 0; i < 10; i++) {
                    old.put(b("k" + i), b("v" + i));
                }
                try (Snapshot snap = old.snapshot()) {
                    BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), archive, Codec.ZSTD, x -> { });
                }
                try (Snapshot snap = old.snapshot(); InputStream in = snap.openStream()) {
                    SnapshotLoader.load(in, fDir);
                }
                ControlFile.read(fDir).asStandby().write(fDir);
                for (int i = 0; i < 50; i++) {
                    old.put(b("k" + (i % 17)), b("w" + i));
                }
                try (WalShipper s = new WalShipper(old.dir(), archive, WalShipper.Options.defaults())) {
                    s.shipOnce();
                }
                shippedByOld = old.lastLsn();
                for (int i = 0; i < 40; i++) {
                    old.put(b("k" + (i % 13)), b("x" + i)); // the old leader dies before shipping these
                }
                try (Store f = Store.open(fDir); WalReader r = old.walReader()) {
                    r.seek(f.lastLsn() + 1);
                    List<WalEntry> all = new ArrayList<>();
                    WalEntry e;
                    while ((e = r.next()) != null) {
                        all.add(e);
                    }
                    f.applyAll(all, Durability.DURABLE);
                    fork = f.lastLsn();
                    assertEquals(old.lastLsn(), fork);
                }
            }
            assertEquals(shippedByOld, ArchiveListing.of(archive).lastArchivedLsn(1));
            assertEquals(2, Promotion.claimNext(archive, 1, fork, 0, "live promotion of f"));
            ControlFile.read(fDir).promoted(2).write(fDir);
            StateDigest expected;
            try (Store f = Store.open(fDir)) {
                for (int i = 0; i < 30; i++) {
                    f.put(b("k" + (i % 11)), b("y" + i));
                }
                expected = f.digest();
                try (WalShipper s = new WalShipper(fDir, archive, WalShipper.Options.defaults())) {
                    s.shipOnce();
                }
            }
            ArchiveListing listing = ArchiveListing.of(archive);
            assertEquals(fork, listing.lastArchivedLsn(1), "the old timeline's tail went under timeline 1");
            assertEquals(fork + 30, listing.lastArchivedLsn(2));
            long next = 0;
            for (ArchiveListing.SegmentInfo s : listing.segments(1)) {
                if (next != 0) {
                    assertEquals(next, s.name().firstLsn(), "timeline 1's segments overlap or leave a gap: " + listing.segments(1));
                }
                next = s.name().lastLsn() + 1;
            }
            assertEquals(fork + 1, listing.segments(2).get(0).name().firstLsn());
            Restore.Result r = Restore.run(archive, tmp.resolve("restored"), Restore.Options.defaults(), new Restore.Listener() { });
            assertEquals(2, r.timeline());
            assertEquals(fork + 30, r.lsn());
            try (Store restored = Store.open(tmp.resolve("restored"))) {
                assertEquals(expected.sha256(), restored.digest().sha256());
            }
        }
    }
}
