package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

import net.openhft.chronicle.core.time.SetTimeProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The commit pipeline's fast path (issue 13): a lone committer applies its own commit and leads
 * its own sync on its own thread. Its thread may be interrupted while it syncs; the syncs of
 * committers, the syncer and the writer's groups interleave; none of it may acknowledge a commit
 * before it is durable, make an async commit wait for a sync, or break LSN order in the WAL.
 */
class CommitFastPathTest {
    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** The seed of a randomised test: -Dwalship.seed=N replays one; printed either way. */
    private static long seed(String test) {
        long seed = Long.getLong("walship.seed", System.nanoTime());
        System.out.println(test + " seed=" + seed);
        return seed;
    }

    /**
     * Syncs for real through a {@link TestSync} (whose gate can hold every sync); records the
     * thread of each file sync, and lets a test know when the next one has started.
     */
    private static final class RecordingSync implements WalSync {
        final TestSync sync = new TestSync();
        final List<String> threads = new CopyOnWriteArrayList<>();
        volatile CountDownLatch entered;
        volatile Thread enteredBy;

        @Override
        public void force(Path file, FileChannel channel, long upTo) throws IOException {
            threads.add(Thread.currentThread().getName());
            CountDownLatch e = entered;
            if (e != null) {
                enteredBy = Thread.currentThread();
                entered = null;
                e.countDown();
            }
            sync.force(file, channel, upTo);
        }

        @Override
        public void forceDirectory(Path dir) throws IOException {
            sync.forceDirectory(dir);
        }
    }

    /** A thread that runs {@code call} and records what it returned or threw and its interrupt status at the end. */
    private static final class CallThread extends Thread {
        private final java.util.concurrent.Callable<Object> call;
        volatile Object result;
        volatile boolean interruptedAtEnd;

        CallThread(String name, java.util.concurrent.Callable<Object> call) {
            super(name);
            this.call = call;
        }

        /** A durable put of KEY=v. */
        static CallThread put(Store store, String key, String name) {
            return new CallThread(name, () -> store.put(b(key), b("v")));
        }

        @Override
        public void run() {
            try {
                result = call.call();
            } catch (Throwable t) {
                result = t;
            }
            interruptedAtEnd = isInterrupted();
        }

        /** The put's LSN; fails unless it returned one. */
        long acknowledged() {
            assertTrue(result instanceof Long, "acknowledged: " + result);
            return (Long) result;
        }
    }

    /**
     * Stalls the disk under the syncer: an async commit's sync enters the stalled sync and stays
     * there until {@code rec.sync.open()}.
     */
    private static void stallTheSyncer(Store store, RecordingSync rec) throws InterruptedException {
        CountDownLatch entered = new CountDownLatch(1);
        rec.entered = entered;
        rec.sync.close();
        store.put(b("async"), b("v"), Durability.ASYNC);
        assertTrue(entered.await(30, TimeUnit.SECONDS), "the async commit's sync never started");
    }


    /** A lone durable committer syncs on its own thread: no hand-off to the writer or the syncer. */
    @Test
    void aLoneDurableCommitterLeadsItsOwnSync() {
        RecordingSync rec = new RecordingSync();
        try (Store store = Store.open(tmp.resolve("d"), StoreOptions.defaults(), WalSeams.defaults().withSync(rec))) {
            store.put(b("first"), b("v"));
            rec.threads.clear();
            long syncs = store.stats().walSyncs();
            for (int i = 0; i < 20; i++) {
                long lsn = store.put(b("k" + i), b("v"));
                assertTrue(store.durableLsn() >= lsn);
            }
            assertEquals(syncs + 20, store.stats().walSyncs(), "one sync per lone durable commit");
            // the syncer may take one now and then (its timer), but the committer leads the rest
            long own = rec.threads.stream().filter(Thread.currentThread().getName()::equals).count();
            assertTrue(own >= 15, "the committer synced its own commits: " + rec.threads);
        }
    }

