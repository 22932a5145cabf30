package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The commit pipeline's invariants under stress and faults (written by the review of a change that
 * let the writer sync, 2026-12-04, not merged; they hold for the writer + syncer design too):
 * fail-stop after a failed sync (and no later sync of anything after it), no acknowledgement before
 * durability, no committer left parked, a non-durable commit never waiting for another's sync,
 * close during a stalled sync, and a roll-over's two files both synced.
 */
class CommitPipelineInvariantsTest {
    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /**
     * A non-durable commit returns once applied in memory (docs/OPERATIONS.md): it must not wait
     * for somebody else's fdatasync: the writer applies it while the syncer's sync is stalled (a
     * change that had the writer sync a lone group itself held it until that sync returned).
     */
    @Test
    void anAsyncCommitIsNotHeldBehindADurableCommitsSync() throws Exception {
        OneShotFailSync rec = new OneShotFailSync();
        try (Store store = Store.open(tmp.resolve("d"), StoreOptions.defaults(), WalSeams.defaults().withSync(rec))) {
            store.put(b("first"), b("v"));
            rec.entered = new CountDownLatch(1);
            rec.sync.close(); // the disk stalls: the next sync does not return until opened
            CompletableFuture<Long> durable;
            CompletableFuture<Long> async;
            try {
                durable = CompletableFuture.supplyAsync(() -> store.put(b("durable"), b("v")));
                assertTrue(rec.entered.await(30, TimeUnit.SECONDS), "the durable commit's sync never started");
                async = CompletableFuture.supplyAsync(() -> store.put(b("async"), b("v"), Durability.ASYNC));
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (!async.isDone() && System.nanoTime() < deadline) {
                    Thread.onSpinWait();
                    Thread.yield();
                }
                assertFalse(durable.isDone(), "the durable commit was acknowledged while its sync was held");
                assertTrue(async.isDone(), "an async commit waited for another commit's fdatasync (sync held 10 s)");
            } finally {
                rec.sync.open();
            }
            durable.get(30, TimeUnit.SECONDS);
            async.get(30, TimeUnit.SECONDS);
        }
    }

    /**
     * Committers (1..6 threads, durable and async mixed) while one file sync fails (the
     * syncer reports it). Checks: every acknowledged durable commit is at or below the
     * durable LSN, which never moves after the failure; no sync of anything runs after the failed
     * one (fsyncgate); nobody is left parked; reopening has every acknowledged durable commit.
     */
    @Test
    void aFailedSyncStopsEverythingAndLeavesNobodyParked() throws Exception {
        long seed = seed("aFailedSyncStopsEverythingAndLeavesNobodyParked");
        Random rnd = new Random(seed);
        for (int round = 0; round < 12; round++) {
            int threads = 1 + rnd.nextInt(6);
            int failAfter = 3 + rnd.nextInt(60);
            double asyncShare = rnd.nextInt(3) * 0.25;
            runFailureRound(tmp.resolve("r" + round), threads, failAfter, asyncShare, rnd.nextLong(),
                    "seed=" + seed + " round=" + round + " threads=" + threads + " failAfter=" + failAfter);
        }
    }

    /** The seed of a randomised test: -Dwalship.seed=N replays one; printed either way. */
    private static long seed(String test) {
        long seed = Long.getLong("walship.seed", System.nanoTime());
        System.out.println(test + " seed=" + seed);
        return seed;
    }

