package io.walship.shipper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.BackupManifest;
import io.walship.archive.Codec;
import io.walship.archive.ForwardingObjectStore;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ObjectInfo;
import io.walship.archive.ObjectStore;
import io.walship.wal.Durability;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 14 review of resumable base backups: stale pending images of one backup, and the loser's image. */
class BackupResumeReviewTest {
    @TempDir
    Path tmp;

    Path stoppedStore() throws IOException {
        Path dir = tmp.resolve("data");
        try (Store store = Store.open(dir)) {
            for (int i = 0; i < 2000; i++) {
                store.put(String.format("key-%06d", i).getBytes(StandardCharsets.UTF_8), new byte[64], Durability.ASYNC);
            }
            store.checkpoint();
        }
        return dir;
    }

    /** The name a backup of the stopped store at {@code dir} gets (taken into a scratch archive). */
    ArchiveLayout.BackupName nameOf(Path dir) throws Exception {
        try (ObjectStore scratch = new LocalObjectStore(tmp.resolve("scratch"))) {
            BackupManifest m = new BackupSource.StoppedStore(dir).backup(scratch, Codec.ZSTD, total -> done -> { });
            return new ArchiveLayout.BackupName(m.timeline(), Long.parseUnsignedLong(m.lsn(), 16));
        }
    }

    /**
     * Defect 2a: several stale pending image uploads of the same backup (bytes that are not this image's)
     * used to drain one per run: the first mismatch retried once, the retry resumed the next stale one,
     * mismatched again and the backup failed. One mismatch now discards all of that backup's pending images.
     */
    @Test
    void oneMismatchDiscardsEveryStalePendingImageOfTheBackup() throws Exception {
        Path dir = stoppedStore();
        ArchiveLayout.BackupName name = nameOf(dir);
        try (ObjectStore archive = new LocalObjectStore(tmp.resolve("archive"))) {
            for (String id : List.of("0000000a", "0000000b", "0000000c")) {
                PendingImagesTest.interrupt(archive, name.dir() + "image-" + id + ".zst");
            }
            assertEquals(3, archive.pendingUploads(name.dir()).size());
            BackupManifest m = new BackupSource.StoppedStore(dir).backup(archive, Codec.ZSTD, total -> done -> { });
            assertTrue(archive.head(m.imageKey()).isPresent());
            assertEquals(List.of(), archive.pendingUploads(""), "no stale pending image is left for the next run");
        }
    }

    /**
     * Defect 2c: an attempt whose manifest loses to another attempt's (written meanwhile, naming another
     * image) deletes its own image, an orphan otherwise, and never the winner's.
     */
    @Test
    void theLosersImageIsDeletedAndTheWinnersKept() throws Exception {
        Path dir = stoppedStore();
        try (ObjectStore archive = new LocalObjectStore(tmp.resolve("archive"))) {
            BackupManifest winner = new BackupSource.StoppedStore(dir).backup(archive, Codec.ZSTD, total -> done -> { });
            String manifestKey = new ArchiveLayout.BackupName(winner.timeline(),
                    Long.parseUnsignedLong(winner.lsn(), 16)).manifestKey();
            byte[] winnerManifest;
            try (InputStream in = archive.get(manifestKey)) {
                winnerManifest = in.readAllBytes();
            }
            archive.delete(manifestKey); // as if the winner had not written it yet
            boolean[] armed = {true};
            ObjectStore racing = new ForwardingObjectStore(archive) {
                void winnerFirst(String key) {
                    if (armed[0] && key.equals(manifestKey)) {
                        armed[0] = false;
                        inner.create(manifestKey, new ByteArrayInputStream(winnerManifest)); // the other attempt wins
                    }
                }

                @Override
                public void create(String key, InputStream content) {
                    winnerFirst(key);
                    inner.create(key, content);
                }

                @Override
                public boolean createOrSame(String key, InputStream content) {
                    winnerFirst(key);
                    return inner.createOrSame(key, content);
                }

                @Override
                public boolean createOrSame(String key, byte[] content) {
                    winnerFirst(key);
                    return inner.createOrSame(key, content);
                }
            };
            BackupManifest got = new BackupSource.StoppedStore(dir).backup(racing, Codec.ZSTD, total -> done -> { });
            assertEquals(winner.imageKey(), got.imageKey(), "the winner's backup is the one returned");
            List<String> images = archive.list(ArchiveLayout.BACKUPS, null).stream().map(ObjectInfo::key)
                    .filter(k -> !k.equals(manifestKey)).toList();
            assertEquals(List.of(winner.imageKey()), images, "the loser's image is deleted, the winner's kept");
        }
    }
}
