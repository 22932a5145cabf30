package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/**
 * Fuzzes the WAL entry decoder: whatever bytes it is given, it returns an entry or throws an
 * {@link IntegrityException} (of which {@link FormatVersionException} is one), never anything
 * else. Mutated entries are re-sealed with a valid CRC, so the structural checks behind the
 * checksum are exercised, not just the checksum.
 */
class EntryCodecFuzzTest {

    @Property(tries = 2_000)
    void arbitraryBytesOnlyEverFailAsIntegrityErrors(@ForAll @Size(max = 600) byte[] data) {
        decodeBothWays(data);
        if (data.length >= EntryCodec.HEADER_SIZE + 4) {
            byte[] sealed = withMagic(data);
            reseal(sealed);
            decodeBothWays(sealed);
        }
    }

    @Property(tries = 3_000, edgeCases = EdgeCasesMode.NONE)
    void mutatedEntriesOnlyEverFailAsIntegrityErrors(@ForAll("entries") WalEntry entry,
                                                     @ForAll("mutations") List<int[]> mutations,
                                                     @ForAll boolean reseal) {
        byte[] bytes = EntryCodec.encode(entry);
        for (int[] m : mutations) {
            bytes = mutate(bytes, m);
        }
        if (reseal && bytes.length >= 4) {
            reseal(bytes);
        }
        decodeBothWays(bytes);
    }

    @Property(tries = 1_000, edgeCases = EdgeCasesMode.NONE)
    void everyEntryRoundTrips(@ForAll("entries") WalEntry entry) {
        byte[] bytes = EntryCodec.encode(entry);
        assertEquals(EntryCodec.encodedSize(entry.horizon(), entry.changes()), bytes.length);
        WalEntry d = EntryCodec.decode(bytes);
        assertEquals(entry.lsn(), d.lsn());
        assertEquals(entry.timeline(), d.timeline());
        assertEquals(entry.commitTimeMicros(), d.commitTimeMicros());
        assertEquals(entry.horizon(), d.horizon());
        assertEquals(entry.changes().size(), d.changes().size());
        for (int i = 0; i < d.changes().size(); i++) {
            PageChange a = entry.changes().get(i);
            PageChange b = d.changes().get(i);
            assertEquals(a.pageNo(), b.pageNo());
            assertEquals(a.offset(), b.offset());
            assertEquals(a.fullPage(), b.fullPage());
            assertArrayEquals(a.bytes(), b.bytes());
        }
        assertEquals(entry.horizon() == Lsn.NONE ? 1 : 2, PageFormat.getShort(bytes, 4), "format version");
        assertArrayEquals(bytes, EntryCodec.encode(d), "re-encoding a decoded entry gives the same bytes");
    }

    private static void decodeBothWays(byte[] data) {
        try {
            EntryCodec.decode(data);
        } catch (IntegrityException expected) {
            // the only documented failure (FormatVersionException is one)
        }
        try {
            EntryCodec.verifyHeader(data);
        } catch (IntegrityException expected) {
            // likewise
        }
    }

    @Provide
    Arbitrary<WalEntry> entries() {
        Arbitrary<Long> lsn = Arbitraries.longs().between(2, Long.MAX_VALUE / 2);
        Arbitrary<Integer> timeline = Arbitraries.integers().between(1, 1_000);
        Arbitrary<Long> time = Arbitraries.longs().between(0, 4_000_000_000_000_000L);
        Arbitrary<Integer> horizonPercent = Arbitraries.integers().between(-1, 99); // -1: no horizon
        Arbitrary<List<PageChange>> changes = change().list().ofMaxSize(6);
        return Combinators.combine(lsn, timeline, time, horizonPercent, changes).as((l, t, c, h, ch) ->
                new WalEntry(l, t, c, h < 0 ? Lsn.NONE : Math.max(1, l / 100 * h), ch, 0));
    }

