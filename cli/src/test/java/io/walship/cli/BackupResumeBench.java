package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

import io.walship.archive.ArchiveUri;
import io.walship.archive.BackupManifest;
import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.archive.S3ObjectStore;
import io.walship.archive.StorageException;
import io.walship.archive.TestS3Server;
import io.walship.archive.UploadLimit;
import io.walship.shipper.BackupSource;
import io.walship.wal.StateDigest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * docs/BENCHMARKS.md "Resumable base backups": time and bytes to finish a backup resumed after half of
 * its parts got through, against one from scratch, of the same stopped store in the same run. Run only
 * when asked: {@code -Dwalship.bench.resume.rows=N} (rows of 1,000 random bytes), optionally
 * {@code -Dwalship.bench.resume.rate=BYTES_PER_SECOND} (an upload limit, as a WAN would be).
 */
@EnabledIfSystemProperty(named = "walship.bench.resume.rows", matches = "\\d+")
class BackupResumeBench {
    static final int PART = S3ObjectStore.DEFAULT_PART_SIZE;

    @TempDir
    Path tmp;

    @Test
    void resumedAgainstFromScratch() throws Exception {
        int rows = Integer.parseInt(System.getProperty("walship.bench.resume.rows"));
        long rate = Long.parseLong(System.getProperty("walship.bench.resume.rate", "0"));
        Path source = tmp.resolve("source");
        long t = System.nanoTime();
        StateDigest d = BackupResumeKillTest.fill(source, rows, 1404);
        System.out.printf("filled %d rows in %.1f s; pages.dat %.0f MB; load %s%n", rows, (System.nanoTime() - t) / 1e9,
                Files.size(source.resolve("pages.dat")) / 1e6, Files.readString(Path.of("/proc/loadavg")).trim());
        UploadLimit limit = rate > 0 ? UploadLimit.of(rate) : UploadLimit.NONE;
        try (TestS3Server s3 = TestS3Server.start()) {
            BackupSource src = new BackupSource.StoppedStore(source);

            ArchiveUri.S3 a = s3.newArchive("resume-bench", "scratch-" + UUID.randomUUID());
            BackupResumeKillTest.Wire w = new BackupResumeKillTest.Wire();
            BackupManifest m;
            long full;
            try (ObjectStore store = new S3ObjectStore(a, PART, w, limit)) {
                t = System.nanoTime();
                m = src.backup(store, Codec.ZSTD, x -> y -> { });
                full = System.nanoTime() - t;
            }
            int parts = w.uploadParts.get();
            assertEquals(d.sha256(), m.digestSha256());

            ArchiveUri.S3 b = s3.newArchive("resume-bench", "resumed-" + UUID.randomUUID());
            BackupResumeKillTest.Wire w2 = new BackupResumeKillTest.Wire();
            w2.downAfterParts = parts / 2;
            long resumed;
            try (ObjectStore store = new S3ObjectStore(b, PART, w2, limit)) {
                assertThrows(StorageException.class, () -> src.backup(store, Codec.ZSTD, x -> y -> { }));
                w2.down.set(false);
                w2.downAfterParts = Integer.MAX_VALUE;
                w2.uploadParts.set(0);
                t = System.nanoTime();
                BackupManifest r = src.backup(store, Codec.ZSTD, x -> y -> { });
                resumed = System.nanoTime() - t;
                assertEquals(m.digestSha256(), r.digestSha256());
            }
            System.out.printf("server %s, upload limit %s; image %.0f MB, object %.0f MB, %d parts of %d MiB%n",
                    s3.endpoint(), rate > 0 ? rate / (1 << 20) + " MiB/s" : "none", m.imageBytes() / 1e6,
                    m.objectBytes() / 1e6, parts, PART >> 20);
            System.out.printf("from scratch: %.1f s, %d parts sent (%.0f MB)%n", full / 1e9, parts,
                    Math.min((long) parts * PART, m.objectBytes()) / 1e6);
            System.out.printf("resumed after %d parts: %.1f s, %d parts sent (%.0f MB)%n", parts / 2, resumed / 1e9,
                    w2.uploadParts.get(), (m.objectBytes() - (long) (parts / 2) * PART) / 1e6);
            System.out.printf("load after: %s%n", Files.readString(Path.of("/proc/loadavg")).trim());
        }
    }
}
