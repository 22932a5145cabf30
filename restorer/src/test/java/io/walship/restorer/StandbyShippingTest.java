package io.walship.restorer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

import io.walship.archive.Codec;
import io.walship.archive.ObjectInfo;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.shipper.BaseBackup;
import io.walship.shipper.WalShipper;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A standby restored to a point inside the archive (PITR, not promoted) and run as a leader with
 * {@code --archive} holds a prefix of the archive's own history: its WAL is durable only below the
 * archive's end, which is no splice. Shipping from it has nothing to do and must not stop the ship
 * loop for good with "the archive holds another history".
 */
class StandbyShippingTest {
    @TempDir
    Path tmp;

    @Test
    void aPitrStandbyShipsNothingAndIsNoSplice() {
        Path data = tmp.resolve("data");
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            long mid;
            try (Store store = Store.open(data)) {
                for (int i = 0; i < 10; i++) {
                    store.put(("k" + i).getBytes(StandardCharsets.UTF_8), "v".getBytes(StandardCharsets.UTF_8));
                }
                try (Snapshot snap = store.snapshot()) {
                    BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), archive, Codec.ZSTD, x -> { });
                }
                for (int i = 0; i < 20; i++) {
                    store.put(("m" + i).getBytes(StandardCharsets.UTF_8), "v".getBytes(StandardCharsets.UTF_8));
                }
                mid = store.lastLsn() - 10;
            }
            try (WalShipper s = new WalShipper(data, archive, WalShipper.Options.defaults())) {
                s.shipOnce();
            }
            Path standby = tmp.resolve("standby");
            Restore.Result r = Restore.run(archive, standby, Restore.Options.defaults().withTarget(RestoreTarget.lsn(mid, false)),
                    new Restore.Listener() { });
            assertEquals(mid, r.lsn());
            List<String> before = archive.list("", null).stream().map(ObjectInfo::key).toList();

            // walship leader --data standby --archive URI: the store is open, its ship loop runs
            try (Store store = Store.open(standby)) {
                assertTrue(store.standby());
                try (WalShipper shipper = new WalShipper(standby, archive, WalShipper.Options.defaults())) {
                    WalShipper.Result res = shipper.shipOnce(); // threw ArchiveSpliceException: a ship loop stopped for good
                    assertEquals(0, res.segments(), res.toString());
                }
            }
            assertEquals(before, archive.list("", null).stream().map(ObjectInfo::key).toList());
        }
    }
}
