package io.walship.shipper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.function.Supplier;

import io.walship.archive.ArchiveListing;
import io.walship.archive.BackupManifest;
import io.walship.archive.Codec;
import io.walship.archive.ObjectInfo;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.S3ObjectStore;
import io.walship.archive.TestS3Server;
import io.walship.wal.Durability;
import io.walship.wal.IntegrityException;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A base backup whose image stops short (a damaged page met while streaming it, a leader's
 * {@code GET /snapshot} cut off) must upload nothing: the image object is never completed, so no
 * truncated object is left in the archive (where it could never be replaced), and the failure comes
 * out as what it was, an integrity error staying an {@link IntegrityException} (exit 3). A retry then
 * makes the whole backup.
 */
class BaseBackupCutImageTest {
    private static final long SEED = 20261203L;

    @TempDir
    Path tmp;

    /** A store whose snapshot image is about {@code values} x 120 bytes, of random (incompressible) values. */
    private Store storeWith(int values) {
        System.out.println("seed " + SEED);
        Store store = Store.open(tmp.resolve("data-" + UUID.randomUUID()));
        Random rnd = new Random(SEED);
        for (int i = 0; i < values; i++) {
            byte[] v = new byte[100];
            rnd.nextBytes(v);
            store.put(String.format("k%08d", i).getBytes(StandardCharsets.UTF_8), v, Durability.ASYNC);
        }
        return store;
    }

    /**
     * {@code image} that fails with {@code failure} once {@code after} bytes have been read (through
     * {@code read(byte[], int, int)}, all that the backup's buffered reader calls).
     */
    private static InputStream failingAfter(InputStream image, long after, Supplier<? extends Throwable> failure) {
        return new FilterInputStream(image) {
            private long read;

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (read >= after) {
                    Throwable t = failure.get();
                    if (t instanceof IOException io) {
                        throw io;
                    }
                    throw (RuntimeException) t;
                }
                int n = super.read(b, off, (int) Math.min(len, after - read));
                if (n > 0) {
                    read += n;
                }
                return n;
            }
        };
    }

    private static List<String> keys(ObjectStore archive) {
        return archive.list("", null).stream().map(ObjectInfo::key).toList();
    }

    /**
     * The image fails mid-way, then the same backup is taken again: the failed attempt leaves no
     * object, and the retry makes one image and its manifest.
     */
    private void cutThenRetry(ObjectStore archive, Store store, Codec codec, long cutAt,
                              Supplier<? extends Throwable> failure, Class<? extends Throwable> expected)
            throws Exception {
        try (Snapshot snap = store.snapshot()) {
            StateDigest digest = StateDigest.of(snap.pages(), snap.lsn());
            assertTrue(snap.imageSize() > cutAt, "the image (" + snap.imageSize() + " bytes) is cut inside");
            Throwable t;
            try (InputStream image = failingAfter(snap.openStream(), cutAt, failure)) {
                t = assertThrows(Throwable.class, () -> BaseBackup.upload(image, digest, archive, codec, x -> { }));
            }
            assertEquals(List.of(), keys(archive), "nothing uploaded for an image that stopped short (" + t + ")");
            assertEquals(expected, t.getClass(), "the failure as it was: " + t);

            BackupManifest m;
            try (InputStream image = snap.openStream()) {
                m = BaseBackup.upload(image, digest, archive, codec, x -> { });
            }
            assertEquals(snap.imageSize(), m.imageBytes());
            assertEquals(m.objectBytes(), archive.head(m.imageKey()).orElseThrow().size());
            assertEquals(1, ArchiveListing.of(archive).backups().size());
            assertEquals(2, keys(archive).size(), "one image and its manifest: " + keys(archive));
        }
    }

    @Test
    void aDamagedPageMidImageIsAnIntegrityErrorAndLeavesNothingInALocalArchive() throws Exception {
        IntegrityException damaged = new IntegrityException("page 17: checksum mismatch");
        try (Store store = storeWith(3_000);
             ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            cutThenRetry(archive, store, Codec.ZSTD, 100_000, () -> damaged, IntegrityException.class);
        }
    }

    @Test
    void anImageCutMidStreamLeavesNothingInALocalArchive() throws Exception {
        try (Store store = storeWith(3_000);
             ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            cutThenRetry(archive, store, Codec.GZIP, 100_000, () -> new IOException("connection reset"), IOException.class);
        }
    }

    /** Cut after the first part of a multipart upload went up: the upload is aborted, not completed. */
    @Test
    void anImageCutAfterTheFirstPartLeavesNothingInS3() throws Exception {
        IntegrityException damaged = new IntegrityException("page 4242: checksum mismatch");
        try (TestS3Server s3 = TestS3Server.start();
             ObjectStore archive = new S3ObjectStore(s3.newArchive("walship-test", "cut-" + UUID.randomUUID()),
                     S3ObjectStore.MIN_PART_SIZE);
             Store store = storeWith(60_000)) {
            cutThenRetry(archive, store, Codec.NONE, S3ObjectStore.MIN_PART_SIZE + 100_000, () -> damaged,
                    IntegrityException.class);
        }
    }

    /** Cut inside what would be one PUT. */
    @Test
    void anImageCutInsideASinglePutLeavesNothingInS3() throws Exception {
        try (TestS3Server s3 = TestS3Server.start();
             ObjectStore archive = new S3ObjectStore(s3.newArchive("walship-test", "cut-" + UUID.randomUUID()),
                     S3ObjectStore.MIN_PART_SIZE);
             Store store = storeWith(3_000)) {
            cutThenRetry(archive, store, Codec.ZSTD, 100_000, () -> new IOException("connection reset"),
                    IOException.class);
        }
    }

    /** The same exception object, not a wrapper: its one-line message is what the operator reads. */
    @Test
    void theIntegrityErrorIsRethrownAsItIs() throws Exception {
        IntegrityException damaged = new IntegrityException("page 9: checksum mismatch");
        try (Store store = storeWith(3_000);
             ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"));
             Snapshot snap = store.snapshot()) {
            StateDigest digest = StateDigest.of(snap.pages(), snap.lsn());
            try (InputStream image = failingAfter(snap.openStream(), 50_000, () -> damaged)) {
                assertSame(damaged, assertThrows(IntegrityException.class,
                        () -> BaseBackup.upload(image, digest, archive, Codec.ZSTD, x -> { })));
            }
        }
    }
}
