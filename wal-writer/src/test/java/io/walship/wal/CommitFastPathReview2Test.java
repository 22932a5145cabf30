package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import net.openhft.chronicle.core.time.SetTimeProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Second review of the committer-led fast path (branch {@code lead2}, 2026-12-04): guards for the
 * scenarios the review traced. All pass on lead2 (no defect found in them); the async-commit probe
 * passes on main as well (same behaviour).
 */
class CommitFastPathReview2Test {
    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static Object field(Object o, String name) throws ReflectiveOperationException {
        Field f = o.getClass().getDeclaredField(name);
        f.setAccessible(true);
        return f.get(o);
    }

    private static Object value(Object o, String name) {
        try {
            return field(o, name);
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    private static boolean flag(Object o, String name) {
        return (Boolean) value(o, name);
    }

    private static void await(String what, java.util.function.BooleanSupplier cond) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
        }
    }

    /**
     * A lone durable committer passes the fast path's checks (appendLock taken, {@code opensNewFile}
     * false), then waits for the store's write lock (held here, as a checkpoint, a snapshot's
     * registration or a reader's eviction would). Meanwhile its caller interrupts it (a
     * {@code Future.cancel(true)}); {@code executeHere} cleared the interrupt status before, and
     * {@code writeLock.lock()} keeps the new one. With {@code rollClock} the WAL clock also crosses
     * into the next cycle meanwhile, so the append opens a new WAL file on the committer's thread
     * after all. Either way the commit's append runs with the thread's interrupt status set. On main
     * the append always ran on the writer thread, which nobody interrupts.
     */
    private void interruptWhileWaitingForTheWriteLock(boolean reopen, boolean rollClock) throws Exception {
        Path dir = tmp.resolve("d");
        SetTimeProvider clock = new SetTimeProvider(Instant.parse("2026-11-24T10:00:00Z"));
        List<String> reserves = new CopyOnWriteArrayList<>();
        WalSeams seams = WalSeams.defaults().withWalTime(clock).withSpace(() -> new WalSpace() {
            private final Preallocator real = new Preallocator();

            @Override
            public void reserve(Path file, long from, long to) throws java.io.IOException {
                reserves.add(Thread.currentThread().getName() + (Thread.currentThread().isInterrupted()
                        ? " (interrupted)" : "") + " " + file.getFileName());
                real.reserve(file, from, to);
            }

            @Override
            public void release(Path file) {
                real.release(file);
            }

            @Override
            public void close() {
                real.close();
            }
        });
        if (reopen) {
            try (Store s = Store.open(dir, StoreOptions.defaults(), seams)) {
                s.put(b("before"), b("v"));
            }
        }
        AtomicReference<Object> result = new AtomicReference<>();
        try (Store store = Store.open(dir, StoreOptions.defaults(), seams)) {
            if (!reopen) {
                store.put(b("before"), b("v")); // the writer's appender has its file open and mapped
            }
            ReentrantReadWriteLock rw = (ReentrantReadWriteLock) field(store, "rw");
            CommitPipeline pipeline = (CommitPipeline) field(store, "pipeline");
            ReentrantLock appendLock = (ReentrantLock) field(pipeline, "appendLock");
            // wait for the writer to be idle (the fast path's condition): it releases the append lock
            // before it clears writerBusy, so the lock alone let a committer go to the writer (a flake)
            await("the writer idle", () -> !appendLock.isLocked() && !flag(pipeline, "writerBusy")
                    && ((java.util.Queue<?>) value(pipeline, "requests")).isEmpty());
            Thread committer;
            rw.writeLock().lock();
            try {
                committer = new Thread(() -> {
                    try {
                        result.set(store.put(b("k"), b("v")));
                    } catch (Throwable t) {
                        result.set(t);
                    }
                }, "lone-committer");
                committer.start();
                // the committer has the append lock (the fast path) and waits for the write lock
                await("the committer on the fast path, waiting for the write lock",
                        () -> appendLock.isLocked() && rw.hasQueuedThread(committer));
                if (rollClock) {
                    clock.advanceMillis(86_400_000L); // the next cycle, whatever the roll cycle
                }
                committer.interrupt();
            } finally {
                rw.writeLock().unlock();
            }
            committer.join(30_000);
            System.out.println("reopen=" + reopen + " roll=" + rollClock + ": result " + result.get()
                    + ", failure " + store.failure() + "; space claimed by " + reserves);
            assertTrue(store.failure().isEmpty(), "an interrupt of a lone committer (arriving while it waited for"
                    + " the write lock) stopped the store: " + store.failure() + "; result " + result.get());
            assertTrue(result.get() instanceof Long, "the commit failed: " + result.get());
            long lsn = store.put(b("after"), b("v"));
            assertTrue(store.durableLsn() >= lsn);
        }
        try (Store reopened = Store.open(dir, StoreOptions.defaults(), seams)) {
            assertArrayEquals(b("v"), reopened.get(b("k")));
            assertArrayEquals(b("v"), reopened.get(b("after")));
        }
    }

