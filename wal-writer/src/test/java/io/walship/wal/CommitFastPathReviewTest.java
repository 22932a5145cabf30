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
     * An interrupt arriving while a lone committer applies a commit that opens a new WAL cycle file:
     * Chronicle creates and maps the new file on the committer's (now interrupted) thread, through a
     * channel that is not yet {@link Uninterruptible} (WalAppender makes it so only after the first
     * write into the file). The interrupt must not break the append or stop the store: the commit is
     * acknowledged (or refused, with the store going on), the interrupt is kept for the caller.
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
            assertEquals("interrupted-committer", space.interrupted.get() == null ? null
                    : space.interrupted.get().substring(0, "interrupted-committer".length()),
                    "the committer applied its own commit (the fast path)");
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
}
