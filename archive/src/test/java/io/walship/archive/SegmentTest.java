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
        Segment.Builder b = new Segment.Builder(2, codec);
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
                    b.header().bodyCrc()), h);
            List<byte[]> entries = Segment.readEntries(new ByteArrayInputStream(obj), "k");
            assertEquals(300, entries.size());
            assertEquals((byte) 150, entries.get(50)[0]);
            if (codec != Codec.NONE) {
                assertTrue(obj.length < b.bodyBytes() / 3, codec + " compressed " + b.bodyBytes() + " to " + obj.length);
            }
            assertEquals(codec, Codec.parse(codec.name()));
        }
    }

    @Test
    void corruptionNamesTheObject() throws Exception {
        byte[] obj = sample(Codec.ZSTD).build();
        String key = "wal/00000002/0000000000000064-000000000000018F.seg";
        for (int at : new int[] {0, 10, 30, 63, Segment.HEADER_SIZE + 5, obj.length - 3}) {
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

    @Test
    void entriesMustBeContiguous() {
        Segment.Builder b = new Segment.Builder(1, Codec.NONE).add(5, 1, new byte[1]);
        assertThrows(IllegalArgumentException.class, () -> b.add(7, 2, new byte[1]));
    }
}
