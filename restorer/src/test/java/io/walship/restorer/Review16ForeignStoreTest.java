package io.walship.restorer;

import static io.walship.restorer.OneStoreTesting.put;
import static io.walship.restorer.OneStoreTesting.backup;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.CRC32C;

import io.walship.archive.ArchiveListing;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ObjectStore;
import io.walship.archive.Segment;
import io.walship.shipper.ArchiveSpliceException;
import io.walship.shipper.WalShipper;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * review16: an archive upgraded from an older walship starts with format-1 segments (no system
 * id) and goes on with format-2 ones that name its store. The new checks read only the archive's
 * first segment, find no system id there and let another store's backup and shipment in, though
 * every later segment says whose archive it is.
 */
class Review16ForeignStoreTest {
    @TempDir
    Path tmp;

    /** Rewrites a format-2 segment file as the format-1 segment an older walship wrote (same entries, no system id). */
    static void toFormatOne(Path file) throws Exception {
        byte[] v2 = Files.readAllBytes(file);
        ByteBuffer h = ByteBuffer.allocate(Segment.V1_HEADER_SIZE);
        h.put(v2, 0, 60);
        h.putShort(4, (short) 1);
        CRC32C crc = new CRC32C();
        crc.update(h.array(), 0, 60);
        h.putInt(60, (int) crc.getValue());
        byte[] v1 = new byte[v2.length - Segment.HEADER_SIZE + Segment.V1_HEADER_SIZE];
        System.arraycopy(h.array(), 0, v1, 0, Segment.V1_HEADER_SIZE);
        System.arraycopy(v2, Segment.HEADER_SIZE, v1, Segment.V1_HEADER_SIZE, v2.length - Segment.HEADER_SIZE);
        Files.write(file, v1);
    }

    /** a's archive: a backup, then two shipments (two segments); the first segment rewritten as format 1. */
    private ObjectStore upgradedArchiveOfA() throws Exception {
        ObjectStore archive = new LocalObjectStore(tmp.resolve("archive"));
        Path a = tmp.resolve("a");
        OneStoreTesting.archiveOf(a, archive);
        try (Store store = Store.open(a)) {
            put(store, "a3-", 20);
        }
        try (WalShipper s = new WalShipper(a, archive, WalShipper.Options.defaults())) {
            s.shipOnce();
        }
        List<ArchiveListing.SegmentInfo> segs = ArchiveListing.of(archive).segments(1);
        assertTrue(segs.size() >= 2, "two segments expected: " + segs);
        toFormatOne(tmp.resolve("archive").resolve(segs.get(0).name().key()));
        try (var in = archive.getRange(segs.get(0).name().key(), 0, Segment.HEADER_SIZE)) {
            assertEquals(Segment.NO_SYSTEM_ID, Segment.readHeader(in, "first").systemId());
        }
        try (var in = archive.getRange(segs.get(1).name().key(), 0, Segment.HEADER_SIZE)) {
            assertTrue(Segment.readHeader(in, "second").systemId() != Segment.NO_SYSTEM_ID, "the later segment names a");
        }
        return archive;
    }

    @Test
    void anotherStoresBackupIsRefusedInAnArchiveThatStartsWithFormatOneSegments() throws Exception {
        try (ObjectStore archive = upgradedArchiveOfA()) {
            try (Store b = Store.open(tmp.resolve("b"))) {
                put(b, "b", 5);
                assertThrows(ArchiveSpliceException.class, () -> backup(b, archive),
                        "b's backup went into a's archive: only its first (format-1) segment was read");
            }
            assertEquals(1, ArchiveListing.of(archive).backups().size());
        }
    }

    @Test
    void anotherStoresShipmentIsRefusedInAnArchiveThatStartsWithFormatOneSegments() throws Exception {
        try (ObjectStore archive = upgradedArchiveOfA()) {
            Path wal = tmp.resolve("archive").resolve("wal");
            Files.move(wal.resolve("00000001"), wal.resolve("00000007")); // as in BackupIntoAnotherStoresArchiveTest
            Path b = tmp.resolve("b");
            try (Store store = Store.open(b)) {
                put(store, "b", 5);
            }
            try (WalShipper s = new WalShipper(b, archive, WalShipper.Options.defaults())) {
                assertThrows(ArchiveSpliceException.class, s::shipOnce,
                        "b's WAL was shipped into a's archive: only its first (format-1) segment was read");
            }
            assertTrue(ArchiveListing.of(archive).segments(1).isEmpty(), "b's WAL went into a's archive");
        }
    }
}