    /**
     * A committer interrupted while it leads a sync (a cancelled request, {@code shutdownNow}):
     * {@code FileChannel.force} on an interrupted thread would close the channel and stop the
     * store. The channels are uninterruptible, so the commit is acknowledged, the interrupt is kept
     * for the caller and the store goes on. Before it, a commit that opens a new cycle file is
     * applied (and so synced) off the committer's thread even though it is alone: Chronicle maps a
     * new file on the appending thread before its channel can be made uninterruptible.
     */
    @Test
    void anInterruptedLeaderFinishesItsSyncAndTheStoreGoesOn() throws Exception {
        Path dir = tmp.resolve("d");
        RecordingSync rec = new RecordingSync();
        SetTimeProvider clock = new SetTimeProvider(Instant.parse("2026-11-24T10:00:00Z"));
        long lsn;
        try (Store store = Store.open(dir, StoreOptions.defaults(), WalSeams.defaults().withSync(rec).withWalTime(clock))) {
            store.put(b("first"), b("v"));
            int directories = rec.sync.directories.size();
            clock.advanceMillis(3_600_000); // the next commit opens a new cycle file
            rec.threads.clear();
            long rolled = store.put(b("rolled"), b("v"));
            assertTrue(store.durableLsn() >= rolled);
            assertFalse(rec.threads.contains(Thread.currentThread().getName()),
                    "a commit opening a new WAL file is not applied and synced on the committer's thread: " + rec.threads);
            assertTrue(rec.sync.directories.size() > directories, "the new file's directory entry was synced");
            CountDownLatch entered = new CountDownLatch(1);
            rec.entered = entered;
            rec.sync.close(); // the disk stalls: the leader's sync waits in it
            CallThread committer = CallThread.put(store, "interrupted", "interrupted-committer");
            try {
                committer.start();
                assertTrue(entered.await(30, TimeUnit.SECONDS), "the commit's sync never started");
                assertEquals(committer, rec.enteredBy, "the lone committer leads its own sync");
                committer.interrupt();
            } finally {
                rec.sync.open();
            }
            committer.join(30_000);
            assertFalse(committer.isAlive());
            lsn = committer.acknowledged();

            assertTrue(committer.interruptedAtEnd, "the interrupt is kept for the caller");
            assertTrue(store.failure().isEmpty(), "the store goes on: " + store.failure());
            assertTrue(store.durableLsn() >= lsn);
            for (int i = 0; i < 20; i++) {
                long l = store.put(b("after" + i), b("v"));
                assertTrue(store.durableLsn() >= l);
            }
        }
        try (Store reopened = Store.open(dir)) {
            assertArrayEquals(b("v"), reopened.get(b("rolled")));
            assertArrayEquals(b("v"), reopened.get(b("interrupted")));
            assertArrayEquals(b("v"), reopened.get(b("after19")));
            assertTrue(reopened.lastLsn() >= lsn + 20);
        }
    }

    /**
     * A committer waiting for the writer's sync with its interrupt set parks between its checks
     * (its interrupt is cleared meanwhile and set again when it returns), instead of spinning on a
     * park that an interrupt makes return at once, for as long as the disk stalls.
     */
    @Test
    void anInterruptedWaitingCommitterParksInsteadOfSpinning() throws Exception {
        RecordingSync rec = new RecordingSync();
        try (Store store = Store.open(tmp.resolve("d"), StoreOptions.defaults(), WalSeams.defaults().withSync(rec))) {
            store.put(b("first"), b("v"));
            CountDownLatch entered = new CountDownLatch(1);
            rec.entered = entered;
            rec.sync.close(); // the disk stalls: the first committer's sync waits in it
            CallThread leader = CallThread.put(store, "lead", "stalled-leader");
            CallThread waiter = CallThread.put(store, "waiting", "interrupted-waiter");
            try {
                leader.start();
                assertTrue(entered.await(30, TimeUnit.SECONDS), "the first commit's sync never started");
                waiter.start(); // not alone: goes to the writer, then waits for a sync
                Poll.until(Duration.ofSeconds(30), () -> waiter.getState() == Thread.State.TIMED_WAITING,
                        () -> "the second commit never waited");
                assertParksWhileInterrupted(waiter);
                assertEquals(null, waiter.result, "acknowledged while the disk stalls");
            } finally {
                rec.sync.open();
            }
            leader.join(30_000);
            waiter.join(30_000);
            assertFalse(waiter.isAlive());
            leader.acknowledged();
            long lsn = waiter.acknowledged();
            assertTrue(waiter.interruptedAtEnd, "the interrupt is kept for the caller");
            assertTrue(store.durableLsn() >= lsn);
            assertTrue(store.failure().isEmpty(), "the store goes on: " + store.failure());
        }
    }