    private void runFailureRound(Path dir, int threads, int failAfter, double asyncShare, long seed, String what)
            throws Exception {
        OneShotFailSync rec = new OneShotFailSync();
        Store store = Store.open(dir, StoreOptions.defaults().withAsyncFlushMillis(2), WalSeams.defaults().withSync(rec));
        store.put(b("first"), b("v"));
        ConcurrentHashMap<String, Long> ackedDurable = new ConcurrentHashMap<>();
        AtomicLong maxAckedDurable = new AtomicLong();
        rec.failAt.set(rec.calls.get() + failAfter);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        List<Future<?>> futures = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int id = t;
            Random r = new Random(seed + t);
            futures.add(pool.submit(() -> {
                for (int i = 0; ; i++) {
                    String k = "t" + id + "-" + i;
                    boolean durable = r.nextDouble() >= asyncShare;
                    long lsn;
                    try {
                        lsn = store.put(b(k), b("v" + k), durable ? Durability.DURABLE : Durability.ASYNC);
                    } catch (StoreFailedException e) {
                        return null;
                    }
                    if (durable) {
                        long d = store.durableLsn();
                        if (d < lsn) {
                            throw new AssertionError(what + ": LSN " + lsn + " acknowledged with the durable LSN at " + d);
                        }
                        ackedDurable.put(k, lsn);
                        maxAckedDurable.accumulateAndGet(lsn, Math::max);
                    }
                    if (i > 200_000) {
                        throw new AssertionError(what + ": the failure never came");
                    }
                }
            }));
        }
        pool.shutdown();
        for (Future<?> f : futures) {
            try {
                f.get(60, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                fail(what + ": a committer was left parked after the failed sync (failure="
                        + store.failure().orElse(null) + ", durable=" + store.durableLsn() + ", last=" + store.lastLsn() + ")");
            }
        }
        assertTrue(rec.failed, what);
        assertNotNull(store.failure().orElse(null), what);
        long durableAtFailure = store.durableLsn();
        assertTrue(maxAckedDurable.get() <= durableAtFailure, what + ": acknowledged past the durable LSN");
        assertEquals(List.of(), rec.afterFailure, what + ": synced again after a failed sync (" + rec.failedOn + ")");
        assertEquals(durableAtFailure, store.durableLsn(), what + ": the durable LSN moved after the failure");
        store.close();
        assertEquals(List.of(), rec.afterFailure, what + ": synced again after a failed sync, while closing");
        try (Store reopened = Store.open(dir)) {
            for (var e : ackedDurable.entrySet()) {
                assertArrayEquals(b("v" + e.getKey()), reopened.get(b(e.getKey())), what + ": lost " + e);
            }
        }
    }

