package io.walship.archive;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.InputStream;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.google.common.util.concurrent.RateLimiter;

/**
 * The upload rate limit ({@code --max-upload-rate}, docs/OPERATIONS.md "Upload rate limit"): one
 * token bucket of bytes per second shared by every object store of a process that was opened with
 * it, so a base backup and the WAL shipping of the same process together stay under the rate.
 *
 * <p>The bucket is Guava's {@link RateLimiter} (smooth, bursty: at most one second of unused rate
 * is saved up, and a request waits for the permits the one before it took). A waiting upload stays
 * interruptible and waiters take turns in the order they came (see {@link #acquire}). Bytes are
 * charged in steps of at most {@link #CHUNK}, as they are read to be sent, so two uploads interleave
 * instead of one waiting for the other's whole part; nothing is
 * buffered beyond what the store already holds (one part for S3). Only the content of
 * {@link ObjectStore#create} is limited: the small compare-and-swap documents (the leader lease,
 * follower status) are never held back behind a backup. Thread-safe.
 */
public final class UploadLimit {
    /** No limit: streams pass through untouched. */
    public static final UploadLimit NONE = new UploadLimit(null, 0);
    /** The most bytes charged at once. */
    static final int CHUNK = 64 << 10;
    /** The smallest rate accepted: below it a part of 8 MiB would take hours. */
    public static final long MIN_BYTES_PER_SECOND = 1 << 10;
    /** The longest uninterruptible wait on the bucket (one step's worth at most). */
    static final Duration WAIT_SLICE = Duration.ofMillis(100);

    private static final Pattern RATE = Pattern.compile("([0-9]+(?:\\.[0-9]+)?)(B|KiB|MiB|GiB)/s");

    private final RateLimiter limiter;
    private final long bytesPerSecond;
    /** Whose turn it is to take a step from the bucket: fair, so waiters are served in the order they came. */
    private final ReentrantLock turn = new ReentrantLock(true);

    private UploadLimit(RateLimiter limiter, long bytesPerSecond) {
        this.limiter = limiter;
        this.bytesPerSecond = bytesPerSecond;
    }

    /** A limit of {@code bytesPerSecond}, to be shared by all the stores of one process. */
    public static UploadLimit of(long bytesPerSecond) {
        return of(RateLimiter.create(check(bytesPerSecond)), bytesPerSecond);
    }

    /** A limit on the given bucket, whose rate is {@code bytesPerSecond} (tests inject one with a fake clock). */
    public static UploadLimit of(RateLimiter limiter, long bytesPerSecond) {
        check(bytesPerSecond);
        if (Math.abs(limiter.getRate() - bytesPerSecond) > 1e-6 * bytesPerSecond) {
            throw new IllegalArgumentException("the limiter's rate " + limiter.getRate() + " is not " + bytesPerSecond);
        }
        return new UploadLimit(limiter, bytesPerSecond);
    }

    /**
     * Parses a rate such as {@code 50MiB/s}, {@code 512KiB/s}, {@code 1.5GiB/s} or {@code 100000B/s}:
     * a number, a binary unit (B, KiB, MiB, GiB, case as written) and {@code /s}, nothing else.
     * Decimal units (MB/s) are refused rather than guessed at. Returns bytes per second.
     *
     * @throws IllegalArgumentException saying what is wrong
     */
    public static long parseRate(String text) {
        if (text == null) {
            throw new IllegalArgumentException("no rate given (e.g. 50MiB/s)");
        }
        Matcher m = RATE.matcher(text);
        if (!m.matches()) {
            String why = text.matches("(?i).*[0-9](k|m|g)b(/s)?") || text.matches("(?i).*[0-9](kb|mb|gb)/s")
                    ? "use binary units: B/s, KiB/s, MiB/s or GiB/s" : "expected a number, B, KiB, MiB or GiB, and /s";
            throw new IllegalArgumentException("not a rate (" + why + ", e.g. 50MiB/s)");
        }
        long unit = switch (m.group(2)) {
            case "B" -> 1L;
            case "KiB" -> 1L << 10;
            case "MiB" -> 1L << 20;
            default -> 1L << 30;
        };
        BigDecimal bytes = new BigDecimal(m.group(1)).multiply(BigDecimal.valueOf(unit));
        if (bytes.compareTo(BigDecimal.valueOf(1L << 40)) > 0) {
            throw new IllegalArgumentException("more than 1024GiB/s");
        }
        if (bytes.stripTrailingZeros().scale() > 0) {
            throw new IllegalArgumentException("not a whole number of bytes per second");
        }
        long b = bytes.longValueExact();
        if (b < MIN_BYTES_PER_SECOND) {
            throw new IllegalArgumentException("below the minimum of 1KiB/s");
        }
        return b;
    }

    /** {@link #parseRate} then {@link #of}; null or blank text means {@link #NONE}. */
    public static UploadLimit parse(String text) {
        return text == null || text.isBlank() ? NONE : of(parseRate(text));
    }

    private static double check(long bytesPerSecond) {
        if (bytesPerSecond < MIN_BYTES_PER_SECOND) {
            throw new IllegalArgumentException("an upload rate must be at least " + MIN_BYTES_PER_SECOND + " B/s");
        }
        return bytesPerSecond;
    }

