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

    /** The entry stored in src/test/resources/golden/wal-entry-v2.bin: the v1 one, recording horizon 0x20. */
    static WalEntry goldenEntryWithHorizon() {
        WalEntry e = goldenEntry();
        return new WalEntry(e.lsn(), e.timeline(), e.commitTimeMicros(), 0x20, e.changes(), 0);
    }

    static byte[] encode(WalEntry e) {
        return EntryCodec.encode(e);
    }

    static byte[] golden(String name) throws IOException {
        try (InputStream in = EntryCodecTest.class.getResourceAsStream("/golden/" + name)) {
            return in.readAllBytes();
        }
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
        byte[] golden = golden("wal-entry-v1.bin");
        assertArrayEquals(golden, encode(goldenEntry()),
                "an entry without a horizon must still be written exactly as version 1");
        WalEntry d = EntryCodec.decode(golden);
        assertEquals(0x2A, d.lsn());
        assertEquals(3, d.timeline());
        assertEquals(Lsn.NONE, d.horizon());
        assertEquals(2, d.changes().size());
    }

    @Test
    void horizonEntriesAreVersionTwoAndKeepReading() throws IOException {
        byte[] golden = golden("wal-entry-v2.bin");
        assertEquals(4162, golden.length);
        assertArrayEquals(golden, encode(goldenEntryWithHorizon()), "encoder output drifted from the documented format");
        assertEquals(2, PageFormat.getShort(golden, 4), "format version");
        WalEntry d = EntryCodec.decode(golden);
        assertEquals(0x2A, d.lsn());
        assertEquals(0x20, d.horizon());
        assertEquals(2, d.changes().size(), "the horizon is not a page change");
        assertEquals(5, d.changes().get(0).pageNo());
        assertArrayEquals(goldenEntry().changes().get(1).bytes(), d.changes().get(1).bytes());
        assertEquals(0x2A, EntryCodec.verifyHeader(golden).lsn());
        assertEquals(golden.length, EntryCodec.encodedSize(0x20, d.changes()));
    }

    @Test
    void aHorizonMustLieBeforeItsEntryAndComeFirst() {
        WalEntry e = goldenEntry();
        for (long bad : new long[] {0x2A, 0x2B}) {
            byte[] bytes = EntryCodec.encode(e.lsn(), e.timeline(), e.commitTimeMicros(), 0x20, e.changes());
            PageFormat.putLong(bytes, 33, bad);
            resealed(bytes);
            IntegrityException x = assertThrows(IntegrityException.class, () -> EntryCodec.decode(bytes));
            assertTrue(x.getMessage().contains("horizon"), x.getMessage());
        }
        // kind 3 in a version 1 entry is an unknown kind there
        byte[] v1 = encode(goldenEntryWithHorizon());
        v1[5] = 1;
        resealed(v1);
        assertThrows(IntegrityException.class, () -> EntryCodec.decode(v1));
        // a horizon after a page change
        byte[] swapped = EntryCodec.encode(e.lsn(), e.timeline(), e.commitTimeMicros(), 0x20,
                List.of(new PageChange(5, 100, new byte[] {1, 2, 3, 4}, false)));
        byte[] moved = swapped.clone();
        System.arraycopy(swapped, 32 + 9, moved, 32, 13);
        System.arraycopy(swapped, 32, moved, 32 + 13, 9);
        resealed(moved);
        IntegrityException x = assertThrows(IntegrityException.class, () -> EntryCodec.decode(moved));
        assertTrue(x.getMessage().contains("only be the first"), x.getMessage());
    }

    /** Recomputes an entry's CRC after a test changed its bytes. */
    static void resealed(byte[] bytes) {
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(bytes, 0, bytes.length - 4);
        PageFormat.putInt(bytes, bytes.length - 4, (int) crc.getValue());
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
        bytes[5] = 4; // version 4, CRC recomputed so only the version differs
        resealed(bytes);
        FormatVersionException e = assertThrows(FormatVersionException.class, () -> EntryCodec.decode(bytes));
        assertTrue(e.getMessage().contains("format version 4"), e.getMessage());
        assertTrue(e.getMessage().contains("000000000000002A"), e.getMessage());
        assertThrows(FormatVersionException.class, () -> EntryCodec.verifyHeader(bytes));
        bytes[5] = 0;
        resealed(bytes);
        assertThrows(FormatVersionException.class, () -> EntryCodec.decode(bytes));
    }
}
