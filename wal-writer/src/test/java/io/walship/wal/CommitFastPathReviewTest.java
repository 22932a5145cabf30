package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;

import net.openhft.chronicle.core.time.SetTimeProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of the committer-led fast path (branch {@code lead}, 2026-12-04): defects found, each as a
 * test that fails on the branch.
 */
class CommitFastPathReviewTest {
    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /**
     * A {@link WalSpace} that, once armed, interrupts the thread that claims WAL space: an interrupt
     * that arrives while a committer is inside its own commit's append (a cancelled request's
     * {@code Future.cancel(true)}, an executor's {@code shutdownNow}). On main this thread was always
     * the writer, which nobody interrupts.
     */
    private static final class InterruptingSpace implements WalSpace {
        private final Preallocator real = new Preallocator();
        volatile boolean armed;
        final AtomicReference<String> interrupted = new AtomicReference<>();

        @Override
        public synchronized void reserve(Path file, long from, long to) throws IOException {
            if (armed) {
                armed = false;
                interrupted.set(Thread.currentThread().getName() + " in reserve of " + file.getFileName());
                Thread.currentThread().interrupt();
            }
            real.reserve(file, from, to);
        }

        @Override
        public synchronized void release(Path file) {
            real.release(file);
        }

        @Override
        public synchronized void close() {
            real.close();
        }
    }

    /**
     * A lone committer's commit that opens a new WAL cycle file: Chronicle would create and map the
     * new file on the appending thread, through a channel that is not yet {@link Uninterruptible},
     * so that commit goes to the writer (never interrupted by callers). With an interrupt arriving
     * at the moment the new file's space is claimed, the store goes on and the commit is
     * acknowledged (or refused, with the store going on).
     */
    @Test
    void anInterruptDuringARollOnTheFastPathDoesNotStopTheStore() throws Exception {
        Path dir = tmp.resolve("d");
        InterruptingSpace space = new InterruptingSpace();
        SetTimeProvider clock = new SetTimeProvider(Instant.parse("2026-11-24T10:00:00Z"));
        try (Store store = Store.open(dir, StoreOptions.defaults(),
                WalSeams.defaults().withSpace(() -> space).withWalTime(clock))) {
            store.put(b("first"), b("v"));
            clock.advanceMillis(3_600_000); // the next commit opens a new cycle file
            AtomicReference<Object> result = new AtomicReference<>();
            Thread committer = new Thread(() -> {
                try {
                    space.armed = true;
                    result.set(store.put(b("rolled"), b("v")));
                } catch (Throwable t) {
                    result.set(t);
                } finally {
                    Thread.interrupted();
                }
            }, "interrupted-committer");
            committer.start();
            committer.join(30_000);
            System.out.println("interrupt delivered: " + space.interrupted.get() + "; result: " + result.get());
            // a commit opening a new WAL file is not taken by the fast path even when its committer
            // is alone: the writer creates the file (this stand-in interrupts whoever claims its
            // space, here the writer thread itself, and that must not stop the store either)
            assertTrue(space.interrupted.get() != null && space.interrupted.get().startsWith("walship-writer"),
                    "the writer opened the new file: " + space.interrupted.get());
            assertTrue(store.failure().isEmpty(), "an interrupt of a committer stopped the store: " + store.failure()
                    + " (result " + result.get() + ")");
            long lsn = store.put(b("after"), b("v"));
            assertTrue(store.durableLsn() >= lsn);
        }
        try (Store reopened = Store.open(dir)) {
            assertArrayEquals(b("v"), reopened.get(b("after")));
        }
    }

    /**
     * An async commit returns once applied in memory; a stalled disk must not hold it. On main the
     * writer acknowledged a group's async commits before it ran {@code afterGroup} (eviction), whose
     * dirty write-back waits for WAL durability: the commit that pushed the pool over its capacity
     * was acknowledged, later ones queued behind the writer unapplied. On the fast path the lone
     * committer runs {@code afterGroup} itself before it returns: an async commit that is applied
     * (its LSN is the store's last) is not acknowledged until a sync completes.
     */
    @Test
    void anAppliedAsyncCommitIsNotHeldByEvictionWaitingForAStalledSync() throws Exception {
        TestSync sync = new TestSync();
        StoreOptions opts = StoreOptions.defaults().withPoolPages(64)
                .withCheckpoint(1L << 40, Duration.ofHours(1)); // no checkpoint meanwhile: only eviction writes pages
        try (Store store = Store.open(tmp.resolve("d"), opts, WalSeams.defaults().withSync(sync))) {
            store.put(b("first"), b("v"));
            sync.close(); // the disk stalls from here on
            long acked = store.durableLsn();
            String stuck = null;
            try {
                byte[] value = new byte[1000];
                for (int i = 0; i < 2_000 && stuck == null; i++) {
                    String k = String.format("k%05d", i);
                    CompletableFuture<Long> put = CompletableFuture.supplyAsync(() -> store.put(b(k), value,
                            Durability.ASYNC));
                    try {
                        acked = put.get(10, TimeUnit.SECONDS);
                    } catch (TimeoutException e) {
                        // held (10 s): by the stalled sync. Applied, or still queued behind the writer?
                        stuck = k + ": acknowledged up to LSN " + acked + ", the store's last LSN is " + store.lastLsn()
                                + ", durable " + store.durableLsn();
                    } catch (ExecutionException e) {
                        throw new AssertionError(k, e.getCause());
                    }
                }
                System.out.println("held async commit: " + stuck);
                if (stuck != null) {
                    assertEquals(acked, store.lastLsn(), "an applied async commit waits for a stalled sync (" + stuck
                            + "): eviction's write-back waited for WAL durability on the committer's own thread");
                }
            } finally {
                sync.open();
            }
        }
    }

