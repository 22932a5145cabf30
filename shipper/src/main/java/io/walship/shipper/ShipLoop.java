package io.walship.shipper;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import io.walship.archive.ObjectStore;
import io.walship.wal.Errors;
import io.walship.wal.Lsn;
import io.walship.wal.WalEntry;
import io.walship.wal.WalReader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one continuous shipper: runs {@link WalShipper#shipOnce} on a data directory every
 * interval, on its own thread. {@code walship ship --interval}, {@code walship leader --archive}
 * and the scheduler's ship job all run this loop, so they behave alike:
 *
 * <ul>
 *   <li><b>Errors:</b> a failed run is logged with its cause and tried again at the next tick,
 *       whatever failed (the archive, the WAL, a gap). Unarchived WAL stays in the data directory:
 *       the store keeps it until it is archived (invariant 5 and 6). One error is fatal: an
 *       {@link ArchiveSpliceException} (the archive holds another history) or an
 *       {@link io.walship.archive.EncryptionKeyException} (a missing or wrong archive key) stops the shipping for
 *       good — retrying cannot fix it and shipping on would splice two histories. The status then
 *       says {@code stopped}, and its last error starts with {@link #STOPPED_PREFIX}; the process
 *       (leader, scheduler) keeps running. Otherwise the loop never stops by itself.
 *   <li><b>Status:</b> {@link #status} says up to which LSN the archive holds the WAL, how far it
 *       lags behind (commits, and the age of the oldest unarchived one) and why the last run
 *       failed, if it did.
 *   <li><b>Stop:</b> {@link #close} stops the ticks, waits for a running one, ships once more so a
 *       clean stop leaves nothing unarchived (a segment younger than
 *       {@link WalShipper.Options#segmentMaxAge} too), and releases {@code DATA/ship.ID.lock}.
 *   <li><b>Requests:</b> a tick with nothing new asks the archive nothing; the shipper lists it at
 *       most every {@link WalShipper.Options#archiveRecheck} ({@link WalShipper}).
 * </ul>
 *
 * <p><b>Fencing:</b> a leader that holds the leader lease ships only while it may acknowledge writes:
 * a {@link Gate} is asked before every run (the final one too) and before each of its segments, and while it refuses nothing is
 * uploaded — an old leader never ships to a timeline a newer one has left behind — and the status
 * says why ({@link #PAUSED_PREFIX}).
 *
 * <p>The loop does not own the archive: the caller closes it after the loop. A {@link Listener}
 * sees every tick (the CLI prints them; the scheduler records them as job runs).
 *
 * <p>Thread-safe: ticks are serialized on one lock (the timer's and the final one); {@link #status}
 * may be read from any thread.
 */
public final class ShipLoop implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ShipLoop.class);

    /** Sees each tick, on the loop's thread; must not block for long. */
    public interface Listener {
        Listener NONE = new Listener() {
        };

        /** A tick is about to ship. */
        default void starting() {
        }

        /** A tick ended, well or not. */
        default void finished(Tick tick) {
        }
    }

    /**
     * One run of the loop.
     *
     * @param start  when it started
     * @param took   how long it ran
     * @param result what it shipped; null if it failed
     * @param error  why it failed, one line with its causes; null if it did not
     */
    public record Tick(Instant start, Duration took, WalShipper.Result result, String error) {
        public boolean ok() {
            return error == null;
        }
    }

    /**
     * What the loop knows of the archive.
     *
     * @param archive      where it ships ({@link ObjectStore#describe}, no credentials)
     * @param archivedUpTo the archive holds every LSN up to this one; -1 until a run succeeded
     * @param lagLsns      commits in the WAL not yet archived; -1 until known
     * @param lagSeconds   age of the oldest of them (0 if none); -1 until known
     * @param lastError    why the last run failed; null if it did not
     * @param stopped      shipping stopped for good after a fatal error ({@code lastError} says why)
     */
    public record Status(String archive, long archivedUpTo, long lagLsns, double lagSeconds, String lastError,
                         boolean stopped, String id, boolean required, boolean failing) {
        public Status(String archive, long archivedUpTo, long lagLsns, double lagSeconds, String lastError,
                      boolean stopped) {
            this(archive, archivedUpTo, lagLsns, lagSeconds, lastError, stopped, "", true,
                    stopped || (lastError != null && !lastError.startsWith(PAUSED_PREFIX)));
        }

        public Status(String archive, long archivedUpTo, long lagLsns, double lagSeconds, String lastError) {
            this(archive, archivedUpTo, lagLsns, lagSeconds, lastError, false);
        }

        Status withLag(long lsns, double seconds) {
            return new Status(archive, archivedUpTo, lsns, seconds, lastError, stopped, id, required, failing);
        }

        Status failing(boolean f) {
            return new Status(archive, archivedUpTo, lagLsns, lagSeconds, lastError, stopped, id, required, f);
        }
    }

    /** Whether the loop may ship now; asked before every run and before each segment of it. */
    @FunctionalInterface
    public interface Gate {
        Gate OPEN = () -> null;

        /** Why nothing may be shipped now (one line), or null if it may. */
        String refusal();
    }

    /** How {@link Status#lastError} begins while the {@link Gate} refuses. */
    public static final String PAUSED_PREFIX = "not shipping: ";

    /** How {@link Status#lastError} begins once a fatal error stopped the shipping. */
    public static final String STOPPED_PREFIX = "shipping stopped: ";

    private final Path dataDir;
    private final ObjectStore archive;
    private final Duration interval;
    private final Listener listener;
    private final Gate gate;
    private final WalShipper shipper;
    private final ScheduledExecutorService timer;
    private final ScheduledExecutorService lagTimer;
    private final Object statusLock = new Object();
    /** When the running run started ({@link System#nanoTime}), or 0 while none runs. */
    private volatile long runStartedNanos;
    private final Object tickLock = new Object();
    private volatile Status status;
    private boolean closed; // guarded by tickLock
    private boolean stopped; // guarded by tickLock: a fatal error ended the shipping

    /**
     * Takes {@code DATA/ship.ID.lock} (one shipper per archive and data directory) but ships nothing until
     * {@link #start}.
     */
    public ShipLoop(Path dataDir, ObjectStore archive, WalShipper.Options options, Duration interval, Listener listener) {
        this(dataDir, archive, options, interval, listener, Gate.OPEN);
    }

    /** As above, shipping only while {@code gate} allows it (a leader's lease). */
    public ShipLoop(Path dataDir, ObjectStore archive, WalShipper.Options options, Duration interval, Listener listener,
                    Gate gate) {
        this(dataDir, archive, true, options, interval, listener, gate);
    }

    /**
     * One of several archives: {@code required} says whether the store's WAL retention (and its
     * archive lag bound) waits for it ({@link WalShipper#WalShipper(Path, ObjectStore, WalShipper.Options, boolean)}).
     * Takes {@code DATA/ship.ID.lock}.
     */
    public ShipLoop(Path dataDir, ObjectStore archive, boolean required, WalShipper.Options options, Duration interval,
                    Listener listener, Gate gate) {
        this.gate = Objects.requireNonNull(gate, "gate");
        this.dataDir = Objects.requireNonNull(dataDir, "dataDir");
        this.archive = Objects.requireNonNull(archive, "archive");
        this.interval = Objects.requireNonNull(interval, "interval");
        this.listener = Objects.requireNonNull(listener, "listener");
        if (interval.isZero() || interval.isNegative()) {
            throw new IllegalArgumentException("the ship interval must be positive, not " + interval);
        }
        this.shipper = new WalShipper(dataDir, archive, options, required);
        this.status = new Status(archive.describe(), -1, -1, -1, null, false, shipper.archiveId(), required, false);
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "walship-shipper-" + shipper.archiveId());
            t.setDaemon(true);
            return t;
        });
        this.lagTimer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "walship-ship-lag-" + shipper.archiveId());
            t.setDaemon(true);
            return t;
        });
    }

    /** The archive's ID ({@link WalShipper#archiveId(ObjectStore)}). */
    public String archiveId() {
        return shipper.archiveId();
    }

    /** Whether the store's WAL retention waits for this archive. */
    public boolean required() {
        return shipper.required();
    }

    /**
     * How long a run may take before the archive counts as failing although the run has not
     * ended (a hanging archive): three intervals, at least 10 seconds.
     */
    Duration stuckAfter() {
        Duration three = interval.multipliedBy(3);
        return three.compareTo(Duration.ofSeconds(10)) < 0 ? Duration.ofSeconds(10) : three;
    }

    /**
     * Recomputes the lag against the local WAL's end now, outside the runs, while a run is running:
     * it grows while a run hangs on the archive (between runs, each run's end measured it). Only
     * replaces the lag of the status it was computed for.
     */
    void refreshLag() {
        Status s = status;
        if (s.archivedUpTo() < 0 || runStartedNanos == 0) {
            return; // unknown until a run succeeded; between runs each run's end measured it
        }
        Status l = lag(s);
        synchronized (statusLock) {
            if (status == s) {
                status = l;
            }
        }
    }

    /** Ships now, then every interval after the previous run ended. */
    public ShipLoop start() {
        timer.scheduleWithFixedDelay(this::tick, 0, interval.toMillis(), TimeUnit.MILLISECONDS);
        long every = Math.max(interval.toMillis(), 1000);
        lagTimer.scheduleWithFixedDelay(() -> {
            try {
                refreshLag();
            } catch (RuntimeException e) {
                LOG.debug("archive lag of {}: {}", dataDir, e.getMessage());
            }
        }, every, every, TimeUnit.MILLISECONDS);
        LOG.info("shipping the WAL of {} to {} every {} ms", dataDir, archive.describe(), interval.toMillis());
        return this;
    }

    /**
     * What the loop knows now; {@link Status#failing} also when a run has been running longer than
     * {@link #stuckAfter} (a hanging archive, also in the loop's very first run, whose lag is then
     * unknown: -1).
     */
    public Status status() {
        Status s = status;
        long started = runStartedNanos;
        if (!s.failing() && started != 0 && System.nanoTime() - started > stuckAfter().toNanos()) {
            return s.failing(true);
        }
        return s;
    }

    private void set(Status s) {
        synchronized (statusLock) {
            status = s;
        }
    }

    private volatile RuntimeException fatal;

    /**
     * The fatal error that ended the shipping ({@link ArchiveSpliceException}, or an
     * {@link io.walship.archive.EncryptionKeyException}: a missing or wrong archive key), or null.
     */
    public RuntimeException fatal() {
        return fatal;
    }

    /** Whether a fatal error ({@link ArchiveSpliceException}, a key error) ended the shipping. */
    public boolean stopped() {
        return status.stopped();
    }

    public Duration interval() {
        return interval;
    }

    /** One run: ship, record the outcome, tell the listener. Never throws. */
    void tick() {
        tick(false);
    }

    /** One run; {@code all}: also a segment younger than {@link WalShipper.Options#segmentMaxAge} (the last run). */
    void tick(boolean all) {
        synchronized (tickLock) {
            if (closed || stopped) {
                return;
            }
            Status before = status;
            String refusal = gate.refusal();
            if (refusal != null) {
                if (before.lastError() == null || !before.lastError().startsWith(PAUSED_PREFIX)) {
                    LOG.warn("not shipping {} to {}: {}", dataDir, archive.describe(), refusal);
                }
                set(new Status(before.archive(), before.archivedUpTo(), before.lagLsns(), before.lagSeconds(),
                        PAUSED_PREFIX + refusal, false, before.id(), before.required(), false));
                return;
            }
            Instant start = Instant.now();
            long t0 = System.nanoTime();
            listener.starting();
            WalShipper.Result result = null;
            String error = null;
            runStartedNanos = t0 == 0 ? 1 : t0;
            try {
                result = all ? shipper.shipAll(gate::refusal) : shipper.shipOnce(gate::refusal);
                if (before.lastError() != null) {
                    LOG.info("shipping to {} works again; archived up to LSN {}", archive.describe(),
                            Lsn.format(result.archivedUpTo()));
                }
            } catch (WalShipper.GateClosedException e) {
                LOG.warn("stopped shipping {} to {} during a run: {}", dataDir, archive.describe(), e.getMessage());
                set(lag(new Status(before.archive(), Math.max(before.archivedUpTo(), e.archivedUpTo()),
                        before.lagLsns(), before.lagSeconds(), PAUSED_PREFIX + e.getMessage(), false, before.id(),
                        before.required(), false)));
                listener.finished(new Tick(start, Duration.ofNanos(System.nanoTime() - t0), null,
                        PAUSED_PREFIX + e.getMessage()));
                return;
            } catch (ArchiveSpliceException | io.walship.archive.EncryptionKeyException e) {
                fatal = e;
                stopped = true;
                error = STOPPED_PREFIX + Errors.withCauses(e);
                LOG.error("shipping {} to {} stopped for good (restart after fixing it): {}", dataDir, archive.describe(),
                        e.getMessage());
                timer.shutdown();
            } catch (RuntimeException | Error e) {
                error = Errors.withCauses(e);
                LOG.warn("shipping {} to {} failed, will retry in {} ms: {}", dataDir, archive.describe(),
                        interval.toMillis(), error);
                LOG.debug("shipping failure", e);
            } finally {
                runStartedNanos = 0;
            }
            long archived = result != null ? result.archivedUpTo() : before.archivedUpTo();
            set(lag(new Status(before.archive(), archived, before.lagLsns(), before.lagSeconds(), error, stopped,
                    before.id(), before.required(), error != null)));
            listener.finished(new Tick(start, Duration.ofNanos(System.nanoTime() - t0), result, error));
        }
    }

    /** The status with the lag behind the WAL as it is now: entries after the archived LSN. */
    private Status lag(Status s) {
        if (s.archivedUpTo() < 0) {
            return s;
        }
        long count = 0;
        long oldestMicros = 0;
        try (WalReader r = WalReader.open(dataDir)) {
            long first = r.firstAvailableLsn();
            if (first > 0) {
                r.seek(Math.max(first, s.archivedUpTo() + 1)).headersOnly();
                WalEntry e;
                while ((e = r.next()) != null) {
                    if (count++ == 0) {
                        oldestMicros = e.commitTimeMicros();
                    }
                }
            }
        } catch (RuntimeException e) {
            LOG.debug("archive lag of {}: {}", dataDir, e.getMessage());
            return s;
        }
        double seconds = count == 0 ? 0 : Math.max(0, (System.currentTimeMillis() * 1000 - oldestMicros) / 1e6);
        return s.withLag(count, seconds);
    }

    /**
     * Stops the ticks, lets a running one finish, ships once more (so a clean stop leaves nothing
     * unarchived) and releases {@code ship.ID.lock}. The archive stays open. Idempotent.
     */
    /** Releases the lock without shipping (a loop never started, given up while others failed to open). */
    void abandon() {
        timer.shutdownNow();
        lagTimer.shutdownNow();
        synchronized (tickLock) {
            if (!closed) {
                closed = true;
                shipper.close();
            }
        }
    }

    @Override
    public void close() {
        timer.shutdown();
        lagTimer.shutdownNow();
        synchronized (tickLock) {
            if (closed) {
                return;
            }
            tick(true);
            closed = true;
            shipper.close();
        }
        try {
            timer.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