    @Test
    void anInterruptWhileTheLoneCommitterWaitsForTheWriteLockDoesNotStopTheStore() throws Exception {
        interruptWhileWaitingForTheWriteLock(false, false);
    }

    /** After a reopen the appender has not mapped its file yet: the fast path's first append maps it. */
    @Test
    void anInterruptedFirstCommitAfterReopenDoesNotStopTheStore() throws Exception {
        interruptWhileWaitingForTheWriteLock(true, false);
    }

    /** {@code opensNewFile()} said no, then the cycle changed before the append: the roll is on the committer. */
    @Test
    void anInterruptedCommitThatRollsAfterTheCheckDoesNotStopTheStore() throws Exception {
        interruptWhileWaitingForTheWriteLock(false, true);
    }

    /**
     * One durable writer alone (every commit on the fast path) with a pool of 64 pages, no
     * checkpoints: every commit's eviction writes dirty pages back, which waits for the WAL to be
     * durable up to their LSNs while the committer holds the append lock and the write lock. With
     * a reader and an occasional async writer beside it. Must not hang.
     */
    @Test
    void aLoneDurableWriterWhoseEvictionWaitsForTheWalNeverHangs() throws Exception {
        StoreOptions opts = StoreOptions.defaults().withPoolPages(64)
                .withCheckpoint(1L << 40, Duration.ofHours(1));
        List<String> problems = new CopyOnWriteArrayList<>();
        try (Store store = Store.open(tmp.resolve("d"), opts)) {
            byte[] value = new byte[1000];
            AtomicBoolean stop = new AtomicBoolean();
            AtomicReference<Throwable> fail = new AtomicReference<>();
            Thread durable = new Thread(() -> {
                try {
                    for (int i = 0; i < 3_000; i++) {
                        long lsn = store.put(b(String.format("d%06d", i)), value);
                        if (lsn > store.durableLsn()) {
                            problems.add("LSN " + lsn + " acknowledged durable above the durable LSN");
                        }
                    }
                } catch (Throwable t) {
                    fail.set(t);
                }
            }, "durable-writer");
            Thread side = new Thread(() -> {
                int i = 0;
                try {
                    while (!stop.get()) {
                        store.put(b(String.format("a%06d", i)), value, Durability.ASYNC);
                        store.get(b(String.format("d%06d", (i * 7919) % 3_000)));
                        i++;
                        // a lone durable committer most of the time: the async writer is occasional
                        java.util.concurrent.locks.LockSupport.parkNanos(2_000_000);
                    }
                } catch (Throwable t) {
                    fail.compareAndSet(null, t);
                }
            }, "async-and-reader");
            durable.start();
            side.start();
            durable.join(TimeUnit.SECONDS.toMillis(180));
            stop.set(true);
            side.join(30_000);
            if (durable.isAlive()) {
                StringBuilder sb = new StringBuilder();
                for (var e : Thread.getAllStackTraces().entrySet()) {
                    if (e.getKey().getName().startsWith("walship") || e.getKey() == durable || e.getKey() == side) {
                        sb.append(e.getKey().getName()).append(' ').append(e.getKey().getState()).append('\n');
                        for (StackTraceElement el : e.getValue()) {
                            sb.append("    ").append(el).append('\n');
                        }
                    }
                }
                throw new AssertionError("the lone durable writer hangs:\n" + sb);
            }
            if (fail.get() != null) {
                throw new AssertionError(fail.get());
            }
            assertEquals(List.of(), problems);
            assertTrue(store.failure().isEmpty());
        }
    }

