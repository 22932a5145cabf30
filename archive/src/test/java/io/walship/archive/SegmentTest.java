package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;

class SegmentTest {
    private static Segment.Builder sample(Codec codec) {
        Segment.Builder b = new Segment.Builder(0x5EED_0000_0000_0001L, 2, codec);
        Random rnd = new Random(3);
        for (long lsn = 100; lsn < 400; lsn++) {
            byte[] e = new byte[50 + rnd.nextInt(300)];
            Arrays.fill(e, (byte) lsn); // compressible, like real WAL
            b.add(lsn, 1_000_000L * lsn, e);
        }
        return b;
    }

    @Test
    void everyCodecRoundTrips() throws Exception {
        for (Codec codec : Codec.values()) {
            Segment.Builder b = sample(codec);
            byte[] obj = b.build();
            Segment.Header h = Segment.readHeader(new ByteArrayInputStream(obj), "k");
            assertEquals(new Segment.Header(codec, 2, 100, 399, 100_000_000L, 399_000_000L, 300, b.bodyBytes(),
                    b.header().bodyCrc(), 0x5EED_0000_0000_0001L), h);
            assertEquals(2, h.version());
            List<byte[]> entries = Segment.readEntries(new ByteArrayInputStream(obj), "k");
            assertEquals(300, entries.size());
            assertEquals((byte) 150, entries.get(50)[0]);
            if (codec != Codec.NONE) {
                assertTrue(obj.length < b.bodyBytes() / 3, codec + " compressed " + b.bodyBytes() + " to " + obj.length);
            }
            assertEquals(codec, Codec.parse(codec.name()));
        }
    }

    /**
     * Entries placed in the body array ({@code room}/{@code added}) and copied in ({@code add}) make
     * the same segment, past the size hint too; a zstd body (one call, level {@link Segment#ZSTD_LEVEL})
     * reads back through the stream decoder a restore uses.
     */
    @Test
    void entriesPlacedInTheBodyMakeTheSameSegment() throws Exception {
        Segment.Builder copied = sample(Codec.ZSTD);
        Segment.Builder placed = new Segment.Builder(0x5EED_0000_0000_0001L, 2, Codec.ZSTD, 1000);
        Random rnd = new Random(3);
        for (long lsn = 100; lsn < 400; lsn++) {
            int len = 50 + rnd.nextInt(300);
            byte[] body = placed.room(len);
            Arrays.fill(body, placed.entryOffset(), placed.entryOffset() + len, (byte) lsn);
            placed.added(lsn, 1_000_000L * lsn, len);
        }
        assertEquals(copied.header(), placed.header());
        assertTrue(Arrays.equals(copied.build(), placed.build()));
        assertTrue(Arrays.equals(copied.lastEntry(), placed.lastEntry()));
        assertEquals((byte) 143, placed.lastEntry()[0]); // 399 as a byte
        List<byte[]> entries = Segment.readEntries(new ByteArrayInputStream(placed.build()), "k");
        assertEquals(300, entries.size());
        assertTrue(Arrays.equals(entries.get(299), placed.lastEntry()));

        Segment.Builder b = new Segment.Builder(1, 1, Codec.NONE, 64);
        assertThrows(IllegalArgumentException.class, () -> b.added(1, 1, 100), "no room was made for it");
        b.room(100);
        b.added(1, 1, 100);
        assertEquals(104, b.bodyBytes());
    }

    @Test
    void corruptionNamesTheObject() throws Exception {
        byte[] obj = sample(Codec.ZSTD).build();
        String key = "wal/00000002/0000000000000064-000000000000018F.seg";
        for (int at : new int[] {0, 10, 30, 63, 64, 70, 79, Segment.HEADER_SIZE + 5, obj.length - 3}) {
            byte[] bad = obj.clone();
            bad[at] ^= 0x40;
            CorruptObjectException e = assertThrows(CorruptObjectException.class,
                    () -> Segment.readEntries(new ByteArrayInputStream(bad), key), "flip at " + at);
            assertTrue(e.getMessage().startsWith("archive object " + key + " is corrupt"), e.getMessage());
        }
        byte[] cut = Arrays.copyOf(obj, obj.length / 2);
        assertThrows(CorruptObjectException.class, () -> Segment.readEntries(new ByteArrayInputStream(cut), key));
        byte[] none = sample(Codec.NONE).build();
        byte[] flipped = none.clone();
        flipped[Segment.HEADER_SIZE + 4] ^= 1; // inside the first entry: caught by the body CRC
        assertThrows(CorruptObjectException.class, () -> Segment.readEntries(new ByteArrayInputStream(flipped), key));
    }

    /** Segments archived by walship before the system id was in the header stay readable. */
    @Test
    void readsVersionOneSegmentsWithoutASystemId() throws Exception {
        Segment.Builder b = sample(Codec.ZSTD);
        byte[] v2 = b.build();
        java.nio.ByteBuffer h = java.nio.ByteBuffer.allocate(Segment.V1_HEADER_SIZE);
        h.put(v2, 0, 60);
        h.putShort(4, (short) 1);
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(h.array(), 0, 60);
        h.putInt(60, (int) crc.getValue());
        byte[] v1 = new byte[v2.length - Segment.HEADER_SIZE + Segment.V1_HEADER_SIZE];
        System.arraycopy(h.array(), 0, v1, 0, Segment.V1_HEADER_SIZE);
        System.arraycopy(v2, Segment.HEADER_SIZE, v1, Segment.V1_HEADER_SIZE, v2.length - Segment.HEADER_SIZE);
        Segment.Header read = Segment.readHeader(new ByteArrayInputStream(v1), "k");
        assertEquals(1, read.version());
        assertEquals(Segment.NO_SYSTEM_ID, read.systemId());
        assertEquals(100, read.firstLsn());
        assertEquals(300, Segment.readEntries(new ByteArrayInputStream(v1), "k").size());
        byte[] v3 = v2.clone();
        v3[5] = 3;
        CorruptObjectException e = assertThrows(CorruptObjectException.class,
                () -> Segment.readHeader(new ByteArrayInputStream(v3), "k"));
        assertTrue(e.getMessage().contains("format version 3"), e.getMessage());
    }

    @Test
    void entriesMustBeContiguous() {
        Segment.Builder b = new Segment.Builder(7, 1, Codec.NONE).add(5, 1, new byte[1]);
        assertThrows(IllegalArgumentException.class, () -> b.add(7, 2, new byte[1]));
    }
}