    public boolean limited() {
        return limiter != null;
    }

    /** Bytes per second, 0 if unlimited. */
    public long bytesPerSecond() {
        return bytesPerSecond;
    }

    /**
     * How long one request carrying {@code bytes} may take at this rate, on top of {@code base}: a
     * part sent at the limit must not be cut off by a timeout meant for a full-speed link. Allows
     * four uploads sharing the rate at once.
     */
    public Duration attemptTimeout(Duration base, long bytes) {
        return limited() ? base.plusSeconds(4 * (bytes / bytesPerSecond + 1)) : base;
    }

    /**
     * Waits until {@code bytes} may go out (nothing if unlimited). Fair and interruptible: bytes are
     * charged in steps of at most {@link #CHUNK} and a tenth of a second's worth (far below the bucket's
     * one-second burst), each step taken under a fair lock, so uploads sharing the limit take turns in
     * the order they came instead of one re-reserving the bucket ahead of the others. A thread queued
     * for the lock waits interruptibly; the one holding it waits on the bucket for at most the step
     * before it, so at most {@link #WAIT_SLICE}, which is all that is uninterruptible (Guava's waits
     * are not interruptible).
     *
     * @throws InterruptedIOException if the thread is or gets interrupted (its flag is set again)
     */
    public void acquire(long bytes) throws InterruptedIOException {
        if (limiter == null) {
            return;
        }
        int step = step();
        while (bytes > 0) {
            int n = (int) Math.min(bytes, step);
            try {
                turn.lockInterruptibly();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw interrupted(bytes);
            }
            try {
                takeInTurn(n, bytes);
            } finally {
                turn.unlock();
            }
            bytes -= n;
        }
    }

    /** The most bytes charged at once: a tenth of a second's worth, at most {@link #CHUNK}, at least 1. */
    int step() {
        return (int) Math.max(1, Math.min(CHUNK, bytesPerSecond / 10));
    }

    /**
     * Takes {@code n} permits holding {@link #turn}. Every step before this one was taken under the
     * lock and is at most a tenth of a second's worth, so the bucket is due within {@link #WAIT_SLICE}
     * and {@code tryAcquire} succeeds at once; the loop (interruptible sleeps) only matters if the
     * limiter was handed in and is also used elsewhere.
     */
    private void takeInTurn(int n, long bytes) throws InterruptedIOException {
        while (true) {
            if (Thread.currentThread().isInterrupted()) {
                throw interrupted(bytes);
            }
            if (limiter.tryAcquire(n, WAIT_SLICE)) {
                return;
            }
            try {
                Thread.sleep(WAIT_SLICE.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw interrupted(bytes);
            }
        }
    }

    /** Threads waiting for their turn on the bucket (tests poll it instead of sleeping). */
    int waiting() {
        return turn.getQueueLength();
    }

    private InterruptedIOException interrupted(long bytes) {
        InterruptedIOException e = new InterruptedIOException("interrupted while waiting for the upload rate limit ("
                + this + "), " + bytes + " bytes not sent");
        e.bytesTransferred = 0;
        return e;
    }

    /** {@code in}, every byte read from it charged (waiting for the bucket before it is returned). */
    public InputStream pace(InputStream in) {
        return limiter == null ? in : new Paced(in, this, new AtomicLong(), 0);
    }

    /**
     * A source of streams over the same bytes (an S3 part, read once to sign it over plain HTTP and
     * once to send it, and again by a retry): each byte offset is charged once, by whichever stream
     * reads it first, so the rate holds whether or not the SDK reads the content twice. A retry's
     * resend is not charged again.
     */
    public Replayable replayable() {
        return new Replayable(this);
    }

    /** See {@link #replayable}. */
    public static final class Replayable {
        private final UploadLimit limit;
        private final AtomicLong charged = new AtomicLong();

        private Replayable(UploadLimit limit) {
            this.limit = limit;
        }

        /** A paced view of a fresh stream over the content (whose offsets start at 0). */
        public InputStream wrap(InputStream fresh) {
            return limit.limiter == null ? fresh : new Paced(fresh, limit, charged, 0);
        }
    }

    /** Charges bytes past {@code charged} (a high-water mark shared by all streams over the same content). */
    private static final class Paced extends FilterInputStream {
        private final UploadLimit limit;
        private final AtomicLong charged;
        private long position;

        Paced(InputStream in, UploadLimit limit, AtomicLong charged, long position) {
            super(in);
            this.limit = limit;
            this.charged = charged;
            this.position = position;
        }

        @Override
        public int read() throws IOException {
            int b = in.read();
            if (b >= 0) {
                account(1);
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = in.read(b, off, Math.min(len, CHUNK));
            if (n > 0) {
                account(n);
            }
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            long s = in.skip(n);
            position += Math.max(0, s);
            return s;
        }

        @Override
        public boolean markSupported() {
            return false;
        }

        private void account(int n) throws InterruptedIOException {
            long end = position + n;
            position = end;
            long before = charged.getAndAccumulate(end, Math::max);
            if (end > before) {
                limit.acquire(end - before);
            }
        }
    }

    @Override
    public String toString() {
        return limiter == null ? "unlimited" : String.format(Locale.ROOT, "%d B/s", bytesPerSecond);
    }
}
