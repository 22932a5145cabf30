package io.walship.cli;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import io.walship.protocol.HostPort;
import io.walship.restorer.follow.Bootstrap;
import io.walship.restorer.follow.FollowerLoop;
import io.walship.server.LeaderServer;
import io.walship.shipper.repl.ReplicationOptions;
import io.walship.shipper.repl.ReplicationServer;
import io.walship.wal.Durability;
import io.walship.wal.Lsn;
import io.walship.wal.Store;
import io.walship.wal.StoreOptions;
import org.HdrHistogram.Histogram;

/**
 * The measurements behind {@code walship bench repl}: a leader store with its replication
 * endpoint and a follower ({@link Bootstrap} from the leader's snapshot, then a {@link FollowerLoop}
 * streaming over loopback TCP) in this process, so that one clock times both sides.
 *
 * <p><b>Lag</b> of a commit = the time from the leader's acknowledgement (its durable
 * {@code put} returning to the writer) to the follower having applied it (the follower store's
 * applied-LSN listener firing for it, after the entry is in the follower's own WAL). A commit the
 * follower applied before the writer got its acknowledgement counts as lag 0. The baseline beside
 * it is the leader's own commit latency in the same phase.
 *
 * <p><b>Apply rate</b>: the follower is stopped, the leader commits a backlog at its maximum
 * durable rate (the baseline), then the follower starts again and the time from its start to
 * having applied the whole backlog gives its apply rate.
 */
final class ReplBench {
    /** One phase of commits with its lag. Times in microseconds. */
    record Lag(String phase, int threads, long commits, double seconds, double commitsPerSec, double commitP50,
               double commitP99, double lagP50, double lagP99, double lagMax, long appliedBeforeAck,
               long leaderCheckpoints, long followerRestartpoints) {
    }

    /** The follower's catch-up over a backlog, against the leader's rate writing it. */
    record Apply(long entries, double leaderCommitsPerSec, double followerAppliedPerSec) {
        double ratio() {
            return followerAppliedPerSec / leaderCommitsPerSec;
        }
    }

    record Result(Lag paced, Lag max, Apply apply) {
    }

    private ReplBench() {
    }

    /** Records, per LSN, when the leader acknowledged it and when the follower applied it. */
    private static final class Times {
        final long base;
        final long[] acked;
        final long[] applied;
        long lastApplied; // only the follower's apply thread touches it

        Times(long base, int n) {
            this.base = base;
            this.acked = new long[n];
            this.applied = new long[n];
            this.lastApplied = base - 1;
        }

        void acked(long lsn, long nanos) {
            long i = lsn - base;
            if (i >= 0 && i < acked.length) {
                acked[(int) i] = nanos;
            }
        }

        void applied(long upTo) {
            long now = System.nanoTime();
            for (long l = Math.max(lastApplied + 1, base); l <= upTo && l - base < applied.length; l++) {
                applied[(int) (l - base)] = now;
            }
            lastApplied = Math.max(lastApplied, upTo);
        }
    }

