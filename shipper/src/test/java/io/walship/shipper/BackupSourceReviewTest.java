package io.walship.shipper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

import io.walship.archive.Codec;
import io.walship.archive.ObjectInfo;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.wal.Durability;
import io.walship.wal.IntegrityException;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Review of backup --data's digest beside the upload (fce6e1d). */
class BackupSourceReviewTest {
    private static final int PAGE = 4096;

    @TempDir
    Path tmp;

    /**
     * A stopped store with a damaged B-tree page: before fce6e1d the digest ran first and the
     * backup failed with an IntegrityException (exit 3) before a byte reached the archive. Now the
     * image upload runs first; its reader trips over the page, the compressor closes the pipe, the
     * partial image is stored, and the error comes out as an UncheckedIOException (exit 1). The
     * digest thread's IntegrityException, found early, is never asked for.
     */
    @Test
    void aDamagedTreePageFailsAsAnIntegrityErrorAndUploadsNothing() throws Exception {
        Path dir = tmp.resolve("data");
        try (Store store = Store.open(dir)) {
            for (int i = 0; i < 3000; i++) {
                store.put(String.format("key-%06d", i).getBytes(StandardCharsets.UTF_8), new byte[100], Durability.ASYNC);
            }
            store.checkpoint();
        }
        Path pages = dir.resolve("pages.dat");
        try (FileChannel ch = FileChannel.open(pages, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long n = ch.size() / PAGE;
            long victim = n / 2; // a leaf in the middle of the key range
            ch.write(ByteBuffer.wrap(new byte[] {(byte) 0xA5, (byte) 0x5A, 0x33, 0x44}), victim * PAGE + 1000);
            ch.force(true);
        }
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            Throwable t = assertThrows(Throwable.class,
                    () -> new BackupSource.StoppedStore(dir).backup(archive, Codec.ZSTD, total -> done -> { }));
            List<String> keys = archive.list("", null).stream().map(ObjectInfo::key).toList();
            assertEquals(IntegrityException.class, t.getClass(), "a damaged page is an integrity failure (exit 3): " + t + "; archive now holds " + keys);
            assertEquals(List.of(), keys, "nothing uploaded for a store whose pages are damaged");
        }
    }

    /**
     * The LeaderClient path: the digest comes from the leader's response headers with the image.
     * One whose LSN is not the image's was refused before any upload; since fce6e1d the check runs
     * after the image is stored, so the whole image is uploaded and left behind without a manifest.
     */
    @Test
    void aDigestForAnotherLsnIsRefusedBeforeTheImageIsUploaded() throws Exception {
        Path dir = tmp.resolve("data");
        try (Store store = Store.open(dir);
             ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            for (int i = 0; i < 200; i++) {
                store.put(("k" + i).getBytes(StandardCharsets.UTF_8), new byte[100], Durability.ASYNC);
            }
            try (io.walship.wal.Snapshot snap = store.snapshot()) {
                io.walship.wal.StateDigest right = io.walship.wal.StateDigest.of(snap.pages(), snap.lsn());
                io.walship.wal.StateDigest wrong = new io.walship.wal.StateDigest(snap.lsn() - 1, right.pairs(), right.sha256());
                try (java.io.InputStream image = snap.openStream()) {
                    assertThrows(IllegalArgumentException.class,
                            () -> BaseBackup.upload(image, wrong, archive, Codec.ZSTD, x -> { }));
                }
            }
            assertEquals(List.of(), archive.list("", null).stream().map(ObjectInfo::key).toList(),
                    "nothing uploaded for a digest of another LSN");
        }
    }
}
