package io.walship.restorer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.zip.CRC32C;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.BackupManifest;
import io.walship.archive.Codec;
import io.walship.archive.CorruptObjectException;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.shipper.BaseBackup;
import io.walship.shipper.BackupType;
import io.walship.wal.IncrementalImage;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import io.walship.wal.WriteBatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The defence in depth of incremental restores: if an incremental image missed a changed page (as it
 * would if some write changed a page without raising its page LSN), the composed image does not hash to
 * the manifest's full-image SHA-256, and the restore fails (a corrupt object: exit 3) instead of giving a
 * silently different store. The tampered incremental image here is self-consistent (its own SHA-256,
 * checksums and trailer are right); only the composition check can catch it.
 */
class IncrementalRestoreTest {
    @TempDir
    Path tmp;

    private static void put(Store s, String k, String v) {
        WriteBatch b = new WriteBatch();
        b.put(k.getBytes(StandardCharsets.UTF_8), v.getBytes(StandardCharsets.UTF_8));
        s.write(b);
    }

    @Test
    void anIncrementalThatMissedAPageFailsTheComposedImageCheck() throws Exception {
        Path data = tmp.resolve("store");
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"));
             Store store = Store.open(data)) {
            for (int i = 0; i < 300; i++) {
                put(store, "key-" + i, "v0-" + "x".repeat(500));
            }
            BackupManifest full;
            try (Snapshot snap = store.snapshot()) {
                full = BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), archive, Codec.ZSTD, x -> { });
            }
            for (int i = 0; i < 300; i += 37) {
                put(store, "key-" + i, "v1-" + "y".repeat(500));
            }
            BackupManifest incr;
            byte[] fullImage;
            try (Snapshot snap = store.snapshot(); InputStream in = snap.openStream()) {
                fullImage = in.readAllBytes();
                incr = BaseBackup.upload(new ByteArrayInputStream(fullImage), java.util.concurrent.CompletableFuture
                        .completedFuture(StateDigest.of(snap.pages(), snap.lsn())), archive, Codec.ZSTD, x -> { },
                        BackupType.INCREMENTAL.policy());
            }
            assertTrue(incr.incremental() && incr.incrementalPages() > 1, String.valueOf(incr.incrementalPages()));
            // the honest chain restores
            Restore.Result ok = Restore.run(archive, tmp.resolve("ok"), Restore.Options.defaults()
                    .withTarget(RestoreTarget.lsn(Long.parseUnsignedLong(incr.lsn(), 16), false)), new Restore.Listener() { });
            assertEquals(Long.parseUnsignedLong(incr.lsn(), 16), ok.lsn());

            // an incremental image made as if the parent were newer (so it misses pages), its header then naming
            // the real parent again: every check of its own passes
            IncrementalImage.Parent real = new IncrementalImage.Parent(Long.parseUnsignedLong(full.lsn(), 16), 1,
                    full.pageCount());
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            long newest = Long.parseUnsignedLong(incr.lsn(), 16);
            IncrementalImage.write(new ByteArrayInputStream(fullImage), new IncrementalImage.Parent(newest - 1, 1,
                    full.pageCount()), out);
            byte[] tampered = out.toByteArray();
            ByteBuffer.wrap(tampered).putLong(40, real.lsn());
            CRC32C crc = new CRC32C();
            crc.update(tampered, 0, 60);
            ByteBuffer.wrap(tampered).putInt(60, (int) crc.getValue());
            assertTrue(tampered.length < incr.imageBytes(), "the tampered image misses pages");

            ArchiveLayout.BackupName name = new ArchiveLayout.BackupName(1, newest);
            String key = name.dir() + "incr-tampered.raw";
            archive.create(key, new ByteArrayInputStream(tampered));
            BackupManifest bad = new BackupManifest(incr.formatVersion(), incr.imageFormat(), incr.lsn(), incr.timeline(),
                    incr.systemId(), incr.commitTime(), incr.commitTimeMicros(), incr.pageCount(), key, "raw",
                    tampered.length, tampered.length, HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(tampered)), incr.digestSha256(), incr.digestPairs(), incr.createdAt(), incr.kind(),
                    incr.parent(), incr.fullImageSha256(), incr.fullImageBytes(), incr.incrementalPages());
            archive.delete(name.manifestKey());
            archive.create(name.manifestKey(), new ByteArrayInputStream(bad.toJson()));
            CorruptObjectException e = assertThrows(CorruptObjectException.class, () -> Restore.run(archive,
                    tmp.resolve("bad"), Restore.Options.defaults(), new Restore.Listener() { }));
            assertTrue(e.getMessage().contains("composes an image with SHA-256"), e.getMessage());
            assertTrue(e.getMessage().contains("without its page LSN"), e.getMessage());
        }
    }
}
