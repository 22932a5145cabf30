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

    /** A store that counts the responses it handed out and how many are still open. */
    private static final class CountingStore extends ForwardingObjectStore {
        final java.util.concurrent.atomic.AtomicInteger gets = new java.util.concurrent.atomic.AtomicInteger();
        final java.util.concurrent.atomic.AtomicInteger ranges = new java.util.concurrent.atomic.AtomicInteger();
        final java.util.concurrent.atomic.AtomicInteger open = new java.util.concurrent.atomic.AtomicInteger();
        final java.util.concurrent.atomic.AtomicInteger aborted = new java.util.concurrent.atomic.AtomicInteger();

        CountingStore(ObjectStore inner) {
            super(inner);
        }

        private InputStream counted(InputStream in) {
            open.incrementAndGet();
            abstract class Counted extends FilterInputStream implements software.amazon.awssdk.http.Abortable {
                Counted(InputStream in) {
                    super(in);
                }
            }
            return new Counted(in) {
                private boolean closed;

                @Override
                public void abort() {
                    if (in instanceof software.amazon.awssdk.http.Abortable a) {
                        aborted.incrementAndGet();
                        a.abort();
                    }
                }

                @Override
                public void close() throws IOException {
                    if (!closed) {
                        closed = true;
                        open.decrementAndGet();
                    }
                    super.close();
                }
            };
        }

        @Override
        public InputStream get(String key) {
            InputStream in = counted(inner.get(key));
            gets.incrementAndGet(); // after it is open: a waiter seeing gets == 1 and open == 0 saw it closed
            return in;
        }

        @Override
        public InputStream getRange(String key, long offset, long length) {
            InputStream in = counted(inner.getRange(key, offset, length));
            ranges.incrementAndGet();
            return in;
        }
    }

    @Test
    void aFetchWaitingForTheBudgetHoldsNoResponseOpen() throws Exception {
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            waitingForTheBudgetHoldsNoResponseOpen(archive);
        }
    }

    /** The same on S3 (S3Proxy in process, or the MinIO the environment names): the response is aborted, not drained. */
    @Test
    void aFetchWaitingForTheBudgetHoldsNoS3ResponseOpen() throws Exception {
        try (io.walship.archive.TestS3Server s3 = io.walship.archive.TestS3Server.start();
             ObjectStore archive = ObjectStores.open(s3.newArchive("walship-test", "fetch-" + java.util.UUID.randomUUID()))) {
            waitingForTheBudgetHoldsNoResponseOpen(archive);
        }
    }

    private void waitingForTheBudgetHoldsNoResponseOpen(ObjectStore archive) throws Exception {
        ObjectInfo big = segments(archive).get(0);
        SegmentPrefetcher.Decoded alone = SegmentPrefetcher.fetch(archive, big.key(), big.size());
        CountingStore counting = new CountingStore(archive);
        SegmentPrefetcher.ByteBudget budget = new SegmentPrefetcher.ByteBudget(1 << 20);
        long held = budget.acquire(0, 1 << 20); // turn 0 holds everything: the consumer is slow
        java.util.concurrent.CompletableFuture<SegmentPrefetcher.Decoded> fetched = java.util.concurrent.CompletableFuture
                .supplyAsync(() -> SegmentPrefetcher.fetch(counting, big.key(), big.size(), budget, 1, new ArrayDeque<>()));
        // it opens the object, reads the header, and must give the response up before it waits
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
        while (!(counting.gets.get() == 1 && counting.open.get() == 0)) {
            assertFalse(fetched.isDone(), "the fetch cannot finish before the budget has room");
            assertTrue(System.nanoTime() < deadline, "a fetch waiting for the budget still holds "
                    + counting.open.get() + " response(s) open");
            Thread.onSpinWait();
        }
        assertFalse(fetched.isDone());
        budget.release(held);
        SegmentPrefetcher.Decoded d = fetched.get(30, java.util.concurrent.TimeUnit.SECONDS);
        assertEquals(1, counting.ranges.get(), "the rest of the object comes from one ranged GET");
        if (archive instanceof io.walship.archive.S3ObjectStore) {
            assertEquals(1, counting.aborted.get(), "the S3 response given up is aborted, not drained");
        }
        assertEquals(0, counting.open.get());
        assertEquals(big.size(), d.objectBytes());
        assertEquals(alone.count(), d.count());
        assertTrue(java.util.Arrays.equals(java.util.Arrays.copyOf(alone.body(), (int) alone.header().bodyLength()),
                java.util.Arrays.copyOf(d.body(), (int) d.header().bodyLength())), "the same body");
        budget.release(d.granted());

        // an object longer than its listing is still caught when the rest comes from a ranged GET
        SegmentPrefetcher.ByteBudget full = new SegmentPrefetcher.ByteBudget(1 << 20);
        long again = full.acquire(0, 1 << 20);
        java.util.concurrent.CompletableFuture<SegmentPrefetcher.Decoded> shortListed = java.util.concurrent.CompletableFuture
                .supplyAsync(() -> SegmentPrefetcher.fetch(counting, big.key(), big.size() - 1, full, 1, new ArrayDeque<>()));
        while (counting.gets.get() < 2 || counting.open.get() != 0) {
            assertTrue(System.nanoTime() < deadline + java.util.concurrent.TimeUnit.SECONDS.toNanos(30), "no second fetch");
            Thread.onSpinWait();
        }
        full.release(again);
        java.util.concurrent.ExecutionException x = assertThrows(java.util.concurrent.ExecutionException.class,
                () -> shortListed.get(30, java.util.concurrent.TimeUnit.SECONDS));
        assertTrue(x.getCause() instanceof CorruptObjectException && x.getCause().getMessage().contains("the listing says"),
                x.getCause().toString());
        assertEquals(0, counting.open.get());
        assertEquals(0, full.used(), "a failed fetch gives its grant back");
    }
}
