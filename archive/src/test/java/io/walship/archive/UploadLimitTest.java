package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.Random;
import java.util.UUID;

import com.google.common.util.concurrent.FakeClockRateLimiter;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The upload rate limit on Guava's RateLimiter with a fake clock (nothing sleeps, nothing is timed):
 * strict parsing, bytes charged as they are read, one budget shared by concurrent uploads, each byte
 * of an S3 part charged once however often the SDK reads it, and the lease's small documents never
 * charged. The limiter lets the first chunk through at once and makes each next one wait for the one
 * before it, so N bytes read in chunks whose last is C bytes wait exactly (N - C) / rate; C depends on
 * the reader's buffers (at most {@link UploadLimit#CHUNK}).
 */
class UploadLimitTest {
    private static final long RATE = 1 << 20; // 1 MiB/s
    private static TestS3Server s3;

    @TempDir
    Path tmp;

    @BeforeAll
    static void startS3() throws Exception {
        s3 = TestS3Server.start();
    }

    @AfterAll
    static void stopS3() throws Exception {
        s3.close();
    }

    private static long micros(long bytes) {
        return bytes * 1_000_000L / RATE;
    }

    /** Waited for {@code bytes} at the rate, less the last chunk. */
    private static void assertWaitedFor(long bytes, FakeClockRateLimiter.Clock clock) {
        long lo = micros(bytes - UploadLimit.CHUNK) - 5;
        long hi = micros(bytes) + 5;
        assertTrue(clock.sleptMicros() >= lo && clock.sleptMicros() <= hi,
                "waited " + clock.sleptMicros() + " µs for " + bytes + " bytes, expected " + lo + ".." + hi);
    }

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void ratesParseStrictly() {
        assertEquals(50L << 20, UploadLimit.parseRate("50MiB/s"));
        assertEquals(512L << 10, UploadLimit.parseRate("512KiB/s"));
        assertEquals(3L << 29, UploadLimit.parseRate("1.5GiB/s"));
        assertEquals(100_000L, UploadLimit.parseRate("100000B/s"));
        assertEquals(1024L, UploadLimit.parseRate("1KiB/s"));
        for (String bad : new String[] {"", "50", "50MiB", "50 MiB/s", "50mib/s", "50MB/s", "50mb/s", "50M/s", "-1MiB/s",
                "0MiB/s", "1000B/s", "0.5KiB/s", "1.0001KiB/s", "2000GiB/s", "50MiB/s ", "MiB/s", "1e3KiB/s", "50MiB/h"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> UploadLimit.parseRate(bad), bad);
            assertTrue(!e.getMessage().isBlank() && !e.getMessage().contains("\n"), e.getMessage());
        }
        assertTrue(assertThrows(IllegalArgumentException.class, () -> UploadLimit.parseRate("50MB/s")).getMessage()
                .contains("binary units"));
        assertSame(UploadLimit.NONE, UploadLimit.parse(null));
        assertSame(UploadLimit.NONE, UploadLimit.parse(" "));
    }

    @Test
    void bytesAreChargedAsTheyAreRead() throws IOException {
        FakeClockRateLimiter.Clock clock = new FakeClockRateLimiter.Clock();
        UploadLimit limit = UploadLimit.of(FakeClockRateLimiter.create(RATE, clock), RATE);
        byte[] data = random(3 << 20, 1);
        try (InputStream in = limit.pace(new ByteArrayInputStream(data))) {
            assertArrayEquals(data, in.readAllBytes());
        }
        assertWaitedFor(data.length, clock);
        InputStream raw = new ByteArrayInputStream(data);
        assertSame(raw, UploadLimit.NONE.pace(raw), "no limit: the stream itself");
    }

    @Test
    void twoUploadsShareOneBudget() throws IOException {
        FakeClockRateLimiter.Clock clock = new FakeClockRateLimiter.Clock();
        UploadLimit limit = UploadLimit.of(FakeClockRateLimiter.create(RATE, clock), RATE);
        InputStream ship = limit.pace(new ByteArrayInputStream(new byte[1 << 20]));
        InputStream backup = limit.pace(new ByteArrayInputStream(new byte[2 << 20]));
        byte[] buf = new byte[1 << 20];
        long read = 0;
        int n;
        boolean any = true;
        while (any) {
            any = false;
            if ((n = ship.read(buf)) > 0) {
                read += n;
                any = true;
            }
            if ((n = backup.read(buf)) > 0) {
                read += n;
                any = true;
            }
        }
        assertEquals(3 << 20, read);
        // together at the rate of one, not each at it
        assertWaitedFor(read, clock);
        // idle time saves up at most one second of rate
        clock.advanceMicros(10_000_000);
        long before = clock.sleptMicros();
        limit.pace(new ByteArrayInputStream(new byte[3 << 20])).transferTo(OutputStream.nullOutputStream());
        long waited = clock.sleptMicros() - before;
        assertTrue(waited >= micros((2 << 20) - UploadLimit.CHUNK) - 5 && waited <= micros(2 << 20) + 5,
                "after idling, 1 s of burst then the rate: waited " + waited);
    }

    @Test
    void aReplayedBodyIsChargedOnce() throws IOException {
        FakeClockRateLimiter.Clock clock = new FakeClockRateLimiter.Clock();
        UploadLimit limit = UploadLimit.of(FakeClockRateLimiter.create(RATE, clock), RATE);
        byte[] part = random(5 << 20, 2);
        UploadLimit.Replayable body = limit.replayable();
        for (int attempt = 0; attempt < 3; attempt++) { // sign, send, resend
            try (InputStream in = body.wrap(new ByteArrayInputStream(part))) {
                assertArrayEquals(part, in.readAllBytes());
            }
        }
        assertWaitedFor(part.length, clock);
    }