    /**
     * Without failures: 1..6 committers, durable and async mixed, under the async flush
     * timer and durable syncs. No commit may wait long (a lost wake-up parks one for good; the slowest wait
     * is printed), none is acknowledged durable ahead of the durable LSN.
     */
    @Test
    void mixedCommittersAreNeverLeftParkedNorAcknowledgedEarly() throws Exception {
        long seed = seed("mixedCommittersAreNeverLeftParkedNorAcknowledgedEarly");
        Random rnd = new Random(seed);
        OneShotFailSync rec = new OneShotFailSync();
        AtomicLong slowestNanos = new AtomicLong();
        try (Store store = Store.open(tmp.resolve("d"), StoreOptions.defaults().withAsyncFlushMillis(1 + rnd.nextInt(50)),
                WalSeams.defaults().withSync(rec))) {
            for (int round = 0; round < 6; round++) {
                int threads = 1 + rnd.nextInt(6);
                double asyncShare = rnd.nextInt(4) * 0.25;
                int perThread = 300 / threads;
                String what = "seed=" + seed + " round=" + round + " threads=" + threads + " async=" + asyncShare;
                ExecutorService pool = Executors.newFixedThreadPool(threads);
                List<Future<?>> futures = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    int id = t;
                    Random r = new Random(rnd.nextLong());
                    int rd = round;
                    futures.add(pool.submit(() -> {
                        for (int i = 0; i < perThread; i++) {
                            boolean durable = r.nextDouble() >= asyncShare;
                            long start = System.nanoTime();
                            long lsn = store.put(b("r" + rd + "t" + id + "-" + i), b("v"),
                                    durable ? Durability.DURABLE : Durability.ASYNC);
                            slowestNanos.accumulateAndGet(System.nanoTime() - start, Math::max);
                            if (durable && store.durableLsn() < lsn) {
                                throw new AssertionError(what + ": LSN " + lsn + " acknowledged before durable");
                            }
                        }
                        return null;
                    }));
                }
                pool.shutdown();
                for (Future<?> f : futures) {
                    try {
                        f.get(60, TimeUnit.SECONDS);
                    } catch (TimeoutException e) {
                        fail(what + ": a committer was left parked (durable=" + store.durableLsn() + ", last="
                                + store.lastLsn() + ")");
                    }
                }
            }
            assertEquals(List.of(), rec.afterFailure);
        }
        System.out.println("slowest commit: " + TimeUnit.NANOSECONDS.toMillis(slowestNanos.get()) + " ms");
    }

    /** close() while a sync is stalled: the commit is acknowledged once the disk returns, and kept. */
    @Test
    void closeWhileASyncIsStalledFinishesIt() throws Exception {
        Path dir = tmp.resolve("d");
        OneShotFailSync rec = new OneShotFailSync();
        Store store = Store.open(dir, StoreOptions.defaults(), WalSeams.defaults().withSync(rec));
        store.put(b("first"), b("v"));
        rec.entered = new CountDownLatch(1);
        rec.sync.close();
        CompletableFuture<Long> put;
        CompletableFuture<Void> closed;
        try {
            put = CompletableFuture.supplyAsync(() -> store.put(b("held"), b("v")));
            assertTrue(rec.entered.await(30, TimeUnit.SECONDS));
            Thread[] closer = new Thread[1];
            closed = new CompletableFuture<>();
            closer[0] = new Thread(() -> {
                try {
                    store.close();
                    closed.complete(null);
                } catch (Throwable t) {
                    closed.completeExceptionally(t);
                }
            }, "closer");
            closer[0].start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (closer[0].getState() == Thread.State.RUNNABLE || closer[0].getState() == Thread.State.NEW) {
                assertTrue(System.nanoTime() < deadline, "close never blocked");
                Thread.onSpinWait();
            }
            assertFalse(put.isDone());
        } finally {
            rec.sync.open();
        }
        long lsn = put.get(30, TimeUnit.SECONDS);
        closed.get(90, TimeUnit.SECONDS);
        try (Store reopened = Store.open(dir)) {
            assertArrayEquals(b("v"), reopened.get(b("held")));
            assertTrue(reopened.lastLsn() >= lsn);
        }
    }

    /**
     * Async commits left unsynced in one cycle file, then a lone durable commit in the next: its
     * sync must cover both files (the old one up to its end).
     */
    @Test
    void aSyncCoversBothFilesOfARollOver() {
        OneShotFailSync rec = new OneShotFailSync();
        net.openhft.chronicle.core.time.SetTimeProvider clock =
                new net.openhft.chronicle.core.time.SetTimeProvider(java.time.Instant.parse("2026-11-24T10:00:00Z"));
        try (Store store = Store.open(tmp.resolve("d"), StoreOptions.defaults().withAsyncFlushMillis(600_000),
                WalSeams.defaults().withSync(rec).withWalTime(clock))) {
            store.put(b("first"), b("v"));
            long asyncLsn = 0;
            for (int i = 0; i < 5; i++) {
                asyncLsn = store.put(b("a" + i), b("v"), Durability.ASYNC);
            }
            assertTrue(store.durableLsn() < asyncLsn, "the async commits are still unsynced");
            rec.forced.clear();
            clock.advanceMillis(3_600_000);
            long lsn = store.put(b("after-roll"), b("v"));
            assertTrue(store.durableLsn() >= lsn);
            List<String> files = rec.forced.stream().map(f -> f.substring(f.indexOf(' ') + 1)).distinct()
                    .filter(f -> f.endsWith(".cq4")).toList();
            assertEquals(2, files.size(), "both cycle files synced: " + rec.forced);
            System.out.println("roll-over syncs: " + rec.forced);
        }
    }
}
