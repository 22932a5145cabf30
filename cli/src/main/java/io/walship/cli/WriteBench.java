package io.walship.cli;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;

import io.walship.wal.Durability;
import io.walship.wal.Store;
import io.walship.wal.StoreOptions;
import io.walship.wal.StoreStats;
import io.walship.wal.WalCompression;
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

    /**
     * What is written. {@code updateRows} 0: random new keys. Otherwise that many rows (keys
     * {@code k} + a zero-padded number) are loaded first, unmeasured, and the measured commits
     * overwrite random ones of them: random updates of an existing store, whose WAL is mostly
     * full-page images. Values are random base64 ({@code base64}, as {@code bench fill}'s), or
     * one random byte in eight and the rest zero.
     */
    record Workload(int keySize, int valueSize, long updateRows, boolean base64, WalCompression compression,
                    long upsertKeys) {
        /** {@code upsertKeys > 0}: each commit upserts key {@code "k" + random(1..upsertKeys)} (scripts/bench-peers.sh's PUTs). */
        Workload(int keySize, int valueSize, long updateRows, boolean base64, WalCompression compression) {
            this(keySize, valueSize, updateRows, base64, compression, 0);
        }

        boolean updates() {
            return updateRows > 0;
        }
    }

    /** {@code threads} writers doing {@code count} commits into a store in {@code dir}. */
    /**
     * @param warmup       unmeasured async commits first (JIT and tree), then a checkpoint
     * @param warmupLikeRun then this many unmeasured commits of the measured kind (threads, durability)
     */
    static Result store(Path dir, int threads, long count, long warmup, long warmupLikeRun, Workload w,
                        Durability durability) {
        try (Store store = Store.open(dir, StoreOptions.defaults().withWalCompression(w.compression()))) {
            // warm the JIT and the tree a little, outside the measurement
            if (w.updates()) {
                load(store, w);
                store.checkpoint();
            }
            if (warmup > 0) {
                runStore(store, Math.min(threads, 4), warmup, w, Durability.ASYNC, new Histogram(3_600_000_000L, 3), 7);
                store.checkpoint();
            }
            if (warmupLikeRun > 0) {
                runStore(store, threads, warmupLikeRun, w, durability, new Histogram(3_600_000_000L, 3), 11);
            }
            StoreStats before = store.stats();
            Histogram h = new Histogram(3_600_000_000L, 3);
            long start = System.nanoTime();
            runStore(store, threads, count, w, durability, h, 42);
            double secs = (System.nanoTime() - start) / 1e9;
            StoreStats after = store.stats();
            long commits = after.commits() - before.commits();
            long syncs = Math.max(1, after.walSyncs() - before.walSyncs());
            return new Result("store", threads, commits, secs, commits / secs,
                    commits * (double) (w.keySize() + w.valueSize()) / secs / 1e6,
                    h.getValueAtPercentile(50) / 1000.0, h.getValueAtPercentile(99) / 1000.0, h.getMaxValue() / 1000.0,
                    (after.walBytes() - before.walBytes()) / (double) commits, commits / (double) syncs,
                    (after.fullPageImages() - before.fullPageImages()) / (double) commits);
        }
    }

    /** The rows random updates overwrite, in key order, 500 to a batch, not durable. */
    private static void load(Store store, Workload w) {
        SplittableRandom rnd = new SplittableRandom(1);
        io.walship.wal.WriteBatch batch = new io.walship.wal.WriteBatch();
        for (long i = 0; i < w.updateRows(); i++) {
            batch.put(rowKey(i, w.keySize()), value(rnd, w, new byte[w.valueSize()]));
            if (batch.size() == 500 || i == w.updateRows() - 1) {
                store.write(batch, Durability.ASYNC);
                batch = new io.walship.wal.WriteBatch();
            }
        }
    }

    private static byte[] rowKey(long i, int size) {
        StringBuilder sb = new StringBuilder(Long.toString(i));
        while (sb.length() < size - 1) {
            sb.insert(0, '0');
        }
        return ("k" + sb).getBytes(StandardCharsets.US_ASCII);
    }

    private static final byte[] BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
            .getBytes(StandardCharsets.US_ASCII);

    /** Fills {@code into} with a new value of the workload's kind. */
    private static byte[] value(SplittableRandom rnd, Workload w, byte[] into) {
        if (w.base64()) {
            for (int i = 0; i < into.length; i++) {
                into[i] = BASE64[rnd.nextInt(64)];
            }
        } else {
            for (int j = 0; j < into.length; j += 8) {
                into[j] = (byte) rnd.nextInt();
            }
        }
        return into;
    }

    private static void runStore(Store store, int threads, long count, Workload wl, Durability d, Histogram into,
                                 long seed) {
        List<Thread> workers = new ArrayList<>();
        List<Histogram> hs = new ArrayList<>();
        CountDownLatch go = new CountDownLatch(1);
        for (int t = 0; t < threads; t++) {
            long n = count / threads + (t < count % threads ? 1 : 0);
            SplittableRandom rnd = new SplittableRandom(seed * 1_000 + t);
            Histogram h = new Histogram(3_600_000_000L, 3);
            hs.add(h);
            Thread w = new Thread(() -> {
                byte[] value = new byte[wl.valueSize()];
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (long i = 0; i < n; i++) {
                    byte[] key = wl.upsertKeys() > 0
                            ? ("k" + rnd.nextLong(1, wl.upsertKeys() + 1)).getBytes(StandardCharsets.US_ASCII)
                            : wl.updates() ? rowKey(rnd.nextLong(wl.updateRows()), wl.keySize())
                            : randomKey(rnd, wl.keySize());
                    value(rnd, wl, value);
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
