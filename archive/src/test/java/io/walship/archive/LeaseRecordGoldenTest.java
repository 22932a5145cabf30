package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

/**
 * {@code lease/leader.json} as docs/FORMAT.md ("The leader lease") shows it: the golden file must
 * keep reading, and the record must keep writing exactly these bytes; a version or shape walship
 * cannot read is refused, naming the key.
 */
class LeaseRecordGoldenTest {
    static final LeaseRecord GOLDEN = new LeaseRecord(1, "db1.example:/srv/walship", 2, "http://10.0.0.5:7070",
            "10.0.0.5:7071", 7, 1_780_000_000_000_000L, 1_780_000_003_333_000L, 1_780_000_013_333_000L, false);

    private static byte[] golden() throws Exception {
        try (InputStream in = LeaseRecordGoldenTest.class.getResourceAsStream("/golden/lease-leader-v1.json")) {
            return in.readAllBytes();
        }
    }

    @Test
    void theGoldenLeaseReadsAndWritesTheSameBytes() throws Exception {
        byte[] bytes = golden();
        assertEquals(GOLDEN, LeaseRecord.read(bytes, ArchiveLayout.LEASE));
        assertArrayEquals(bytes, GOLDEN.toJson(), "the writer must keep producing the documented bytes:\n"
                + new String(GOLDEN.toJson(), StandardCharsets.UTF_8));
        assertEquals("lease/leader.json", ArchiveLayout.LEASE);
        assertTrue(ArchiveLayout.isMutable(ArchiveLayout.LEASE));
    }

    @Test
    void anotherVersionOrAMissingNodeIsRefusedNamingTheKey() throws Exception {
        String text = new String(golden(), StandardCharsets.UTF_8);
        CorruptObjectException v = assertThrows(CorruptObjectException.class, () -> LeaseRecord.read(
                text.replace("\"formatVersion\" : 1", "\"formatVersion\" : 2").getBytes(), ArchiveLayout.LEASE));
        assertTrue(v.getMessage().contains("lease/leader.json") && v.getMessage().contains("version 2"), v.getMessage());
        assertThrows(CorruptObjectException.class, () -> LeaseRecord.read(
                text.replace("\"term\" : 7", "\"term\" : 0").getBytes(), ArchiveLayout.LEASE));
        assertThrows(CorruptObjectException.class, () -> LeaseRecord.read("null".getBytes(), ArchiveLayout.LEASE));
    }
}