    @Test
    void s3PartsAndSinglePutsAreChargedOnceAndTheLeaseIsNot() throws IOException {
        FakeClockRateLimiter.Clock clock = new FakeClockRateLimiter.Clock();
        UploadLimit limit = UploadLimit.of(FakeClockRateLimiter.create(RATE, clock), RATE);
        long seed = new Random().nextLong();
        System.out.println("UploadLimitTest seed " + seed);
        byte[] big = random((11 << 20) + 12345, seed); // parts of 5, 5 and 1 MiB + 12345 bytes
        byte[] small = random(100_000, seed + 1);
        try (ObjectStore store = new S3ObjectStore(s3.newArchive("walship-limit", "p-" + UUID.randomUUID()),
                S3ObjectStore.MIN_PART_SIZE, null, limit)) {
            store.create("wal/big", new ByteArrayInputStream(big));
            store.create("wal/small", new ByteArrayInputStream(small));
            assertWaitedFor(big.length + small.length, clock);
            long before = clock.sleptMicros();
            String etag = store.createReturningEtag(ArchiveLayout.LEASE, new byte[100_000]);
            store.replaceIfMatch(ArchiveLayout.LEASE, etag, new byte[100_001]);
            assertEquals(before, clock.sleptMicros(), "the lease is neither charged nor held back");
            store.create("wal/tiny", new ByteArrayInputStream(new byte[1]));
            assertTrue(clock.sleptMicros() - before <= micros(UploadLimit.CHUNK) + 5,
                    "the next create waits only for the chunk before it");
            try (InputStream in = store.get("wal/big")) {
                assertArrayEquals(big, in.readAllBytes());
            }
            try (InputStream in = store.get("wal/small")) {
                assertArrayEquals(small, in.readAllBytes());
            }
        }
    }

    @Test
    void theLocalStoreIsLimitedToo() throws IOException {
        FakeClockRateLimiter.Clock clock = new FakeClockRateLimiter.Clock();
        UploadLimit limit = UploadLimit.of(FakeClockRateLimiter.create(RATE, clock), RATE);
        byte[] data = random(2 << 20, 3);
        try (ObjectStore store = ObjectStores.open(ArchiveUri.parse("file://" + tmp.resolve("a")), limit)) {
            store.create("wal/x", new ByteArrayInputStream(data));
            assertWaitedFor(data.length, clock);
            try (InputStream in = store.get("wal/x")) {
                assertArrayEquals(data, in.readAllBytes());
            }
        }
    }

    /**
     * An upload waiting for its turn behind another one stops at once when interrupted (an upload
     * cancelled, a shutdown), with its interrupt flag set again, while the other one goes on. Real
     * clock, but nothing is timed: the first upload could not finish in a quarter of an hour, so the
     * second one ending at all within the deadline means it was interrupted out of its wait.
     */
    @Test
    void aWaitingUploadStopsWhenInterruptedWhileAnotherOneGoesOn() throws Exception {
        UploadLimit limit = UploadLimit.of(UploadLimit.MIN_BYTES_PER_SECOND);
        java.util.concurrent.atomic.AtomicLong stepsOfA = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.atomic.AtomicReference<Throwable> endOfA = new java.util.concurrent.atomic.AtomicReference<>();
        java.util.concurrent.atomic.AtomicReference<Throwable> endOfB = new java.util.concurrent.atomic.AtomicReference<>();
        java.util.concurrent.atomic.AtomicBoolean flagOfB = new java.util.concurrent.atomic.AtomicBoolean();
        Thread a = new Thread(() -> {
            try {
                while (true) {
                    limit.acquire(limit.step());
                    stepsOfA.incrementAndGet();
                }
            } catch (Throwable e) {
                endOfA.set(e);
            }
        }, "upload-a");
        Thread b = new Thread(() -> {
            try {
                limit.acquire(1 << 20); // ~17 minutes at this rate
                endOfB.set(new AssertionError("finished a 1 MiB upload at 1 KiB/s"));
            } catch (Throwable e) {
                endOfB.set(e);
                flagOfB.set(Thread.currentThread().isInterrupted());
            }
        }, "upload-b");
        a.start();
        try {
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (stepsOfA.get() < 2 && System.nanoTime() < deadline) {
                java.util.concurrent.locks.LockSupport.parkNanos(1_000_000); // poll, not timing
            }
            assertTrue(stepsOfA.get() >= 2, "setup: the first upload is under way");
            b.start();
            while (limit.waiting() == 0 && System.nanoTime() < deadline) {
                java.util.concurrent.locks.LockSupport.parkNanos(1_000_000); // poll, not timing
            }
            assertTrue(limit.waiting() > 0, "setup: an upload waits for its turn");
            b.interrupt();
            b.join(30_000);
            assertTrue(!b.isAlive(), "the interrupted upload is still waiting");
            assertTrue(endOfB.get() instanceof java.io.InterruptedIOException, "ended with " + endOfB.get());
            assertTrue(flagOfB.get(), "the interrupt flag is set again");
            long steps = stepsOfA.get();
            while (stepsOfA.get() == steps && System.nanoTime() < deadline) {
                java.util.concurrent.locks.LockSupport.parkNanos(1_000_000); // poll, not timing
            }
            assertTrue(stepsOfA.get() > steps, "the other upload goes on");
            assertEquals(null, endOfA.get());
        } finally {
            a.interrupt();
            a.join(30_000);
            b.interrupt();
            b.join(30_000);
        }
        assertTrue(endOfA.get() instanceof java.io.InterruptedIOException, "the first upload, interrupted, ended with "
                + endOfA.get());
    }
}
