package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;

import org.junit.jupiter.api.Test;

class EntryCodecTest {
    /** The entry stored in src/test/resources/golden/wal-entry-v1.bin (see docs/FORMAT.md). */
    static WalEntry goldenEntry() {
        byte[] full = new byte[PageFormat.PAGE_SIZE];
        for (int i = 0; i < full.length; i++) {
            full[i] = (byte) (i * 7);
        }
        return new WalEntry(0x2A, 3, 1_763_900_000_000_000L, List.of(
                new PageChange(5, 100, new byte[] {1, 2, 3, 4}, false),
                PageChange.fullPage(9, full)), 0);
    }

    static byte[] encode(WalEntry e) {
        return EntryCodec.encode(e.lsn(), e.timeline(), e.commitTimeMicros(), e.changes());
    }

    @Test
    void roundTrip() {
        WalEntry e = goldenEntry();
        byte[] bytes = encode(e);
        assertEquals(EntryCodec.encodedSize(e.changes()), bytes.length);
        WalEntry d = EntryCodec.decode(bytes);
        assertEquals(e.lsn(), d.lsn());
        assertEquals(e.timeline(), d.timeline());
        assertEquals(e.commitTimeMicros(), d.commitTimeMicros());
        assertEquals(2, d.changes().size());
        assertEquals(100, d.changes().get(0).offset());
        assertArrayEquals(new byte[] {1, 2, 3, 4}, d.changes().get(0).bytes());
        assertTrue(d.changes().get(1).fullPage());
        assertArrayEquals(e.changes().get(1).bytes(), d.changes().get(1).bytes());
        assertEquals(bytes.length, d.encodedSize());
    }

    @Test
    void decoderKeepsReadingTheGoldenFile() throws IOException {
        byte[] golden;
        try (InputStream in = getClass().getResourceAsStream("/golden/wal-entry-v1.bin")) {
            golden = in.readAllBytes();
        }
        assertArrayEquals(golden, encode(goldenEntry()), "encoder output drifted from the documented format");
        WalEntry d = EntryCodec.decode(golden);
        assertEquals(0x2A, d.lsn());
        assertEquals(3, d.timeline());
    }

    @Test
    void everyFlippedByteIsCaught() {
        byte[] bytes = encode(new WalEntry(7, 1, 123, List.of(new PageChange(1, 40, new byte[] {9, 9}, false)), 0));
        for (int i = 0; i < bytes.length; i++) {
            byte[] bad = bytes.clone();
            bad[i] ^= 0x10;
            assertThrows(IntegrityException.class, () -> EntryCodec.decode(bad), "flip at byte " + i);
        }
    }

    @Test
    void headerOnlyVerificationCatchesWhatDecodeCatches() {
        byte[] bytes = encode(goldenEntry());
        WalEntry h = EntryCodec.verifyHeader(bytes);
        assertEquals(0x2A, h.lsn());
        assertEquals(3, h.timeline());
        assertEquals(bytes.length, h.encodedSize());
        for (int i = 0; i < bytes.length; i += 97) {
            byte[] bad = bytes.clone();
            bad[i] ^= 0x01;
            assertThrows(IntegrityException.class, () -> EntryCodec.verifyHeader(bad), "flip at " + i);
        }
    }

    @Test
    void truncatedEntryIsCaught() {
        byte[] bytes = encode(goldenEntry());
        for (int len : new int[] {0, 10, 36, bytes.length - 1}) {
            assertThrows(IntegrityException.class, () -> EntryCodec.decode(bytes, 0, len));
        }
    }

    @Test
    void otherFormatVersionIsRefusedByName() {
        byte[] bytes = encode(goldenEntry());
        bytes[5] = 2; // version 2, CRC recomputed so only the version differs
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(bytes, 0, bytes.length - 4);
        PageFormat.putInt(bytes, bytes.length - 4, (int) crc.getValue());
        FormatVersionException e = assertThrows(FormatVersionException.class, () -> EntryCodec.decode(bytes));
        assertTrue(e.getMessage().contains("format version 2"), e.getMessage());
        assertTrue(e.getMessage().contains("000000000000002A"), e.getMessage());
    }
}
