package io.walship.restorer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;

import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.shipper.BaseBackup;
import io.walship.shipper.WalShipper;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import io.walship.wal.WalEntry;
import io.walship.wal.WalReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Defect 8a of issue 9: an inclusive {@code --time T} stops at T only when the archive holds a
 * commit later than T; when the last archived commit is at T itself, more commits of that
 * microsecond may not be archived yet, so the target is not reached (RestoreException, exit 3).
 */
class TimeTargetNotYetReachedTest {
    @TempDir
    Path tmp;

    private static long lastCommitMicros(Path data) {
        long t = -1;
        try (WalReader r = WalReader.open(data)) {
            r.seek(1).headersOnly();
            WalEntry e;
            while ((e = r.next()) != null) {
                t = e.commitTimeMicros();
            }
        }
        return t;
    }

    @Test
    void aLastArchivedCommitAtTheTargetTimeDoesNotReachIt() {
        Path data = tmp.resolve("d");
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"));
             Store store = Store.open(data);
             WalShipper shipper = new WalShipper(data, archive, WalShipper.Options.defaults())) {
            for (int i = 0; i < 10; i++) {
                store.put(("k" + i).getBytes(StandardCharsets.UTF_8), "v".getBytes(StandardCharsets.UTF_8));
            }
            try (Snapshot snap = store.snapshot()) {
                BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), archive, Codec.ZSTD, x -> { });
            }
            store.put("last".getBytes(StandardCharsets.UTF_8), "v".getBytes(StandardCharsets.UTF_8));
            shipper.shipOnce();
            long lastLsn = store.lastLsn();
            long t = lastCommitMicros(data);
            Instant at = Instant.ofEpochSecond(t / 1_000_000, (t % 1_000_000) * 1_000);

            RestoreException e = assertThrows(RestoreException.class, () -> Restore.run(archive, tmp.resolve("r1"),
                    Restore.Options.defaults().withTarget(RestoreTarget.time(at, false)), new Restore.Listener() { }));
            assertTrue(e.getMessage().contains("committed exactly at the target"), e.getMessage());
            assertTrue(e.getMessage().contains("not reached yet"), e.getMessage());

            // once a later commit is archived, the same target is reached and stops at the commit at T
            int i = 0;
            while (lastCommitMicros(data) <= t) {
                store.put(("later" + i++).getBytes(StandardCharsets.UTF_8), "v".getBytes(StandardCharsets.UTF_8));
            }
            shipper.shipOnce();
            Restore.Result r = Restore.run(archive, tmp.resolve("r2"),
                    Restore.Options.defaults().withTarget(RestoreTarget.time(at, false)), new Restore.Listener() { });
            assertTrue(r.lsn() >= lastLsn, "every commit at T is in: " + r.lsn());
            assertEquals(t, r.commitTimeMicros());
        }
    }
}
