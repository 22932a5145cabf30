package io.walship.shipper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.Codec;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ObjectStore;
import io.walship.archive.StorageException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which interrupted image upload a backup resumes, and which ones are discarded as never to be resumed. */
class PendingImagesTest {
    @TempDir
    Path dir;

    static void interrupt(ObjectStore store, String key) {
        InputStream failing = new InputStream() {
            int left = 1000;

            @Override
            public int read() throws IOException {
                if (left-- <= 0) {
                    throw new IOException("killed");
                }
                return 7;
            }
        };
        assertThrows(StorageException.class, () -> store.createResuming(key, failing));
    }

    static List<String> pending(ObjectStore store) {
        return store.pendingUploads("").stream().map(ObjectStore.PendingUpload::key).sorted().toList();
    }

    @Test
    void resumesOnlyAnImageOfItsOwnBackupAndCodec() {
        try (ObjectStore store = new LocalObjectStore(dir)) {
            ArchiveLayout.BackupName b = new ArchiveLayout.BackupName(1, 0x10);
            ArchiveLayout.BackupName other = new ArchiveLayout.BackupName(1, 0x20);
            assertEquals(Optional.empty(), PendingImages.resumable(store, b, Codec.ZSTD));
            interrupt(store, other.dir() + "image-0000000a.zst");
            interrupt(store, b.dir() + "image-0000000b.lz4");
            interrupt(store, b.dir() + "image-NOTHEX00.zst");
            assertEquals(Optional.empty(), PendingImages.resumable(store, b, Codec.ZSTD), "another backup's, another codec's, not an image");
            interrupt(store, b.dir() + "image-0000000c.zst");
            assertEquals(Optional.of(b.dir() + "image-0000000c.zst"), PendingImages.resumable(store, b, Codec.ZSTD));
            assertEquals(Optional.of(b.dir() + "image-0000000b.lz4"), PendingImages.resumable(store, b, Codec.LZ4));
        }
    }

    @Test
    void discardsUploadsOfFinishedBackupsAndOldOnesKeepingTheRest() {
        try (ObjectStore store = new LocalObjectStore(dir)) {
            ArchiveLayout.BackupName done = new ArchiveLayout.BackupName(1, 0x10);
            ArchiveLayout.BackupName open = new ArchiveLayout.BackupName(1, 0x20);
            String finished = done.dir() + "image-0000000a.zst";
            String mine = done.dir() + "image-0000000b.zst";
            String young = open.dir() + "image-0000000c.zst";
            interrupt(store, finished);
            interrupt(store, mine);
            interrupt(store, young);
            store.create(done.manifestKey(), new ByteArrayInputStream("{}".getBytes()));

            PendingImages.abortStale(store, Instant.now(), mine);
            assertEquals(List.of(mine, young), pending(store), "the finished backup's other upload is discarded");

            PendingImages.abortStale(store, Instant.now().plus(PendingImages.STALE_AGE).minus(Duration.ofHours(1)), null);
            assertEquals(List.of(young), pending(store), "a young upload of an unfinished backup is kept");

            PendingImages.abortStale(store, Instant.now().plus(PendingImages.STALE_AGE).plus(Duration.ofHours(1)), null);
            assertEquals(List.of(), pending(store), "one older than " + PendingImages.STALE_AGE + " is discarded");
        }
    }
}
