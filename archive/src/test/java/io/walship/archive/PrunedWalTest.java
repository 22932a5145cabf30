package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The pruned-WAL record (docs/FORMAT.md "Pruned-WAL records"): golden bytes, key, listing, immutability. */
class PrunedWalTest {
    static final ArchiveLayout.PrunedName NAME = new ArchiveLayout.PrunedName(new ArchiveLayout.BackupName(1, 0xA41F3L),
            new ArchiveLayout.SegmentName(2, 0xA41F4L, 0xA4300L));

    @TempDir
    Path tmp;

    @Test
    void theGoldenRecordReadsAndWritesTheSameBytes() throws Exception {
        byte[] bytes;
        try (InputStream in = PrunedWalTest.class.getResourceAsStream("/golden/pruned-wal-v1.json")) {
            bytes = in.readAllBytes();
        }
        assertEquals(PrunedWal.of(NAME), PrunedWal.read(new ByteArrayInputStream(bytes), NAME.key()));
        assertArrayEquals(bytes, PrunedWal.of(NAME).toJson(), "the writer must keep producing the documented bytes:\n"
                + new String(PrunedWal.of(NAME).toJson(), StandardCharsets.UTF_8));
        assertEquals("pruned/00000001-00000000000A41F3/00000002-00000000000A41F4-00000000000A4300.json", NAME.key());
        assertEquals(NAME, ArchiveLayout.parsePruned(NAME.key()).orElseThrow());
        assertFalse(ArchiveLayout.isMutable(NAME.key()), "a record is never replaced");
        assertTrue(ArchiveLayout.parsePruned("pruned/00000001-00000000000A41F3/00000002-00000000000A4300-00000000000A41F4.json")
                .isEmpty(), "a backwards range is not a record");
        ArchiveLayout.PrunedName other = new ArchiveLayout.PrunedName(NAME.backup(), new ArchiveLayout.SegmentName(2, 0xA41F4L, 0xA4301L));
        assertThrows(CorruptObjectException.class, () -> PrunedWal.read(new ByteArrayInputStream(bytes), other.key()));
        assertThrows(CorruptObjectException.class, () -> PrunedWal.read(new ByteArrayInputStream(
                new String(bytes, StandardCharsets.UTF_8).replace("\"formatVersion\" : 1", "\"formatVersion\" : 2")
                        .getBytes(StandardCharsets.UTF_8)), NAME.key()));
    }

    @Test
    void recordingTwiceFindsTheSameObjectAndTheListingCoversRangesTogether() {
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            PrunedWal.record(a, NAME);
            PrunedWal.record(a, NAME); // a rerun of an interrupted prune
            ArchiveLayout.PrunedName next = new ArchiveLayout.PrunedName(NAME.backup(),
                    new ArchiveLayout.SegmentName(2, 0xA4301L, 0xA4400L));
            PrunedWal.record(a, next);
            ArchiveListing l = ArchiveListing.of(a);
            assertEquals(2, l.pruned().size());
            assertTrue(l.prunedAfter(NAME.backup(), 2, 0xA41F4L, 0xA4400L), "two adjacent records cover their union");
            assertTrue(l.prunedAfter(NAME.backup(), 2, 0xA4200L, 0xA4350L));
            assertFalse(l.prunedAfter(NAME.backup(), 2, 0xA41F4L, 0xA4401L), "one LSN past the records");
            assertFalse(l.prunedAfter(NAME.backup(), 2, 0xA41F3L, 0xA4300L), "one LSN before them");
            assertFalse(l.prunedAfter(NAME.backup(), 1, 0xA41F4L, 0xA4300L), "another timeline");
            assertFalse(l.prunedAfter(new ArchiveLayout.BackupName(1, 0xA41F2L), 2, 0xA41F4L, 0xA4300L), "another backup");
        }
    }
}
