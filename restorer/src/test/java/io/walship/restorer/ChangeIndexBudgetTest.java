package io.walship.restorer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.zip.CRC32C;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.Codec;
import io.walship.archive.ObjectInfo;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.Segment;
import io.walship.shipper.WalShipper;
import io.walship.wal.ChangeIndex;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of restore-fast: the prefetcher's byte budget bounds "the bodies held at once", and each
 * segment a restore fetches also holds a {@link ChangeIndex}. The budget must count the index's
 * arrays with the body (it once did not: 16 bytes per change, 28 per entry, in arrays grown by
 * doubling, 204% of a body of one-byte deltas), and the index must stay smaller than its body.
 * The arrays are read by reflection, so that the test sees what the index really holds.
 */
class ChangeIndexBudgetTest {
    @TempDir
    Path tmp;

    /** Heap bytes held by the index's arrays (what it keeps beside the body it points into). */
    static long indexBytes(ChangeIndex index) throws ReflectiveOperationException {
        long total = 0;
        for (Field f : ChangeIndex.class.getDeclaredFields()) {
            if (!f.getType().isArray() || f.getName().equals("data")) {
                continue;
            }
            f.setAccessible(true);
            Object a = f.get(index);
            int n = java.lang.reflect.Array.getLength(a);
            total += 16 + (long) n * (f.getType() == long[].class ? 8 : 4);
        }
        return total;
    }

    /** An entry (docs/FORMAT.md "WAL entry", version 1) of {@code deltas} one-byte deltas. */
    static byte[] entryOfTinyDeltas(long lsn, int deltas, SplittableRandom r) {
        ByteBuffer b = ByteBuffer.allocate(32 + deltas * 10 + 4); // header (count included), changes, CRC
        b.putInt(0x57535745).putShort((short) 1).putShort((short) 0).putLong(lsn).putInt(1).putLong(1_000_000L * lsn)
                .putInt(deltas);
        for (int i = 0; i < deltas; i++) {
            b.put((byte) 1).putInt(1 + r.nextInt(1000)).putShort((short) r.nextInt(4096)).putShort((short) 1)
                    .put((byte) r.nextInt());
        }
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, b.position());
        b.putInt((int) crc.getValue());
        return b.array();
    }

    @Test
    void theChangeIndexOfASegmentOfSmallDeltasCountsInTheBudget() throws Exception {
        long seed = 20261203L;
        System.out.println("ChangeIndexBudgetTest seed " + seed);
        SplittableRandom r = new SplittableRandom(seed);
        ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"));
        Segment.Builder seg = new Segment.Builder(Segment.NO_SYSTEM_ID, 1, Codec.ZSTD);
        long first = 100;
        int entries = 2000;
        for (int i = 0; i < entries; i++) {
            long lsn = first + i;
            seg.add(lsn, 1_000_000L * lsn, entryOfTinyDeltas(lsn, 100, r));
        }
        byte[] object = seg.build();
        String key = new ArchiveLayout.SegmentName(1, first, first + entries - 1).key();
        archive.create(key, new java.io.ByteArrayInputStream(object));

        SegmentPrefetcher.ByteBudget budget = new SegmentPrefetcher.ByteBudget(64 << 20);
        SegmentPrefetcher.Decoded d = SegmentPrefetcher.fetch(archive, key, object.length, budget, 0, null, true);
        assertEquals(entries, d.count());
        long body = d.body().length;
        long index = indexBytes(d.changes());
        System.out.println("body " + body + " bytes, its change index " + index + " bytes, budget holds " + budget.used());
        assertTrue(budget.used() >= body + index, "the prefetcher holds a " + body + "-byte body and a " + index
                + "-byte change index (" + (100 * index / body) + "% of the body) but its budget counts only "
                + budget.used() + " bytes");
        // one int per change: under half of a body of 10-byte delta records
        assertTrue(index * 2 < body, "a " + index + "-byte change index for a " + body + "-byte body");
    }

    /** The same on WAL a store writes for small puts (what a restore of an OLTP-like history holds). */
    @Test
    void theChangeIndexOfAStoresSmallPutsCountsInTheBudget() throws Exception {
        long seed = 7;
        System.out.println("ChangeIndexBudgetTest seed " + seed);
        SplittableRandom r = new SplittableRandom(seed);
        ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive2"));
        Path data = tmp.resolve("d");
        try (Store store = Store.open(data);
             WalShipper shipper = new WalShipper(data, archive, WalShipper.Options.defaults())) {
            byte[] v = new byte[8];
            for (int i = 0; i < 3000; i++) {
                r.nextBytes(v);
                store.put(("k" + r.nextInt(500)).getBytes(StandardCharsets.UTF_8), v);
            }
            shipper.shipOnce();
        }
        List<ObjectInfo> segs = archive.list("wal/", null).stream().filter(o -> o.key().endsWith(".seg")).toList();
        ObjectInfo s = segs.get(segs.size() - 1);
        SegmentPrefetcher.ByteBudget budget = new SegmentPrefetcher.ByteBudget(64 << 20);
        SegmentPrefetcher.Decoded d = SegmentPrefetcher.fetch(archive, s.key(), s.size(), budget, 0, null, true);
        long body = d.body().length;
        long index = indexBytes(d.changes());
        System.out.println("store WAL: body " + body + " bytes in " + d.count() + " entries, change index " + index
                + " bytes, budget holds " + budget.used());
        assertTrue(budget.used() >= body + index, "the prefetcher holds a " + body + "-byte body and a " + index
                + "-byte change index (" + (100 * index / body) + "% of the body) but its budget counts only "
                + budget.used() + " bytes");
    }

    /**
     * The index points into its body, which the next segment's fetch reads into once the consumer
     * asks for it: after that the index must refuse, not hand out another segment's bytes. And a
     * prefetcher that was not asked for an index (catch-up, verify) builds none.
     */
    @Test
    void anIndexRefusesOnceItsBodyWasReleasedAndIsBuiltOnlyWhenAskedFor() throws Exception {
        SplittableRandom r = new SplittableRandom(11);
        ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive3"));
        List<RestorePlan.Step> steps = new java.util.ArrayList<>();
        long first = 100;
        for (int s = 0; s < 2; s++) {
            steps.add(TestSegments.write(archive, Codec.ZSTD, first, 50, lsn -> entryOfTinyDeltas(lsn, 10, r)));
            first += 50;
        }
        try (SegmentPrefetcher p = new SegmentPrefetcher(archive, steps, 1, true)) {
            SegmentPrefetcher.Decoded a = p.next();
            ChangeIndex index = a.changes();
            assertEquals(50, index.entries());
            assertEquals(100, index.lsn(0));
            SegmentPrefetcher.Decoded b = p.next();
            org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, a::changes);
            assertEquals(150, b.changes().lsn(0));
        }
        try (SegmentPrefetcher p = new SegmentPrefetcher(archive, steps, 1)) {
            SegmentPrefetcher.Decoded a = p.next();
            assertEquals(50, a.count());
            org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, a::changes);
        }
    }
}
