package io.walship.shipper;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;

import io.walship.archive.ArchiveConfigException;
import io.walship.archive.ArchiveUri;
import io.walship.archive.ObjectStore;
import io.walship.wal.Lsn;
import io.walship.wal.WalMarks;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Shipping one data directory's WAL to several archives at once: one {@link ShipLoop} per archive,
 * each on its own thread with its own position, lock ({@code DATA/ship.ID.lock}) and, for a
 * required archive, retention mark ({@code DATA/marks/archived.ID}), so a slow or failing archive
 * never holds up the others. The first archive is the primary (the one a leader's lease lives in).
 * {@link #close} stops every loop at once, in parallel, so a hanging archive delays no other's last
 * shipment. Thread-safe.
 */
public final class ShipLoops implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ShipLoops.class);

    /** One archive to ship to; {@code required}: the WAL is kept locally until it holds it. */
    public record Target(ObjectStore store, boolean required) {
        public Target {
            Objects.requireNonNull(store, "store");
        }
    }

    /** How long {@link #close} waits for the archives' last shipments together. */
    static final Duration CLOSE_WAIT = Duration.ofSeconds(60);

    private final List<ShipLoop> loops;

    private ShipLoops(List<ShipLoop> loops) {
        this.loops = List.copyOf(loops);
    }

    /**
     * Builds a loop per target (taking its lock and creating its mark), then settles the marks
     * ({@link #settleMarks}). Nothing ships until {@link #start}. On a failure the loops built so far
     * are closed without shipping.
     */
    public static ShipLoops open(Path dataDir, List<Target> targets, WalShipper.Options options, Duration interval,
                                 Function<Target, ShipLoop.Listener> listener, ShipLoop.Gate gate) {
        if (targets.isEmpty()) {
            throw new IllegalArgumentException("no archive to ship to");
        }
        List<ShipLoop> built = new ArrayList<>();
        try {
            for (Target t : targets) {
                built.add(new ShipLoop(dataDir, t.store(), t.required(), options, interval, listener.apply(t), gate));
            }
            Set<String> required = new TreeSet<>();
            for (ShipLoop l : built) {
                if (l.required()) {
                    required.add(l.archiveId());
                }
            }
            settleMarks(dataDir, required);
        } catch (RuntimeException | Error e) {
            for (ShipLoop l : built) {
                l.abandon();
            }
            throw e;
        }
        return new ShipLoops(built);
    }

    /**
     * After the required archives' marks exist ({@code marks/archived.ID}, written durably by
     * their shippers' constructors): deletes the legacy mark {@code marks/archived} of an older
     * version (its archive's mark now holds its WAL, from 0 if it was new), and logs the marks of
     * archives not shipped here: each still holds the WAL (costs disk, never data) until its
     * archive is shipped again, by this or another process, or its file is deleted by hand.
     * Does nothing when {@code required} is empty (only optional archives: the legacy mark stays).
     * Returns those other marks, by archive ID.
     */
    public static Map<String, Long> settleMarks(Path dataDir, Set<String> required) {
        Map<String, Long> others = new java.util.TreeMap<>();
        if (required.isEmpty()) {
            return others;
        }
        WalMarks marks = new WalMarks(dataDir);
        for (String id : required) {
            if (marks.archived(id).isEmpty()) {
                throw new IllegalStateException("the mark of archive " + id + " is missing in " + dataDir);
            }
        }
        if (marks.legacyArchived().isPresent()) {
            LOG.info("replacing the single-archive mark {}/marks/archived (LSN {}) by the per-archive marks of {}",
                    dataDir, Lsn.format(marks.legacyArchived().getAsLong()), required);
            marks.removeLegacyArchived();
        }
        for (Map.Entry<String, Long> m : marks.archivedMarks().entrySet()) {
            if (!required.contains(m.getKey())) {
                others.put(m.getKey(), m.getValue());
                LOG.warn("{}/marks/archived.{} (LSN {}) is the mark of an archive this process does not ship to as a"
                                + " required archive: it holds the WAL from there until that archive is shipped again or the"
                                + " file is deleted (docs/OPERATIONS.md, \"Several archives\")", dataDir, m.getKey(),
                        Lsn.format(m.getValue()));
            }
        }
        return others;
    }

    /**
     * Refuses (one line, {@link ArchiveConfigException}: exit 2) a list that names the same archive
     * twice, as URIs equal once normalised ({@link ArchiveUri#normalized}).
     */
    public static void checkDistinct(List<String> uris) {
        Map<String, String> seen = new HashMap<>();
        for (String u : uris) {
            String n = ArchiveUri.parse(u).normalized();
            String before = seen.putIfAbsent(n, u);
            if (before != null) {
                throw new ArchiveConfigException("the same archive is given twice: '" + before + "' and '" + u
                        + "' (" + n + ")");
            }
        }
    }

    public ShipLoops start() {
        loops.forEach(ShipLoop::start);
        return this;
    }

    /** The loops, the primary first. */
    public List<ShipLoop> loops() {
        return loops;
    }

    /** The primary archive's loop (the first). */
    public ShipLoop primary() {
        return loops.get(0);
    }

    public List<ShipLoop.Status> statuses() {
        return loops.stream().map(ShipLoop::status).toList();
    }

    /**
     * Closes every loop at once, each on a thread of its own (each ships a last time), and waits
     * for them all: a hanging archive delays only its own.
     */
    @Override
    public void close() {
        closeAll(loops);
    }

    /**
     * Closes {@code loops} (of one or several data directories) all at once, as {@link #close}: a
     * hanging one delays no other's last shipment. Closing a loop twice does nothing.
     */
    public static void closeAll(List<ShipLoop> loops) {
        List<Thread> threads = new ArrayList<>();
        for (ShipLoop l : loops) {
            Thread t = new Thread(l::close, "walship-ship-close-" + l.archiveId());
            t.setDaemon(true);
            t.start();
            threads.add(t);
        }
        long deadline = System.nanoTime() + CLOSE_WAIT.toNanos();
        for (int i = 0; i < threads.size(); i++) {
            Thread t = threads.get(i);
            try {
                long left = deadline - System.nanoTime();
                if (left > 0) {
                    t.join(Math.max(1, left / 1_000_000));
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            if (t.isAlive()) {
                LOG.error("the last shipment to {} did not end within {} s; leaving it (its WAL stays in the data"
                        + " directory until archived)", loops.get(i).status().archive(), CLOSE_WAIT.toSeconds());
            }
        }
    }
}