    /**
     * Interrupts {@code waiter} (waiting in the store for a stalled sync) and watches it for two
     * seconds: parked, it wakes 40 times for a few microseconds each; spinning on a park that the
     * interrupt ends at once, it burns a core (or what a loaded one gives it).
     */
    private static void assertParksWhileInterrupted(Thread waiter) {
        java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
        assumeTrue(mx.isThreadCpuTimeSupported() && mx.isThreadCpuTimeEnabled(), "this JVM measures no thread CPU time");
        long cpu0 = mx.getThreadCpuTime(waiter.getId());
        long wall0 = System.nanoTime();
        waiter.interrupt();
        // load-independent: a waiter that sets its interrupt aside clears the flag after its first
        // park; one that spins on it leaves it set
        Poll.until(Duration.ofSeconds(30), () -> !waiter.isInterrupted() || !waiter.isAlive(),
                () -> "the interrupted waiter kept its interrupt set while it waited: it spins on it");
        long cpu;
        do {
            cpu = mx.getThreadCpuTime(waiter.getId()) - cpu0;
            assertTrue(cpu < 200_000_000L, "the interrupted committer spun: " + cpu / 1_000_000 + " ms of CPU in "
                    + (System.nanoTime() - wall0) / 1_000_000 + " ms");
            LockSupport.parkNanos(20_000_000L); // the observation window, not a wait for an event
        } while (System.nanoTime() - wall0 < 2_000_000_000L);
        assertTrue(waiter.isAlive(), "still waiting for the stalled sync");
    }

    /**
     * The same for a lone committer that applied its commit on its own thread but found the sync
     * taken (the syncer is syncing an async commit on the stalled disk), so it waits for it.
     */
    @Test
    void anInterruptedLoneCommitterWaitingForTheSyncerParks() throws Exception {
        RecordingSync rec = new RecordingSync();
        try (Store store = Store.open(tmp.resolve("d"), StoreOptions.defaults(), WalSeams.defaults().withSync(rec))) {
            store.put(b("first"), b("v"));
            stallTheSyncer(store, rec); // the syncer syncs an async commit, and stalls
            assertFalse(rec.enteredBy.getName().equals(Thread.currentThread().getName()));
            CallThread waiter = CallThread.put(store, "waiting", "interrupted-lone-committer");
            try {
                waiter.start();
                Poll.until(Duration.ofSeconds(30), () -> waiter.getState() == Thread.State.TIMED_WAITING,
                        () -> "the commit never waited");
                assertParksWhileInterrupted(waiter);
                assertEquals(null, waiter.result, "acknowledged while the disk stalls");
            } finally {
                rec.sync.open();
            }
            waiter.join(30_000);
            assertFalse(waiter.isAlive());
            long lsn = waiter.acknowledged();
            assertTrue(waiter.interruptedAtEnd, "the interrupt is kept for the caller");
            assertTrue(store.durableLsn() >= lsn);
            assertTrue(store.failure().isEmpty(), "the store goes on: " + store.failure());
        }
    }