    static Result run(Path dir, int threads, long count, double rate, int valueSize) throws IOException, InterruptedException {
        Path leaderDir = dir.resolve("leader");
        Path followerDir = dir.resolve("follower");
        try (Store leader = Store.open(leaderDir)) {
            // warm the JIT and the tree outside the measurement
            writers(leader, Math.min(4, threads), Math.min(20_000, count / 5), 0, valueSize, Durability.ASYNC, null, new Histogram(3), 7);
            leader.checkpoint();
            int httpPort;
            try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
                httpPort = s.getLocalPort();
            }
            String url = "http://127.0.0.1:" + httpPort;
            try (ReplicationServer repl = new ReplicationServer(leader, new InetSocketAddress("127.0.0.1", 0),
                    ReplicationOptions.defaults().withIdentity("bench leader", url)).start();
                 LeaderServer http = new LeaderServer(leader, new InetSocketAddress("127.0.0.1", httpPort), null, repl, null)
                         .start()) {
                Bootstrap.prepare(followerDir, null, url);
                try (Store follower = Store.open(followerDir, StoreOptions.defaults().withRetentionNeedsArchive(false))) {
                    FollowerLoop.Options options = FollowerLoop.Options.defaults(
                            HostPort.parse("127.0.0.1:" + repl.address().getPort())).withNodeId("bench");
                    FollowerLoop loop = new FollowerLoop(follower, null, options).start();
                    try {
                        awaitApplied(follower, leader.lastLsn(), loop);
                        Lag paced = phase("paced", leader, follower, threads, count, rate, valueSize, loop, 11);
                        Lag max = phase("max", leader, follower, threads, count, 0, valueSize, loop, 13);
                        loop.close();
                        loop = null;
                        // the backlog, written while the follower is stopped, at the leader's full rate
                        Histogram h = new Histogram(3);
                        long t0 = System.nanoTime();
                        writers(leader, threads, count, 0, valueSize, Durability.DURABLE, null, h, 17);
                        double leaderRate = count / ((System.nanoTime() - t0) / 1e9);
                        long target = leader.lastLsn();
                        long from = follower.lastLsn();
                        long s0 = System.nanoTime();
                        loop = new FollowerLoop(follower, null, options).start();
                        awaitApplied(follower, target, loop);
                        double followerRate = (target - from) / ((System.nanoTime() - s0) / 1e9);
                        return new Result(paced, max, new Apply(target - from, leaderRate, followerRate));
                    } finally {
                        if (loop != null) {
                            loop.close();
                        }
                    }
                }
            }
        }
    }

    /** Waits (on the applied-LSN listener, not polling) until the follower has applied {@code lsn}. */
    private static void awaitApplied(Store follower, long lsn, FollowerLoop loop) throws InterruptedException {
        Object lock = new Object();
        try (Store.Registration r = follower.onApplied(l -> {
            synchronized (lock) {
                lock.notifyAll();
            }
        })) {
            long deadline = System.nanoTime() + 300_000_000_000L;
            synchronized (lock) {
                while (follower.lastLsn() < lsn) {
                    if (loop.failure() != null) {
                        throw new IllegalStateException("the follower stopped: " + loop.failure(), loop.failure());
                    }
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException("the follower did not reach LSN " + Lsn.format(lsn) + " in 300 s; it is at "
                                + Lsn.format(follower.lastLsn()) + " (" + loop.state() + ")");
                    }
                    lock.wait(100);
                }
            }
        } catch (Exception e) {
            if (e instanceof InterruptedException ie) {
                throw ie;
            }
            if (e instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(e);
        }
    }

    private static Lag phase(String name, Store leader, Store follower, int threads, long count, double rate, int valueSize,
                             FollowerLoop loop, long seed) throws InterruptedException {
        long base = leader.lastLsn() + 1;
        Times times = new Times(base, (int) (count * 2 + 1_000));
        Histogram commit = new Histogram(3);
        long end;
        double secs;
        long leaderCk = leader.stats().checkpoints();
        long followerCk = follower.stats().checkpoints();
        try (Store.Registration r = follower.onApplied(times::applied)) {
            long t0 = System.nanoTime();
            writers(leader, threads, count, rate, valueSize, Durability.DURABLE, times, commit, seed);
            secs = (System.nanoTime() - t0) / 1e9;
            end = leader.lastLsn();
            awaitApplied(follower, end, loop);
        } catch (Exception e) {
            if (e instanceof InterruptedException ie) {
                throw ie;
            }
            if (e instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(e);
        }
        Histogram lag = new Histogram(3);
        long before = 0;
        long commits = 0;
        for (long l = base; l <= end; l++) {
            int i = (int) (l - base);
            if (i >= times.acked.length || times.acked[i] == 0) {
                continue; // not one of the measured commits
            }
            commits++;
            long d = times.applied[i] - times.acked[i];
            if (d <= 0) {
                before++;
                d = 0;
            }
            lag.recordValue(Math.max(1, d / 1000));
        }
        return new Lag(name, threads, commits, secs, commits / secs, commit.getValueAtPercentile(50) / 1000.0,
                commit.getValueAtPercentile(99) / 1000.0, lag.getValueAtPercentile(50), lag.getValueAtPercentile(99),
                lag.getMaxValue(), before, leader.stats().checkpoints() - leaderCk, follower.stats().checkpoints() - followerCk);
    }

    /**
     * {@code threads} writers doing {@code count} puts of new random keys; with {@code rate} > 0
     * commit i is not started before {@code start + i / rate}. Commit latency (ns) goes to
     * {@code commit}, acknowledgement times to {@code times} (if any).
     */
    private static void writers(Store store, int threads, long count, double rate, int valueSize, Durability d, Times times,
                                Histogram commit, long seed) {
        AtomicLong tickets = new AtomicLong();
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> ws = new ArrayList<>();
        List<Histogram> hs = new ArrayList<>();
        long[] start = new long[1];
        for (int t = 0; t < threads; t++) {
            SplittableRandom rnd = new SplittableRandom(seed * 1_000 + t);
            Histogram h = new Histogram(3);
            hs.add(h);
            Thread w = new Thread(() -> {
                byte[] value = new byte[valueSize];
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                long s = start[0];
                long i;
                while ((i = tickets.getAndIncrement()) < count) {
                    if (rate > 0) {
                        long due = s + (long) (i * 1e9 / rate);
                        long wait;
                        while ((wait = due - System.nanoTime()) > 0) {
                            LockSupport.parkNanos(wait);
                        }
                    }
                    byte[] key = ("k" + Long.toHexString(rnd.nextLong() | Long.MIN_VALUE)).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
                    for (int j = 0; j < value.length; j += 8) {
                        value[j] = (byte) rnd.nextInt();
                    }
                    long t0 = System.nanoTime();
                    long lsn = store.put(key, value, d);
                    long t1 = System.nanoTime();
                    h.recordValue(Math.max(1, t1 - t0));
                    if (times != null) {
                        times.acked(lsn, t1);
                    }
                }
            }, "bench-repl-writer-" + t);
            ws.add(w);
            w.start();
        }
        start[0] = System.nanoTime();
        go.countDown();
        for (Thread w : ws) {
            try {
                w.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        hs.forEach(commit::add);
    }
}
