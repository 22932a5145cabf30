package io.walship.shipper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;

import io.walship.archive.ArchiveListing;
import io.walship.archive.BackupManifest;
import io.walship.archive.Codec;
import io.walship.archive.FaultyHttpClient;
import io.walship.archive.ObjectStore;
import io.walship.archive.S3ObjectStore;
import io.walship.archive.Segment;
import io.walship.archive.StorageException;
import io.walship.archive.TestS3Server;
import io.walship.wal.Durability;
import io.walship.wal.EntryCodec;
import io.walship.wal.PageImage;
import io.walship.wal.Snapshot;
import io.walship.wal.SnapshotLoader;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import io.walship.wal.WalMarks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Shipping and backups through an S3 that fails a quarter of all requests (503s, resets before
 * sending, resets after the server executed the request) — a third of them, so that some
 * runs exhaust the SDK's retries and fail whole: no gap, no lost position, nothing a
 * restore would misread.
 */
class ArchiveFaultTest {
    @TempDir
    Path tmp;

    @Test
    void shippingAndBackupsSurviveAFaultyS3() throws Exception {
        Path data = tmp.resolve("data");
        try (TestS3Server s3 = TestS3Server.start();
             Store store = Store.open(data)) {
            var uri = s3.newArchive("walship-test", "faults-" + UUID.randomUUID());
            FaultyHttpClient faulty = new FaultyHttpClient(42, 0.35);
            int failedRuns = 0;
            try (ObjectStore archive = new S3ObjectStore(uri, S3ObjectStore.MIN_PART_SIZE, faulty);
                 WalShipper shipper = new WalShipper(data, archive, new WalShipper.Options(Codec.ZSTD, 32 << 10))) {
                for (int round = 0; round < 30; round++) {
                    for (int i = 0; i < 200; i++) {
                        store.put(("k" + round + "." + i).getBytes(StandardCharsets.UTF_8),
                                ("v" + i).repeat(10).getBytes(StandardCharsets.UTF_8), Durability.ASYNC);
                    }
                    try {
                        shipper.shipOnce();
                    } catch (StorageException | io.walship.wal.WalshipException e) {
                        failedRuns++; // the next run goes on from what the archive holds
                    }
                }
                long last = store.lastLsn();
                store.put("end".getBytes(StandardCharsets.UTF_8), new byte[1]); // makes everything durable
                for (int attempt = 0; attempt < 20 && ArchiveListing.of(new S3ObjectStore(uri)).lastArchivedLsn(1) < last; attempt++) {
                    try {
                        shipper.shipOnce();
                    } catch (StorageException | io.walship.wal.WalshipException e) {
                        failedRuns++;
                    }
                }
                BackupManifest backup = null;
                for (int attempt = 0; attempt < 10 && backup == null; attempt++) {
                    try (Snapshot snap = store.snapshot()) {
                        backup = BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), archive, Codec.ZSTD, x -> { });
                    } catch (StorageException | java.io.UncheckedIOException e) {
                        failedRuns++;
                    }
                }
                assertTrue(backup != null, "a backup got through");
                assertTrue(faulty.injected() >= 10, "faults were injected: " + faulty.injected() + " of " + faulty.requests());

                // check with a healthy client
                try (ObjectStore clean = new S3ObjectStore(uri)) {
                    ArchiveListing listing = ArchiveListing.of(clean);
                    long archived = listing.lastArchivedLsn(1);
                    assertTrue(archived >= last, "everything got archived: " + archived + " < " + last);
                    assertEquals(List.of(new ArchiveListing.Range(1, archived)), listing.coverage(1), "no gap");
                    assertTrue(new WalMarks(data).archived().getAsLong() <= archived, "the mark never runs ahead");
                    PageImage image = new PageImage();
                    for (ArchiveListing.SegmentInfo s : listing.segments(1)) {
                        if (s.name().lastLsn() <= image.lsn()) {
                            continue; // an overlapping copy is harmless; a restore takes each LSN once
                        }
                        try (InputStream in = clean.get(s.name().key())) {
                            for (byte[] raw : Segment.readEntries(in, s.name().key())) {
                                var e = EntryCodec.decode(raw);
                                if (e.lsn() > image.lsn()) {
                                    image.apply(e);
                                }
                            }
                        }
                    }
                    assertEquals(archived, image.lsn());
                    // the backup that has a manifest loads and matches its digest
                    Path restored = tmp.resolve("restored");
                    try (InputStream in = Codec.parse(backup.codec()).decompress(clean.get(backup.imageKey()))) {
                        SnapshotLoader.load(in, restored);
                    }
                    try (Store copy = Store.open(restored)) {
                        assertEquals(backup.digestSha256(), copy.digest().sha256());
                    }
                }
            }
            System.out.println("fault test: " + faulty.injected() + " faults in " + faulty.requests() + " requests, "
                    + failedRuns + " failed runs retried");
        }
    }
}