    /**
     * Review (rev-intr): an interrupted committer waiting for the writer's sync, whose sync then
     * fails, gets the failure and finds its interrupt set (the exception exit of executeOnWriter).
     */
    @Test
    void anInterruptedWaitingCommitterWhoseSyncFailsKeepsItsInterrupt() throws Exception {
        RecordingSync rec = new RecordingSync();
        try (Store store = Store.open(tmp.resolve("d"), StoreOptions.defaults(), WalSeams.defaults().withSync(rec))) {
            store.put(b("first"), b("v"));
            CountDownLatch entered = new CountDownLatch(1);
            rec.entered = entered;
            rec.sync.close();
            CallThread leader = CallThread.put(store, "lead", "stalled-leader");
            CallThread waiter = CallThread.put(store, "waiting", "interrupted-waiter");
            try {
                leader.start();
                assertTrue(entered.await(30, TimeUnit.SECONDS), "the first commit's sync never started");
                waiter.start();
                Poll.until(Duration.ofSeconds(30), () -> waiter.getState() == Thread.State.TIMED_WAITING,
                        () -> "the second commit never waited");
                waiter.interrupt();
                rec.sync.failFromNext(1); // the stalled sync fails when the disk comes back
            } finally {
                rec.sync.open();
            }
            leader.join(30_000);
            waiter.join(30_000);
            assertFalse(waiter.isAlive());
            assertTrue(waiter.result instanceof StoreFailedException, "failed: " + waiter.result);
            assertTrue(waiter.interruptedAtEnd, "the interrupt is kept for the caller");
        }
    }

    /** Review (rev-intr): the same for a lone committer waiting in awaitSynced (inside executeHere). */
    @Test
    void anInterruptedLoneCommitterWhoseSyncFailsKeepsItsInterrupt() throws Exception {
        RecordingSync rec = new RecordingSync();
        try (Store store = Store.open(tmp.resolve("d"), StoreOptions.defaults(), WalSeams.defaults().withSync(rec))) {
            store.put(b("first"), b("v"));
            stallTheSyncer(store, rec); // the syncer syncs an async commit, and stalls
            CallThread waiter = CallThread.put(store, "waiting", "interrupted-lone-committer");
            try {
                waiter.start();
                Poll.until(Duration.ofSeconds(30), () -> waiter.getState() == Thread.State.TIMED_WAITING,
                        () -> "the commit never waited");
                waiter.interrupt();
                rec.sync.failFromNext(1);
            } finally {
                rec.sync.open();
            }
            waiter.join(30_000);
            assertFalse(waiter.isAlive());
            assertTrue(waiter.result instanceof StoreFailedException, "failed: " + waiter.result);
            assertTrue(waiter.interruptedAtEnd, "the interrupt is kept for the caller");
        }
    }

    /**
     * Review (rev-intr): the sibling loop in DurableLsn.await (Store.awaitDurable, and through
     * CommitPipeline.awaitDurable Store.snapshot, evictions, checkpoints) spins the same way.
     */
    private void assertDurableWaitParks(String name, java.util.function.Function<Store, java.util.concurrent.Callable<Object>> call)
            throws Exception {
        RecordingSync rec = new RecordingSync();
        try (Store store = Store.open(tmp.resolve("d"), StoreOptions.defaults(), WalSeams.defaults().withSync(rec))) {
            store.put(b("first"), b("v"));
            stallTheSyncer(store, rec); // the syncer syncs an async commit, and stalls
            CallThread waiter = new CallThread(name, call.apply(store));
            try {
                waiter.start();
                Poll.until(Duration.ofSeconds(30), () -> waiter.getState() == Thread.State.TIMED_WAITING,
                        () -> "never waited");
                assertParksWhileInterrupted(waiter);
            } finally {
                rec.sync.open();
            }
            waiter.join(30_000);
            assertFalse(waiter.isAlive());
            assertTrue(waiter.interruptedAtEnd, "the interrupt is kept for the caller");
            if (waiter.result instanceof AutoCloseable c) {
                c.close();
            }
        }
    }

    @Test
    void anInterruptedAwaitDurableParks() throws Exception {
        assertDurableWaitParks("interrupted-await-durable", s -> () -> s.awaitDurable(s.lastLsn(), Duration.ofSeconds(30)));
    }

    @Test
    void anInterruptedSnapshotParks() throws Exception {
        assertDurableWaitParks("interrupted-snapshot", s -> () -> s.snapshot());
    }

