package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.zip.CRC32C;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/**
 * Fuzzes the WAL segment decoder ({@link Segment#readHeader}, {@link Segment#readEntries}):
 * whatever bytes it is given, it returns entries or throws {@link CorruptObjectException}, never
 * anything else. Mutated segments get their header checksum (and, optionally, the body checksum
 * and length) recomputed, so the checks behind the checksums are exercised too.
 */
class SegmentCodecFuzzTest {

    private static void decode(byte[] data) {
        try {
            Segment.readHeader(new ByteArrayInputStream(data), "k");
        } catch (CorruptObjectException expected) {
            // the documented failure
        } catch (IOException e) {
            throw new AssertionError("an in-memory read cannot fail with I/O", e);
        }
        try {
            Segment.readEntries(new ByteArrayInputStream(data), "k");
        } catch (CorruptObjectException expected) {
            // the documented failure
        } catch (IOException e) {
            throw new AssertionError("an in-memory read cannot fail with I/O", e);
        }
    }

    /** Recomputes the header CRC of a version-1 or version-2 header in place (if long enough). */
    static void resealHeader(byte[] b) {
        if (b.length < Segment.V1_HEADER_SIZE) {
            return;
        }
        int version = ((b[4] & 0xFF) << 8) | (b[5] & 0xFF);
        int crcAt = version == 1 ? 60 : Segment.HEADER_SIZE - 4;
        if (b.length < crcAt + 4) {
            return;
        }
        CRC32C crc = new CRC32C();
        crc.update(b, 0, crcAt);
        ByteBuffer.wrap(b).putInt(crcAt, (int) crc.getValue());
    }

    @Property(tries = 2_000)
    void arbitraryBytesOnlyEverFailAsCorruptObjects(@ForAll @Size(max = 400) byte[] data,
                                                    @ForAll @IntRange(min = 0, max = 3) int version,
                                                    @ForAll @IntRange(min = 0, max = 4) int codec) {
        decode(data);
        if (data.length >= Segment.HEADER_SIZE) {
            byte[] b = data.clone();
            ByteBuffer.wrap(b).putInt(0, Segment.MAGIC).putShort(4, (short) version).put(6, (byte) codec);
            resealHeader(b);
            decode(b);
        }
    }

    @Provide
    Arbitrary<byte[]> segments() {
        return Arbitraries.of(Codec.values()).flatMap(codec -> Arbitraries.integers().between(1, 20).flatMap(n ->
                Arbitraries.bytes().array(byte[].class).ofMaxSize(60).list().ofSize(n).map(entries -> {
                    Segment.Builder b = new Segment.Builder(42, 3, codec);
                    long lsn = 100;
                    for (byte[] e : entries) {
                        b.add(lsn, lsn * 1000, e);
                        lsn++;
                    }
                    try {
                        return b.build();
                    } catch (IOException e) {
                        throw new AssertionError(e);
                    }
                })));
    }

    @Provide
    Arbitrary<List<int[]>> mutations() {
        // {kind, position, value}: 0 flip a byte, 1 cut the object, 2 insert a byte, 3 overwrite 8 bytes with a big value
        return Arbitraries.integers().between(0, 3).flatMap(kind -> Arbitraries.integers().between(0, 10_000)
                .flatMap(pos -> Arbitraries.integers().map(v -> new int[] {kind, pos, v}))).list().ofMinSize(1).ofMaxSize(4);
    }

    private static byte[] mutate(byte[] b, int[] m) {
        if (b.length == 0) {
            return b;
        }
        int pos = m[1] % b.length;
        return switch (m[0]) {
            case 0 -> {
                byte[] c = b.clone();
                c[pos] ^= (byte) (m[2] | 1);
                yield c;
            }
            case 1 -> java.util.Arrays.copyOf(b, pos);
            case 2 -> {
                byte[] c = new byte[b.length + 1];
                System.arraycopy(b, 0, c, 0, pos);
                c[pos] = (byte) m[2];
                System.arraycopy(b, pos, c, pos + 1, b.length - pos);
                yield c;
            }
            default -> {
                byte[] c = b.clone();
                long v = m[2] < 0 ? Long.MAX_VALUE - (m[2] & 0xFF) : ((long) m[2] << 24);
                for (int i = 0; i < 8 && pos + i < c.length; i++) {
                    c[pos + i] = (byte) (v >>> (56 - 8 * i));
                }
                yield c;
            }
        };
    }

    @Property(tries = 1_500, edgeCases = EdgeCasesMode.NONE)
    void mutatedSegmentsOnlyEverFailAsCorruptObjects(@ForAll("segments") byte[] segment,
                                                     @ForAll("mutations") List<int[]> mutations,
                                                     @ForAll boolean resealHeader) {
        byte[] b = segment;
        for (int[] m : mutations) {
            b = mutate(b, m);
        }
        if (resealHeader) {
            resealHeader(b);
        }
        decode(b);
    }

    @Property(tries = 500, edgeCases = EdgeCasesMode.NONE)
    void everySegmentRoundTrips(@ForAll("segments") byte[] segment) throws IOException {
        Segment.Header h = Segment.readHeader(new ByteArrayInputStream(segment), "k");
        assertEquals(42, h.systemId());
        assertEquals(h.entryCount(), Segment.readEntries(new ByteArrayInputStream(segment), "k").size());
    }

    /** Header fields at their extremes, with a valid header checksum: a body length near 2^63, counts that do not add up. */
    @net.jqwik.api.Example
    void extremeHeaderFieldsAreCorruptNotCrashes() throws IOException {
        byte[] good = new Segment.Builder(1, 1, Codec.NONE).add(1, 1, new byte[] {1, 2}).build();
        int[][] fields = {{48, 8}, {44, 4}, {12, 8}, {20, 8}};
        long[] values = {Long.MAX_VALUE, -1, Integer.MAX_VALUE, 0, Long.MIN_VALUE};
        for (int[] f : fields) {
            for (long v : values) {
                byte[] b = good.clone();
                ByteBuffer bb = ByteBuffer.wrap(b);
                if (f[1] == 8) {
                    bb.putLong(f[0], v);
                } else {
                    bb.putInt(f[0], (int) v);
                }
                resealHeader(b);
                org.junit.jupiter.api.Assertions.assertThrows(CorruptObjectException.class,
                        () -> Segment.readEntries(new ByteArrayInputStream(b), "k"), "offset " + f[0] + " = " + v);
            }
        }
    }
}