    /**
     * Committers interrupted at random moments by another thread (a request cancelled with
     * {@code Future.cancel(true)}, a pool shut down with {@code shutdownNow}) while they apply,
     * evict (a small pool: eviction writes pages on the committer's thread), roll WAL files and lead
     * their own syncs. Nothing may stop the store, every acknowledged durable commit is at or below
     * the durable LSN when acknowledged, and a reopened store has them all. Seeded
     * ({@code -Dwalship.seed=N}).
     */
    @Test
    void randomInterruptsOfCommittersNeverStopTheStore() throws Exception {
        long seed = Long.getLong("walship.seed", System.nanoTime());
        System.out.println("randomInterruptsOfCommittersNeverStopTheStore seed=" + seed);
        java.util.Random rnd = new java.util.Random(seed);
        Path dir = tmp.resolve("d");
        SetTimeProvider clock = new SetTimeProvider(Instant.parse("2026-11-24T10:00:00Z"));
        StoreOptions opts = StoreOptions.defaults().withPoolPages(64)
                .withRollCycle(net.openhft.chronicle.queue.rollcycles.TestRollCycles.TEST_SECONDLY);
        java.util.Map<String, Long> acked = new java.util.concurrent.ConcurrentHashMap<>();
        java.util.List<String> problems = new java.util.concurrent.CopyOnWriteArrayList<>();
        try (Store store = Store.open(dir, opts, WalSeams.defaults().withWalTime(clock))) {
            store.put(b("first"), b("v"));
            int threads = 1 + rnd.nextInt(3);
            java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            java.util.List<Thread> committers = new java.util.ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int id = t;
                java.util.Random r = new java.util.Random(rnd.nextLong());
                Thread th = new Thread(() -> {
                    for (int i = 0; !stop.get() && i < 1_500; i++) {
                        String k = "t" + id + "-" + i;
                        boolean durable = r.nextInt(3) == 0;
                        try {
                            long lsn = store.put(b(k), new byte[r.nextInt(1_000)], durable ? Durability.DURABLE
                                    : Durability.ASYNC);
                            if (durable) {
                                long d = store.durableLsn();
                                if (lsn > d) {
                                    problems.add(k + ": LSN " + lsn + " acknowledged durable with the durable LSN at " + d);
                                }
                                acked.put(k, lsn);
                            }
                        } catch (RuntimeException e) {
                            problems.add(k + ": " + e);
                            return;
                        } finally {
                            Thread.interrupted(); // the caller's: cleared between commits
                        }
                    }
                }, "committer-" + t);
                committers.add(th);
                th.start();
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (committers.stream().anyMatch(Thread::isAlive)) {
                if (System.nanoTime() > deadline) {
                    stop.set(true);
                    problems.add("committers still running after 120 s");
                    break;
                }
                Thread victim = committers.get(rnd.nextInt(committers.size()));
                victim.interrupt();
                if (rnd.nextInt(200) == 0) {
                    clock.advanceMillis(1_100); // a roll: Chronicle maps a new file on whoever appends next
                }
                java.util.concurrent.locks.LockSupport.parkNanos(rnd.nextInt(200_000));
            }
            for (Thread th : committers) {
                th.join(60_000);
            }
            assertTrue(store.failure().isEmpty(), "seed=" + seed + ": interrupts stopped the store: " + store.failure());
            assertEquals(java.util.List.of(), problems, "seed=" + seed);
        }
        try (Store reopened = Store.open(dir, opts, WalSeams.defaults().withWalTime(clock))) {
            for (var e : acked.entrySet()) {
                assertTrue(reopened.get(b(e.getKey())) != null, "seed=" + seed + ": lost acknowledged " + e);
            }
        }
    }
}