    /** A committer that comes in with its interrupt already set commits, keeps it, and breaks nothing. */
    @Test
    void aCommitterWithAPendingInterruptCommits() {
        try (Store store = Store.open(tmp.resolve("d"))) {
            store.put(b("first"), b("v"));
            for (int i = 0; i < 10; i++) {
                Thread.currentThread().interrupt();
                long lsn;
                try {
                    lsn = store.put(b("k" + i), b("v"), i % 2 == 0 ? Durability.DURABLE : Durability.ASYNC);
                } finally {
                    assertTrue(Thread.interrupted(), "the interrupt is kept for the caller");
                }
                assertTrue(i % 2 == 1 || store.durableLsn() >= lsn);
            }
            assertTrue(store.failure().isEmpty(), "the store goes on: " + store.failure());
            assertArrayEquals(b("v"), store.get(b("k9")));
        }
    }

    /**
     * Syncs for real, sometimes slowly (a few ms), sometimes stalled until the test opens the gate,
     * and in failure rounds the {@code failAt}-th file sync fails once (EIO). Every sync call after
     * the failure, on any thread, is recorded: nothing may be synced again after a failed sync.
     */
    private static final class ChaosSync extends OneShotFailSync {
        final Random rnd;

        ChaosSync(long seed) {
            this.rnd = new Random(seed);
        }

