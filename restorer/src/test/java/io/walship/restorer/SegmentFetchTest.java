package io.walship.restorer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Queue;
import java.util.Random;

import io.walship.archive.CorruptObjectException;
import io.walship.archive.ForwardingObjectStore;
import io.walship.archive.ObjectInfo;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.StorageException;
import io.walship.shipper.WalShipper;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One segment's download by the restore's prefetcher: a connection that fails mid-body is a storage
 * error (exit 1: retry), not a corrupt object (exit 3: the archive is damaged); and the byte budget
 * counts the array a body is read into, so a large segment's array reused for small bodies cannot
 * hold more than the budget.
 */
class SegmentFetchTest {
    @TempDir
    Path tmp;

    /** Ships a large segment, then two small ones; returns them in LSN order. */
    private List<ObjectInfo> segments(ObjectStore archive) {
        long seed = 7;
        System.out.println("SegmentFetchTest seed " + seed);
        Random rnd = new Random(seed);
        Path data = tmp.resolve("d");
        try (Store store = Store.open(data);
             WalShipper shipper = new WalShipper(data, archive, WalShipper.Options.defaults())) {
            byte[] v = new byte[900];
            for (int i = 0; i < 1500; i++) {
                rnd.nextBytes(v);
                store.put(("big" + i).getBytes(StandardCharsets.UTF_8), v);
            }
            shipper.shipOnce();
            for (int round = 0; round < 2; round++) {
                store.put(("small" + round).getBytes(StandardCharsets.UTF_8), "v".getBytes(StandardCharsets.UTF_8));
                shipper.shipOnce();
            }
        }
        List<ObjectInfo> segs = archive.list("wal/", null).stream().filter(o -> o.key().endsWith(".seg")).toList();
        assertEquals(3, segs.size(), segs.toString());
        return segs;
    }

    @Test
    void aConnectionCutMidBodyIsAStorageErrorNotACorruptObject() {
        ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"));
        ObjectInfo big = segments(archive).get(0);
        ObjectStore flaky = new ForwardingObjectStore(archive) {
            @Override
            public InputStream get(String key) {
                return new FilterInputStream(inner.get(key)) {
                    private long read;

                    @Override
                    public int read(byte[] b, int off, int len) throws IOException {
                        if (read > big.size() / 2) {
                            throw new IOException("Connection reset");
                        }
                        int n = super.read(b, off, Math.min(len, 4096));
                        read += Math.max(n, 0);
                        return n;
                    }

                    @Override
                    public int read() throws IOException {
                        throw new IOException("Connection reset");
                    }
                };
            }
        };
        RuntimeException e = assertThrows(RuntimeException.class,
                () -> SegmentPrefetcher.fetch(flaky, big.key(), big.size(), new SegmentPrefetcher.ByteBudget(64 << 20), 0,
                        new ArrayDeque<>()));
        assertFalse(e instanceof CorruptObjectException, "a reset connection is not a damaged archive: " + e);
        assertTrue(e instanceof StorageException && e.getMessage().contains("Connection reset"), e.toString());
        // and the whole object, read without faults, is fine
        SegmentPrefetcher.fetch(archive, big.key(), big.size());
    }

    @Test
    void aLargeReusedArrayCountsInTheBudgetInFull() {
        ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"));
        List<ObjectInfo> segs = segments(archive);
        SegmentPrefetcher.ByteBudget budget = new SegmentPrefetcher.ByteBudget(64 << 20);
        Queue<byte[]> spare = new ArrayDeque<>();
        SegmentPrefetcher.Decoded big = SegmentPrefetcher.fetch(archive, segs.get(0).key(), segs.get(0).size(), budget, 0, spare);
        int bigArray = big.body().length;
        budget.release(big.granted());
        spare.add(big.body()); // the consumer is done with it: the next fetch may reuse it
        SegmentPrefetcher.Decoded small = SegmentPrefetcher.fetch(archive, segs.get(1).key(), segs.get(1).size(), budget, 1,
                spare);
        assertTrue(small.header().bodyLength() < bigArray / 10, "the second body is small");
        assertTrue(budget.used() >= small.body().length, "the budget holds " + budget.used() + " bytes for an array of "
                + small.body().length);
        budget.release(small.granted());
        assertEquals(0, budget.used());

        // a budget without room for the large array: the small body gets an array of its own size
        SegmentPrefetcher.ByteBudget tight = new SegmentPrefetcher.ByteBudget(bigArray / 2);
        spare.clear();
        spare.add(new byte[bigArray]);
        SegmentPrefetcher.Decoded other = SegmentPrefetcher.fetch(archive, segs.get(2).key(), segs.get(2).size(), tight, 0,
                spare);
        assertEquals(other.header().bodyLength(), other.body().length);
        assertTrue(tight.used() <= bigArray / 2);
    }
}
