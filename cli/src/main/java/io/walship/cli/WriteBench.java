package io.walship.cli;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;

import io.walship.wal.Durability;
import io.walship.wal.Store;
import io.walship.wal.StoreStats;
import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.bytes.SyncMode;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.RollCycles;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import org.HdrHistogram.Histogram;

/** The measurements behind {@code walship bench write}: the store, and the raw WAL limit. */
final class WriteBench {
    /** One run's figures. Latencies in microseconds. */
    record Result(String kind, int threads, long commits, double seconds, double commitsPerSec, double mbPerSec,
                  double p50Micros, double p99Micros, double maxMicros, double walBytesPerCommit,
                  double commitsPerSync, double fullPageImagesPerCommit) {
    }

    private WriteBench() {
    }

    /** {@code threads} writers doing {@code count} commits of random new keys into a store in {@code dir}. */
    static Result store(Path dir, int threads, long count, long warmup, int keySize, int valueSize, Durability durability) {
        return store(dir, threads, count, warmup, keySize, valueSize, durability, 0);
    }

    /**
     * As {@link #store(Path, int, long, long, int, int, Durability)}; with {@code keys > 0} each
     * commit upserts key {@code "k" + random(1..keys)} (the key an HTTP load generator's
     * {@code PUT /kv/k<n>} names) instead of a random new {@code keySize}-byte key.
     */
    static Result store(Path dir, int threads, long count, long warmup, int keySize, int valueSize, Durability durability,
                        long keys) {
        try (Store store = Store.open(dir)) {
            // warm the JIT and the tree a little, outside the measurement
            if (warmup > 0) {
                runStore(store, Math.min(threads, 4), warmup, keySize, valueSize, keys, Durability.ASYNC,
                        new Histogram(3_600_000_000L, 3), 7);
                store.checkpoint();
            }
            StoreStats before = store.stats();
            Histogram h = new Histogram(3_600_000_000L, 3);
            long start = System.nanoTime();
            runStore(store, threads, count, keySize, valueSize, keys, durability, h, 42);
            double secs = (System.nanoTime() - start) / 1e9;
            StoreStats after = store.stats();
            long commits = after.commits() - before.commits();
            long syncs = Math.max(1, after.walSyncs() - before.walSyncs());
            return new Result("store", threads, commits, secs, commits / secs,
                    commits * (double) (keySize + valueSize) / secs / 1e6,
                    h.getValueAtPercentile(50) / 1000.0, h.getValueAtPercentile(99) / 1000.0, h.getMaxValue() / 1000.0,
                    (after.walBytes() - before.walBytes()) / (double) commits, commits / (double) syncs,
                    (after.fullPageImages() - before.fullPageImages()) / (double) commits);
        }
    }

    private static void runStore(Store store, int threads, long count, int keySize, int valueSize, long keys, Durability d,
                                 Histogram into, long seed) {
        List<Thread> workers = new ArrayList<>();
        List<Histogram> hs = new ArrayList<>();
        CountDownLatch go = new CountDownLatch(1);
        for (int t = 0; t < threads; t++) {
            long n = count / threads + (t < count % threads ? 1 : 0);
            SplittableRandom rnd = new SplittableRandom(seed * 1_000 + t);
            Histogram h = new Histogram(3_600_000_000L, 3);
            hs.add(h);
            Thread w = new Thread(() -> {
                byte[] value = new byte[valueSize];
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (long i = 0; i < n; i++) {
                    byte[] key = keys > 0 ? ("k" + rnd.nextLong(1, keys + 1)).getBytes(StandardCharsets.US_ASCII)
                            : randomKey(rnd, keySize);
                    for (int j = 0; j < value.length; j += 8) {
                        value[j] = (byte) rnd.nextInt();
                    }
                    long t0 = System.nanoTime();
                    store.put(key, value, d);
                    h.recordValue(Math.max(1, System.nanoTime() - t0));
                }
            }, "bench-writer-" + t);
            workers.add(w);
            w.start();
        }
        go.countDown();
        for (Thread w : workers) {
            try {
                w.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        hs.forEach(into::add);
    }

    private static byte[] randomKey(SplittableRandom rnd, int size) {
        String hex = Long.toHexString(rnd.nextLong() | Long.MIN_VALUE) + Long.toHexString(rnd.nextLong() | Long.MIN_VALUE);
        StringBuilder sb = new StringBuilder("k");
        while (sb.length() < size) {
            sb.append(hex);
        }
        return sb.substring(0, size).getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * The raw limit at a given concurrency: one thread appending {@code count} entries of
     * {@code entrySize} bytes to a Chronicle Queue built like the store's, with one msync every
     * {@code group} entries — group commit with no store, no hand-off and no waiting threads.
     */
    static Result raw(Path dir, int group, long count, int entrySize) {
        try (SingleChronicleQueue q = SingleChronicleQueueBuilder.binary(dir.toFile()).rollCycle(RollCycles.FAST_HOURLY)
                .syncMode(SyncMode.SYNC).build();
             ExcerptAppender a = q.createAppender()) {
            byte[] entry = new byte[entrySize];
            Bytes<byte[]> bytes = Bytes.wrapForRead(entry);
            Histogram h = new Histogram(3_600_000_000L, 3);
            long syncs = 0;
            long start = System.nanoTime();
            long groupStart = start;
            for (long i = 1; i <= count; i++) {
                entry[(int) (i % entrySize)]++;
                bytes.readPosition(0);
                a.writeBytes(bytes);
                if (i % group == 0 || i == count) {
                    a.sync();
                    syncs++;
                    long now = System.nanoTime();
                    h.recordValue(Math.max(1, now - groupStart));
                    groupStart = now;
                }
            }
            double secs = (System.nanoTime() - start) / 1e9;
            return new Result("raw", group, count, secs, count / secs, count * (double) entrySize / secs / 1e6,
                    h.getValueAtPercentile(50) / 1000.0, h.getValueAtPercentile(99) / 1000.0, h.getMaxValue() / 1000.0,
                    entrySize, count / (double) syncs, 0);
        }
    }
}