    private Arbitrary<PageChange> change() {
        Arbitrary<Integer> page = Arbitraries.integers().between(0, Integer.MAX_VALUE);
        Arbitrary<PageChange> delta = Combinators.combine(page, Arbitraries.integers().between(0, PageFormat.PAGE_SIZE - 1),
                Arbitraries.bytes().array(byte[].class).ofMinSize(1).ofMaxSize(64)).as((p, off, b) -> {
                    int o = Math.min(off, PageFormat.PAGE_SIZE - b.length);
                    return new PageChange(p, o, b, false);
                });
        Arbitrary<PageChange> full = Combinators.combine(page, Arbitraries.integers().between(0, PageFormat.PAGE_SIZE),
                Arbitraries.integers().between(0, PageFormat.PAGE_SIZE), Arbitraries.bytes()).as((p, from, len, fill) -> {
                    byte[] img = new byte[PageFormat.PAGE_SIZE];
                    java.util.Arrays.fill(img, fill);
                    int f = Math.min(from, PageFormat.PAGE_SIZE);
                    java.util.Arrays.fill(img, f, Math.min(PageFormat.PAGE_SIZE, f + len), (byte) 0);
                    return PageChange.fullPage(p, img);
                });
        return Arbitraries.oneOf(delta, full);
    }

    /** {kind, position, value}: 0 set a byte, 1 truncate, 2 append bytes, 3 set the version, 4 set a u32. */
    @Provide
    Arbitrary<List<int[]>> mutations() {
        Arbitrary<int[]> one = Combinators.combine(Arbitraries.integers().between(0, 4),
                Arbitraries.integers().between(0, 9_000), Arbitraries.integers()).as((k, pos, v) -> new int[] {k, pos, v});
        return one.list().ofMinSize(1).ofMaxSize(4);
    }

    private static byte[] mutate(byte[] bytes, int[] m) {
        int pos = bytes.length == 0 ? 0 : Math.floorMod(m[1], bytes.length);
        switch (m[0]) {
            case 0 -> {
                if (bytes.length > 0) {
                    bytes[pos] = (byte) m[2];
                }
                return bytes;
            }
            case 1 -> {
                return java.util.Arrays.copyOf(bytes, pos);
            }
            case 2 -> {
                byte[] longer = java.util.Arrays.copyOf(bytes, bytes.length + 1 + Math.floorMod(m[2], 64));
                return longer;
            }
            case 3 -> {
                if (bytes.length > 6) {
                    PageFormat.putShort(bytes, 4, Math.floorMod(m[2], 4));
                }
                return bytes;
            }
            default -> {
                if (bytes.length >= 4) {
                    PageFormat.putInt(bytes, Math.min(pos, bytes.length - 4), m[2]);
                }
                return bytes;
            }
        }
    }

    private static byte[] withMagic(byte[] data) {
        byte[] out = data.clone();
        PageFormat.putInt(out, 0, EntryCodec.MAGIC);
        PageFormat.putShort(out, 4, 1 + Math.floorMod(out[5], 2));
        return out;
    }

    private static void reseal(byte[] bytes) {
        CRC32C crc = new CRC32C();
        crc.update(bytes, 0, bytes.length - 4);
        PageFormat.putInt(bytes, bytes.length - 4, (int) crc.getValue());
    }

    @Property(tries = 200, edgeCases = EdgeCasesMode.NONE)
    void truncationsOfAValidEntryAreIntegrityErrors(@ForAll("entries") WalEntry entry,
                                                    @ForAll @IntRange(min = 1, max = 100) int cutPercent) {
        byte[] bytes = EntryCodec.encode(entry);
        int len = Math.max(0, bytes.length - Math.max(1, bytes.length * cutPercent / 100));
        List<Class<?>> thrown = new ArrayList<>();
        try {
            EntryCodec.decode(bytes, 0, len);
        } catch (IntegrityException e) {
            thrown.add(e.getClass());
        }
        assertEquals(1, thrown.size(), "a truncated entry must not decode");
    }
}
