package io.walship.cli;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

import io.walship.server.CommitWait;
import io.walship.server.LeaderNode;
import io.walship.shipper.repl.ReplicationOptions;
import io.walship.shipper.repl.ReplicationServer;
import io.walship.shipper.repl.SyncOptions;
import io.walship.wal.Durability;
import io.walship.wal.Store;
import org.HdrHistogram.Histogram;

/**
 * The measurements behind {@code walship bench sync}: durable commits on a leader whose followers
 * ({@link LoopbackFollower}, each with its own store, on loopback TCP) stream and acknowledge its
 * WAL, in one commit mode. A commit is timed from the call to the answer the HTTP API would give:
 * {@link LeaderNode#put} (durable on the leader) then {@link LeaderNode#awaitCommit} (the acks).
 */
final class SyncBench {
    /** One run's figures; latencies in microseconds. {@code degraded}: commits answered without their acks. */
    record Result(String mode, int threads, int followers, long commits, double seconds, double commitsPerSec,
                  double p50Micros, double p99Micros, double maxMicros, long degraded) {
    }

    private SyncBench() {
    }

    /**
     * One run: the leader's store under {@code dir}, follower i's store at {@code followerDir}/follower{i}
     * ({@code followerDir} may be {@code dir}, or another file system standing in for another machine's disk).
     */
    static Result run(Path dir, Path followerDir, String label, SyncOptions sync, int followers, int threads,
                      long count, long warmup, int keySize, int valueSize) throws Exception {
        List<LoopbackFollower> fs = new ArrayList<>();
        try (Store leader = Store.open(dir.resolve("leader"));
             ReplicationServer repl = new ReplicationServer(leader, new InetSocketAddress("127.0.0.1", 0),
                     ReplicationOptions.defaults(), sync).start()) {
            try {
                for (int i = 0; i < followers; i++) {
                    fs.add(LoopbackFollower.fromStore(leader, repl.address().getPort(), followerDir.resolve("follower" + i),
                            "bench-f" + i));
                }
                LeaderNode node = new LeaderNode(leader, null, repl);
                AtomicLong degraded = new AtomicLong();
                if (warmup > 0) {
                    write(node, Math.min(threads, 4), warmup, keySize, valueSize, new Histogram(3_600_000_000L, 3), 7,
                            degraded);
                }
                degraded.set(0);
                Histogram h = new Histogram(3_600_000_000L, 3);
                long start = System.nanoTime();
                write(node, threads, count, keySize, valueSize, h, 42, degraded);
                double secs = (System.nanoTime() - start) / 1e9;
                return new Result(label, threads, followers, count, secs, count / secs,
                        h.getValueAtPercentile(50) / 1000.0, h.getValueAtPercentile(99) / 1000.0,
                        h.getMaxValue() / 1000.0, degraded.get());
            } finally {
                for (LoopbackFollower f : fs) {
                    f.close();
                }
            }
        }
    }

    private static void write(LeaderNode node, int threads, long count, int keySize, int valueSize, Histogram into,
                              long seed, AtomicLong degraded) throws InterruptedException {
        List<Thread> workers = new ArrayList<>();
        List<Histogram> hs = new ArrayList<>();
        CountDownLatch go = new CountDownLatch(1);
        List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
        for (int t = 0; t < threads; t++) {
            long n = count / threads + (t < count % threads ? 1 : 0);
            SplittableRandom rnd = new SplittableRandom(seed * 1_000 + t);
            Histogram h = new Histogram(3_600_000_000L, 3);
            hs.add(h);
            Thread w = new Thread(() -> {
                byte[] value = new byte[valueSize];
                try {
                    go.await();
                    for (long i = 0; i < n; i++) {
                        byte[] key = key(rnd, keySize);
                        for (int j = 0; j < value.length; j += 8) {
                            value[j] = (byte) rnd.nextInt();
                        }
                        long t0 = System.nanoTime();
                        CommitWait cw = node.commitWait(null, Durability.DURABLE);
                        long lsn = node.put(key, value, Durability.DURABLE);
                        if ("degraded".equals(node.awaitCommit(lsn, cw))) {
                            degraded.incrementAndGet();
                        }
                        h.recordValue(Math.max(1, System.nanoTime() - t0));
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            }, "bench-writer-" + t);
            workers.add(w);
            w.start();
        }
        go.countDown();
        for (Thread w : workers) {
            w.join();
        }
        if (!failures.isEmpty()) {
            throw new IllegalStateException("a bench writer failed: " + failures.get(0), failures.get(0));
        }
        hs.forEach(into::add);
    }

    private static byte[] key(SplittableRandom rnd, int size) {
        String hex = Long.toHexString(rnd.nextLong() | Long.MIN_VALUE) + Long.toHexString(rnd.nextLong() | Long.MIN_VALUE);
        StringBuilder sb = new StringBuilder("k");
        while (sb.length() < size) {
            sb.append(hex);
        }
        return sb.substring(0, size).getBytes(StandardCharsets.US_ASCII);
    }

    /** The modes compared: async (the baseline), semi-sync, and sync with quorum {@code quorum}. */
    static List<SyncOptions> modes(int quorum) {
        Duration t = Duration.ofSeconds(10);
        return List.of(SyncOptions.async(),
                new SyncOptions(SyncOptions.Mode.SEMI_SYNC, 1, t, SyncOptions.OnTimeout.DEGRADE),
                new SyncOptions(SyncOptions.Mode.SYNC, quorum, t, SyncOptions.OnTimeout.DEGRADE));
    }
}