        @Override
        void beforeSync() {
            int slow;
            synchronized (rnd) {
                slow = rnd.nextInt(8) == 0 ? 1 + rnd.nextInt(3) : 0;
            }
            if (slow > 0) {
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(slow));
            }
        }
    }

    /**
     * Durable and async committers from 2..10 threads, the fast path and the writer's groups mixed,
     * with slow syncs, a stalled sync, and in some rounds a failed one. Checks: every acknowledged
     * durable commit is at or below the durable LSN when its put returns (and below the durable LSN
     * frozen by a failure); async commits return while a sync is stalled; LSNs are unique; the WAL
     * holds consecutive LSNs in order; nothing is synced after a failed sync; a reopened store has
     * every acknowledged durable commit.
     */
    @Test
    void mixedCommittersWithSlowStalledAndFailedSyncs() throws Exception {
        long seed = seed("mixedCommittersWithSlowStalledAndFailedSyncs");
        Random rnd = new Random(seed);
        for (int round = 0; round < 8; round++) {
            int threads = 2 + rnd.nextInt(9);
            double asyncShare = rnd.nextInt(4) * 0.25;
            boolean failing = rnd.nextBoolean();
            int failAfter = 20 + rnd.nextInt(200);
            String what = "seed=" + seed + " round=" + round + " threads=" + threads + " async=" + asyncShare
                    + (failing ? " failAfter=" + failAfter : "");
            chaosRound(tmp.resolve("r" + round), threads, asyncShare, failing ? failAfter : -1, rnd.nextLong(), what);
        }
    }

    private void chaosRound(Path dir, int threads, double asyncShare, int failAfter, long seed, String what)
            throws Exception {
        ChaosSync chaos = new ChaosSync(seed);
        Store store = Store.open(dir, StoreOptions.defaults().withAsyncFlushMillis(2), WalSeams.defaults().withSync(chaos));
        store.put(b("first"), b("v"));
        Map<String, Long> ackedDurable = new ConcurrentHashMap<>();
        Set<Long> lsns = ConcurrentHashMap.newKeySet();
        List<String> problems = new CopyOnWriteArrayList<>();
        AtomicBoolean stop = new AtomicBoolean();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        List<Future<?>> futures = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int id = t;
            Random r = new Random(seed + t);
            futures.add(pool.submit(() -> {
                for (int i = 0; !stop.get() && i < 400; i++) {
                    String k = "t" + id + "-" + i;
                    boolean durable = r.nextDouble() >= asyncShare;
                    long lsn;
                    try {
                        lsn = store.put(b(k), b("v" + k), durable ? Durability.DURABLE : Durability.ASYNC);
                    } catch (StoreFailedException e) {
                        return null;
                    }
                    long d = store.durableLsn();
                    if (!lsns.add(lsn)) {
                        problems.add("LSN " + lsn + " acknowledged twice (" + k + ")");
                    }
                    if (durable) {
                        if (lsn > d) {
                            problems.add("LSN " + lsn + " acknowledged durable with the durable LSN at " + d);
                        }
                        ackedDurable.put(k, lsn);
                    }
                }
                return null;
            }));
        }
        // meanwhile: one stalled sync; async commits from this thread must not wait for it
        if (failAfter < 0) {
            CountDownLatch stalled = new CountDownLatch(1);
            // armed before the gate closes: a sync that began meanwhile may be the one held (while
            // it is, no other sync starts), or may have finished (then the next one is held)
            chaos.entered = stalled;
            chaos.sync.close();
            try {
                CompletableFuture<Long> durable = CompletableFuture.supplyAsync(() -> store.put(b("stalled"), b("v")));
                // a sync that read entered before it was armed may be the one waiting at the gate
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (stalled.getCount() > 0 && !chaos.sync.holdsASync() && System.nanoTime() < deadline) {
                    stalled.await(10, TimeUnit.MILLISECONDS);
                }
                if (stalled.getCount() == 0 || chaos.sync.holdsASync()) {
                    for (int i = 0; i < 20; i++) {
                        String probe = "probe" + i;
                        CompletableFuture<Long> async = CompletableFuture.supplyAsync(
                                () -> store.put(b(probe), b("v"), Durability.ASYNC));
                        try {
                            lsns.add(async.get(20, TimeUnit.SECONDS));
                        } catch (TimeoutException e) {
                            problems.add("an async commit waited for a stalled sync (20 s)");
                            break;
                        }
                    }
                    assertFalse(durable.isDone(), what + ": a durable commit acknowledged while every sync is held");
                } else {
                    problems.add("no sync started within 30 s of a durable commit");
                }
            } finally {
                chaos.sync.open();
            }
        } else {
            chaos.failAt.set(chaos.calls.get() + failAfter);
        }
        pool.shutdown();
        for (Future<?> f : futures) {
            try {
                f.get(120, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                stop.set(true);
                fail(what + ": a committer was left parked (failure=" + store.failure().orElse(null) + ", durable="
                        + store.durableLsn() + ", last=" + store.lastLsn() + ")");
            }
        }
        assertEquals(List.of(), problems, what);
        long durableAtEnd = store.durableLsn();
        if (chaos.failed) {
            assertNotNull(store.failure().orElse(null), what + ": a failed sync must stop the store");
            for (long l : ackedDurable.values()) {
                assertTrue(l <= durableAtEnd, what + ": LSN " + l + " acknowledged past the frozen durable LSN " + durableAtEnd);
            }
        }
        store.close();
        assertEquals(List.of(), chaos.afterFailure, what + ": synced again after a failed sync");
        if (chaos.failed) {
            assertEquals(durableAtEnd, store.durableLsn(), what + ": the durable LSN moved after the failure");
        }
        long last;
        try (Store reopened = Store.open(dir)) {
            for (var e : ackedDurable.entrySet()) {
                assertArrayEquals(b("v" + e.getKey()), reopened.get(b(e.getKey())), what + ": lost " + e);
            }
            last = reopened.lastLsn();
        }
        try (WalReader r = WalReader.open(dir)) {
            r.seek(r.firstAvailableLsn());
            long expect = -1;
            WalEntry e;
            int n = 0;
            while ((e = r.next()) != null) {
                if (expect >= 0) {
                    assertEquals(expect, e.lsn(), what + ": the WAL's order is not LSN order");
                }
                expect = e.lsn() + 1;
                n++;
            }
            assertTrue(n > 0, what);
            assertEquals(last, expect - 1, what + ": the WAL ends at the last LSN");
        }
        if (!chaos.failed) { // after a failure, async commits past the durable LSN may be lost
            for (long l : lsns) {
                assertTrue(l <= last, what + ": acknowledged LSN " + l + " is past the WAL's end " + last);
            }
        }
    }
}
