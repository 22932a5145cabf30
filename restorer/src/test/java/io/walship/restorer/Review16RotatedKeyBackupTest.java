package io.walship.restorer;

import static io.walship.restorer.OneStoreTesting.put;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;

import io.walship.archive.ArchiveListing;
import io.walship.archive.Codec;
import io.walship.archive.EncryptedObjectStore;
import io.walship.archive.EncryptionKeys;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ObjectStore;
import io.walship.shipper.BaseBackup;
import io.walship.shipper.WalShipper;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * review16: a backup writes with the current key only; before the new check it read nothing of
 * the archive's sealed WAL, so a backup job given only the new key after a rotation worked. Now it
 * reads the oldest segment of its timeline (the one most likely sealed with a retired key) and
 * fails with exit 2 (EncryptionKeyException), though the check's own rule is that a header that
 * cannot say does not stop the backup.
 */
class Review16RotatedKeyBackupTest {
    @TempDir
    Path tmp;

    private static byte[] key(int b) {
        byte[] k = new byte[32];
        java.util.Arrays.fill(k, (byte) b);
        return k;
    }

    @Test
    void theOwnersBackupWithOnlyTheNewKeyStillGoesIn() throws Exception {
        Path a = tmp.resolve("a");
        try (ObjectStore old = new EncryptedObjectStore(new LocalObjectStore(tmp.resolve("archive")),
                EncryptionKeys.of(List.of(key(1))))) {
            try (Store store = Store.open(a)) {
                put(store, "a", 20);
            }
            try (WalShipper s = new WalShipper(a, old, WalShipper.Options.defaults())) {
                s.shipOnce();
            }
        }
        try (ObjectStore rotated = new EncryptedObjectStore(new LocalObjectStore(tmp.resolve("archive")),
                EncryptionKeys.of(List.of(key(2))));
             Store store = Store.open(a)) {
            put(store, "a2-", 5);
            try (Snapshot snap = store.snapshot()) {
                BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), rotated, Codec.ZSTD, x -> { });
            }
            assertEquals(1, ArchiveListing.of(rotated).backups().size());
        }
    }
}
