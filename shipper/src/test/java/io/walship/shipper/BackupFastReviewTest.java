package io.walship.shipper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;

import io.walship.archive.BackupManifest;
import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.wal.Durability;
import io.walship.wal.IntegrityException;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Review of branch backup-fast (a stopped store's digest on its own thread, beside the image). */
class BackupFastReviewTest {
    private static final int PAGE = 4096;
    private static final long SEED = 20261203L;

    @TempDir
    Path tmp;

    /**
     * A stopped store whose pages were damaged after a backup at its LSN was taken. On main the
     * digest ran first and {@code backup --data} failed with an IntegrityException (exit 3); the
     * branch's docs still say "a damaged page met by either is exit 3". On backup-fast, the upload
     * finds the manifest at that LSN and returns it; the digest thread meets the damaged page, its
     * IntegrityException goes into a future nobody reads, and the backup succeeds (exit 0).
     */
    @Test
    void aDamagedStoreIsAnIntegrityFailureEvenWhenABackupAtItsLsnExists() throws Exception {
        System.out.println("BackupFastReviewTest seed " + SEED);
        Path dir = tmp.resolve("data");
        Random rnd = new Random(SEED);
        try (Store store = Store.open(dir)) {
            for (int i = 0; i < 3000; i++) {
                byte[] v = new byte[100];
                rnd.nextBytes(v);
                store.put(String.format("key-%06d", i).getBytes(StandardCharsets.UTF_8), v, Durability.ASYNC);
            }
            store.checkpoint();
        }
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            BackupManifest first = new BackupSource.StoppedStore(dir).backup(archive, Codec.ZSTD, total -> done -> { });
            try (FileChannel ch = FileChannel.open(dir.resolve("pages.dat"), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                long victim = ch.size() / PAGE / 2; // a leaf in the middle of the key range
                ch.write(ByteBuffer.wrap(new byte[] {(byte) 0xA5, (byte) 0x5A, 0x33, 0x44}), victim * PAGE + 1000);
                ch.force(true);
            }
            Throwable t = assertThrows(Throwable.class,
                    () -> new BackupSource.StoppedStore(dir).backup(archive, Codec.ZSTD, total -> done -> { }),
                    "the store at LSN " + first.lsn() + " has a damaged page, yet the backup succeeded");
            assertEquals(IntegrityException.class, t.getClass(), "a damaged page is an integrity failure (exit 3): " + t);
        }
    }
}