    /**
     * The self-wait: a lone durable committer's batch dirties more pages than the pool holds, so the
     * eviction after it (on the committer's thread, append lock and write lock held) must write back
     * pages carrying the batch's own LSN, which nobody has synced yet: {@code awaitDurable} →
     * {@code requestSync} publishes it (append lock held) and the syncer, not the committer, syncs it.
     * Must not hang; each acknowledged batch is durable.
     */
    @Test
    void aLoneCommitterWhoseEvictionWaitsForItsOwnLsnDoesNotHang() throws Exception {
        StoreOptions opts = StoreOptions.defaults().withPoolPages(64)
                .withCheckpoint(1L << 40, Duration.ofHours(1));
        java.util.Set<String> syncThreads = java.util.concurrent.ConcurrentHashMap.newKeySet();
        TestSync real = new TestSync();
        WalSync rec = new WalSync() {
            @Override
            public void force(Path file, java.nio.channels.FileChannel channel, long upTo) throws java.io.IOException {
                syncThreads.add(Thread.currentThread().getName());
                real.force(file, channel, upTo);
            }

            @Override
            public void forceDirectory(Path dir) throws java.io.IOException {
                real.forceDirectory(dir);
            }
        };
        AtomicReference<Throwable> fail = new AtomicReference<>();
        List<String> problems = new CopyOnWriteArrayList<>();
        java.util.Set<String> appendThreads = java.util.concurrent.ConcurrentHashMap.newKeySet();
        WalSeams seams = WalSeams.defaults().withSync(rec).withSpace(() -> new WalSpace() {
            private final Preallocator space = new Preallocator();

            @Override
            public void reserve(Path file, long from, long to) throws java.io.IOException {
                appendThreads.add(Thread.currentThread().getName());
                space.reserve(file, from, to);
            }

            @Override
            public void release(Path file) {
                space.release(file);
            }

            @Override
            public void close() {
                space.close();
            }
        });
        try (Store store = Store.open(tmp.resolve("d"), opts, seams)) {
            store.put(b("first"), b("v"));
            syncThreads.clear();
            appendThreads.clear();
            Thread committer = new Thread(() -> {
                try {
                    byte[] value = new byte[1000];
                    for (int n = 0; n < 40; n++) {
                        WriteBatch batch = new WriteBatch();
                        for (int i = 0; i < 400; i++) {
                            batch.put(b(String.format("b%03d-%04d", n, i)), value);
                        }
                        long lsn = store.write(batch);
                        if (lsn > store.durableLsn()) {
                            problems.add("batch " + n + " LSN " + lsn + " acknowledged above the durable LSN");
                        }
                    }
                } catch (Throwable t) {
                    fail.set(t);
                }
            }, "lone-batch-committer");
            committer.start();
            committer.join(TimeUnit.SECONDS.toMillis(120));
            if (committer.isAlive()) {
                StringBuilder sb = new StringBuilder();
                for (var e : Thread.getAllStackTraces().entrySet()) {
                    if (e.getKey().getName().startsWith("walship") || e.getKey() == committer) {
                        sb.append(e.getKey().getName()).append(' ').append(e.getKey().getState()).append('\n');
                        for (StackTraceElement el : e.getValue()) {
                            sb.append("    ").append(el).append('\n');
                        }
                    }
                }
                throw new AssertionError("the lone committer hangs:\n" + sb);
            }
            if (fail.get() != null) {
                throw new AssertionError(fail.get());
            }
            System.out.println("evictionWrites " + store.stats().evictionWrites() + ", synced by " + syncThreads + ", appended by " + appendThreads);
            assertTrue(store.stats().evictionWrites() > 0, "the pool evicted dirty pages");
            assertEquals(List.of(), problems);
            assertTrue(store.failure().isEmpty());
        }
    }

    /**
     * Question 1 of the review, measured (the same test runs on main): a lone durable committer's
     * batch outgrows the pool, so the eviction after it waits for its own LSN to be synced, and the
     * disk stalls. An async commit sent meanwhile: on main it queues behind the writer, which runs
     * that eviction after the batch's group; here it queues behind the fast-path committer holding
     * the append lock in the same eviction. Either way it waits for the stalled sync (it is not
     * applied meanwhile: the store's last LSN stays the batch's). Equal, not worse: the test passes
     * on both and reports what it saw.
     */
    @Test
    void anAsyncCommitBehindALoneCommittersEvictionWaitsAsOnMain() throws Exception {
        StoreOptions opts = StoreOptions.defaults().withPoolPages(64)
                .withCheckpoint(1L << 40, Duration.ofHours(1));
        TestSync sync = new TestSync();
        try (Store store = Store.open(tmp.resolve("d"), opts, WalSeams.defaults().withSync(sync))) {
            store.put(b("first"), b("v"));
            byte[] value = new byte[1000];
            long before = store.lastLsn();
            sync.close();
            java.util.concurrent.CompletableFuture<Long> batch;
            java.util.concurrent.CompletableFuture<Long> async = null;
            try {
                WriteBatch wb = new WriteBatch();
                for (int i = 0; i < 400; i++) {
                    wb.put(b(String.format("b%04d", i)), value);
                }
                batch = java.util.concurrent.CompletableFuture.supplyAsync(() -> store.write(wb));
                await("the batch applied", () -> store.lastLsn() > before);
                long applied = store.lastLsn();
                async = java.util.concurrent.CompletableFuture.supplyAsync(() -> store.put(b("x"), b("v"),
                        Durability.ASYNC));
                Object seen;
                try {
                    seen = async.get(3, TimeUnit.SECONDS);
                } catch (java.util.concurrent.TimeoutException e) {
                    seen = "held (3 s) by the stalled sync; last LSN " + store.lastLsn() + " (batch " + applied + ")";
                }
                System.out.println("async commit behind a lone committer's eviction, disk stalled: " + seen
                        + "; batch done " + batch.isDone());
            } finally {
                sync.open();
            }
            batch.get(30, TimeUnit.SECONDS);
            async.get(30, TimeUnit.SECONDS);
            assertTrue(store.failure().isEmpty());
        }
    }
}
