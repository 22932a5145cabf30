package io.walship.restorer.follow;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;

import io.walship.archive.ArchiveConfigException;
import io.walship.archive.ArchiveListing;
import io.walship.archive.LeaderLease;
import io.walship.archive.LeaseRecord;
import io.walship.archive.ObjectStore;
import io.walship.archive.TimelineHistory;
import io.walship.protocol.BadInputException;
import io.walship.protocol.Json;
import io.walship.wal.AtomicFiles;
import io.walship.wal.ControlFile;
import io.walship.wal.DirectoryLock;
import io.walship.wal.Errors;
import io.walship.wal.FileTrees;
import io.walship.wal.IntegrityException;
import io.walship.wal.Lsn;
import io.walship.wal.Store;
import io.walship.wal.StoreOptions;
import io.walship.wal.WalEntry;
import io.walship.wal.WalNoLongerAvailableException;
import io.walship.wal.WalReader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A former leader (or any store whose history left the leader's) rejoins as a follower
 * ({@code walship follow --data OLD_DIR}), before {@link Bootstrap#prepare}:
 *
 * <ul>
 *   <li>the <b>fork</b>: the leader's timeline (the one the leader lease names; for a former leader
 *       without one, the archive's newest) and the last LSN its history ({@code timelines/T.history})
 *       shares with the store's timeline, as the leader's TIMELINE frame names it;</li>
 *   <li>a store whose WAL ends <b>at or before the fork</b> lost nothing: a former leader becomes a
 *       standby (its control file says so, so it never takes writes or ships again) and moves to the
 *       new timeline ({@link Store#switchTimeline}), then follows;</li>
 *   <li>a store with WAL <b>past the fork has diverged</b>: those commits exist on no other node's
 *       timeline. It is re-cloned (the {@link Cloner}: the archive's newest base backup and WAL on the
 *       new timeline, or the leader's snapshot) into {@code DIR.rejoin} next to it; only once that copy
 *       is complete and synced is the old directory renamed aside to
 *       {@code DIR.diverged-TIMESTAMP} (kept, never deleted) and the copy renamed to {@code DIR}. The
 *       discarded LSN range is logged on one line and written to {@code DIR/rewind-report.json}
 *       ({@link Report}). A crash between the two renames is finished by the next start.</li>
 * </ul>
 *
 * <p>Refused ({@link DivergedException}, exit 3): a diverged store with rewinding off
 * ({@code --no-rewind}), and a rewind that would discard an LSN the store's
 * {@link io.walship.wal.WalMarks#syncAcked() sync-acked mark} says a follower acknowledged in a
 * sync commit mode, unless forced. The re-clone is pg_rewind's outcome (the store follows the new
 * timeline from a state it really had) at the price of a full copy; pages are not patched in place.
 */
public final class Rejoin {
    private static final Logger LOG = LoggerFactory.getLogger(Rejoin.class);

    /** The report's file name in the data directory. */
    public static final String REPORT_FILE = "rewind-report.json";
    /** Suffix of the directory the copy is made in, next to the data directory. */
    static final String STAGING_SUFFIX = ".rejoin";
    /** Suffix (plus a UTC timestamp) of the old data directory once set aside. */
    static final String ASIDE_SUFFIX = ".diverged-";

    /**
     * @param rewind re-clone a diverged store (false: refuse it, {@code --no-rewind})
     * @param force  rewind even past LSNs acknowledged in a sync commit mode
     */
    public record Options(boolean rewind, boolean force) {
        public static Options defaults() {
            return new Options(true, false);
        }
    }

    /**
     * Fills an empty directory with a standby of the leader's current history ({@link Bootstrap#prepare})
     * along {@code timeline}, the leader's (not the archive's newest: an inspection copy promoted with
     * {@code restore --promote} may have shipped a newer one, which this store must not end up on).
     */
    @FunctionalInterface
    public interface Cloner {
        void cloneInto(Path emptyDir, int timeline) throws IOException, InterruptedException;
    }

    /** The newest timeline whose history runs through ours, and the last LSN they share. */
    public record Fork(int timeline, long forkLsn) {
    }

    /** What {@link #prepare} did. */
    public enum Kind {
        /** No store, or a standby with nothing to rewind: {@link Bootstrap#prepare} goes on as for any follower. */
        NONE,
        /** A former leader whose WAL ends at or before the fork: now a standby on the new timeline, nothing lost. */
        SWITCHED,
        /** A diverged store, re-cloned: {@link Outcome#report()} says what was discarded. */
        REWOUND
    }

    public record Outcome(Kind kind, Fork fork, Report report) {
    }

    /**
     * {@code DIR/rewind-report.json}: the LSN range {@code discardedFrom..discardedTo} of timeline
     * {@code timeline} that was discarded, past {@code forkLsn} where {@code newTimeline} forked.
     * {@code discardedCommits}, the commit times and {@code pagesTouched} (summed per commit) come from
     * the old WAL from {@code walReadFrom} on ({@code null} if none of it was still on disk); keys are
     * not listed, since the WAL is physical (page changes): look them up in {@code keptAt}, the old data
     * directory. {@code syncAckedLsn}: the highest LSN the old store recorded as acknowledged by
     * followers in a sync commit mode ({@code null}: it recorded none).
     */
    public record Report(int formatVersion, String createdAt, String dataDir, int timeline, int newTimeline,
                         String forkLsn, String discardedFrom, String discardedTo, long discardedCommits,
                         String walReadFrom, String firstDiscardedCommitTime, String lastDiscardedCommitTime,
                         long pagesTouched, String syncAckedLsn, boolean forced, String method, String keptAt) {
        public static final int FORMAT_VERSION = 1;

        /** The one line an operator reads. */
        public String line() {
            return "rejoin: discarded LSN " + discardedFrom + ".." + discardedTo + " of timeline " + timeline + " ("
                    + discardedCommits + " commit(s) read" + (walReadFrom == null ? ", the WAL was recycled" : "")
                    + "), past LSN " + forkLsn + " where timeline " + newTimeline + " forked; re-cloned " + dataDir
                    + ", the old directory is kept at " + keptAt + " (report: " + REPORT_FILE + ")";
        }
    }

    /** What the old WAL past the fork holds. */
    record Discarded(long commits, long walReadFrom, long firstCommitMicros, long lastCommitMicros, long pagesTouched) {
    }

    private Rejoin() {
    }

    /**
     * The timeline the leader is on now, if it is newer than {@code timeline}, and the last LSN its
     * history shares with {@code timeline}'s (for a descendant, the fork from {@code timeline} itself;
     * for a sibling, where they parted); empty if there is none. The leader's timeline is the one the
     * leader lease ({@code lease/leader.json}) names, as every live promotion takes it; without a lease
     * naming a newer one, and only if {@code newestWithoutLease}, the newest timeline in the archive (a
     * former leader asked to rejoin: with {@code --no-lease} nothing else says who leads). A newer
     * timeline no lease names may be an inspection copy ({@code restore --promote}) that never led: a
     * follower is not rewound for it.
     */
    public static Optional<Fork> forkFromArchive(ObjectStore archive, int timeline, boolean newestWithoutLease) {
        ArchiveListing listing = ArchiveListing.of(archive);
        Map<Integer, TimelineHistory> histories = TimelineHistory.readAll(archive, listing);
        int target = timeline;
        Optional<LeaseRecord> lease = LeaderLease.current(archive);
        if (lease.isPresent() && Integer.compareUnsigned(lease.get().timeline(), timeline) > 0) {
            target = lease.get().timeline();
        } else if (newestWithoutLease) {
            for (int t : histories.keySet()) {
                if (Integer.compareUnsigned(t, target) > 0) {
                    target = t;
                }
            }
        }
        if (target == timeline) {
            return Optional.empty();
        }
        return Optional.of(new Fork(target, shared(TimelineHistory.ancestry(timeline, histories),
                TimelineHistory.ancestry(target, histories))));
    }

    /** The last LSN two ancestries (oldest span first) take from the same timelines. */
    static long shared(List<TimelineHistory.Span> ours, List<TimelineHistory.Span> theirs) {
        long fork = 0;
        for (int i = 0; i < Math.min(ours.size(), theirs.size()); i++) {
            TimelineHistory.Span a = ours.get(i);
            TimelineHistory.Span b = theirs.get(i);
            if (a.timeline() != b.timeline()) {
                break;
            }
            fork = Math.min(a.toLsn(), b.toLsn());
            if (a.toLsn() != b.toLsn()) {
                break;
            }
        }
        return fork;
    }

    public static Outcome prepare(Path dir, ObjectStore archive, Options options, Cloner cloner)
            throws IOException, InterruptedException {
        return prepare(dir, archive, options, cloner, Clock.systemUTC());
    }

    /**
     * Makes {@code dir} fit to follow the archive's newest timeline (see the class comment).
     *
     * @param archive the archive (where the fork is read from); null: only a directory that needs no
     *                rejoin is accepted, a former leader is refused (its fork cannot be known)
     */
    public static Outcome prepare(Path dir, ObjectStore archive, Options options, Cloner cloner, Clock clock)
            throws IOException, InterruptedException {
        Objects.requireNonNull(options, "options");
        dir = dir.toAbsolutePath().normalize();
        Path staging = sibling(dir, STAGING_SUFFIX);
        finishInterruptedSwap(dir, staging);
        if (!Bootstrap.holdsStore(dir)) {
            return new Outcome(Kind.NONE, null, null);
        }
        ControlFile control = ControlFile.read(dir);
        boolean standby = control.standby();
        if (archive == null) {
            if (!standby) {
                throw new BadInputException(dir + " holds a store that takes writes (a former leader); to rejoin it as a"
                        + " follower give --archive, where the new timeline's history says where it forked");
            }
            return new Outcome(Kind.NONE, null, null);
        }
        Fork fork;
        try {
            fork = forkFromArchive(archive, control.timeline(), !standby).orElse(null);
        } catch (ArchiveConfigException | io.walship.archive.EncryptionKeyException e) {
            throw e;
        } catch (RuntimeException e) {
            if (!standby) {
                throw e;
            }
            // a follower's restart must not depend on the archive: a leader that finds it past the fork refuses it
            LOG.warn("rejoin: could not read the archive's timeline histories ({}); resuming {} as it is",
                    Errors.oneLine(e), dir);
            return new Outcome(Kind.NONE, null, null);
        }
        if (fork == null) {
            if (!standby) {
                throw new BadInputException(dir + " holds the leader of timeline " + control.timeline() + " and the"
                        + " archive has no newer timeline: it was not superseded, so there is nothing to rejoin (run"
                        + " walship leader on it, or promote a follower first)");
            }
            return new Outcome(Kind.NONE, null, null);
        }
        Inspection in;
        try (Store store = Store.open(dir, StoreOptions.defaults().withRetentionNeedsArchive(false))) {
            in = inspect(store, fork);
        }
        if (in.lastLsn() <= fork.forkLsn()) {
            if (standby) {
                return new Outcome(Kind.NONE, fork, null); // the follower loop switches at the leader's TIMELINE
            }
            ControlFile.read(dir).asStandby().write(dir);
            AtomicFiles.fsyncDirectory(dir);
            switchTimeline(dir, fork);
            LOG.warn("rejoin: {} (the leader of timeline {} up to LSN {}) has nothing past LSN {} where timeline {}"
                    + " forked: it follows timeline {} as a standby, nothing discarded", dir, in.timeline(),
                    Lsn.format(in.lastLsn()), Lsn.format(fork.forkLsn()), fork.timeline(), fork.timeline());
            return new Outcome(Kind.SWITCHED, fork, null);
        }
        String range = "LSN " + Lsn.format(fork.forkLsn() + 1) + ".." + Lsn.format(in.lastLsn()) + " of timeline "
                + in.timeline();
        if (!options.rewind()) {
            throw new DivergedException(dir + " has diverged: " + range + " is past LSN " + Lsn.format(fork.forkLsn())
                    + " where timeline " + fork.timeline() + " forked; without --no-rewind it is re-cloned and that"
                    + " range discarded");
        }
        if (in.syncAcked().isPresent() && in.syncAcked().getAsLong() > fork.forkLsn() && !options.force()) {
            throw new DivergedException("refusing to rewind " + dir + ": it would discard " + range + ", and this store"
                    + " recorded LSNs up to " + Lsn.format(in.syncAcked().getAsLong()) + " as acknowledged by followers"
                    + " in a sync commit mode (LSN " + Lsn.format(fork.forkLsn() + 1) + ".."
                    + Lsn.format(Math.min(in.syncAcked().getAsLong(), in.lastLsn())) + " would be lost); --force discards"
                    + " them anyway");
        }
        return reclone(dir, staging, in, options, cloner, clock);
    }

    /** The store's state, its fork and what lies past the fork. */
    record Inspection(int timeline, long systemId, long lastLsn, Fork fork, OptionalLong syncAcked, Discarded discarded) {
    }

    static Inspection inspect(Store store, Fork fork) {
        Discarded d = store.lastLsn() <= fork.forkLsn() ? null : discarded(store, fork.forkLsn());
        OptionalLong acked;
        try {
            acked = store.marks().syncAcked();
        } catch (io.walship.wal.IntegrityException e) {
            // torn by a power loss (it is not synced): assume the worst, every LSN acknowledged
            LOG.warn("rejoin: {}; assuming every LSN up to {} was acknowledged in a sync commit mode",
                    e.getMessage(), Lsn.format(store.lastLsn()));
            acked = OptionalLong.of(store.lastLsn());
        }
        return new Inspection(store.timeline(), store.systemId(), store.lastLsn(), fork, acked, d);
    }

    /** Reads the old WAL past {@code forkLsn}, as far as it is still on disk. */
    static Discarded discarded(Store store, long forkLsn) {
        long commits = 0;
        long pages = 0;
        long first = -1;
        long last = -1;
        long from = forkLsn + 1;
        try (WalReader r = store.walReader()) {
            try {
                r.seek(from);
            } catch (WalNoLongerAvailableException e) {
                from = e.firstAvailable();
                if (from > store.lastLsn()) {
                    return new Discarded(0, -1, -1, -1, 0);
                }
                r.seek(from);
            }
            WalEntry e;
            while ((e = r.next()) != null && e.lsn() <= store.lastLsn()) {
                commits++;
                pages += e.pagesTouched();
                first = first < 0 ? e.commitTimeMicros() : first;
                last = e.commitTimeMicros();
            }
        }
        return new Discarded(commits, commits == 0 ? -1 : from, first, last, pages);
    }

    private static Outcome reclone(Path dir, Path staging, Inspection in, Options options, Cloner cloner, Clock clock)
            throws IOException, InterruptedException {
        Fork fork = in.fork();
        Instant now = clock.instant();
        Path aside = sibling(dir, ASIDE_SUFFIX + DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'")
                .withZone(ZoneOffset.UTC).format(now));
        if (Files.exists(aside)) {
            throw new BadInputException(aside + " exists already; move it away and start again");
        }
        LOG.warn("rejoin: {} has diverged (LSN {}..{} of timeline {} past LSN {} where timeline {} forked); re-cloning"
                        + " it into {}", dir, Lsn.format(fork.forkLsn() + 1), Lsn.format(in.lastLsn()), in.timeline(),
                Lsn.format(fork.forkLsn()), fork.timeline(), staging);
        // nobody may start on the old directory while its replacement is made
        try (DirectoryLock lock = DirectoryLock.acquire(dir.resolve(Store.LOCK_FILE),
                "data directory " + dir + " is in use by another walship process")) {
            if (Files.exists(staging)) {
                LOG.warn("rejoin: {} holds an unfinished copy from an earlier attempt; starting it over", staging);
                FileTrees.deleteTree(staging);
            }
            cloner.cloneInto(staging, fork.timeline());
            if (!Bootstrap.holdsStore(staging)) {
                throw new IntegrityException("the copy in " + staging + " is not a complete store");
            }
            ControlFile c = ControlFile.read(staging);
            if (!c.standby() || c.systemId() != in.systemId()) {
                throw new IntegrityException("the copy in " + staging + " is not a standby of system "
                        + Long.toHexString(in.systemId()));
            }
            if (c.timeline() != fork.timeline()) {
                switchTimeline(staging, fork); // its copy ends at or before the fork: the old timeline's WAL past it is not ours
            }
            Discarded d = in.discarded() == null ? new Discarded(0, -1, -1, -1, 0) : in.discarded();
            Report report = new Report(Report.FORMAT_VERSION, now.toString(), dir.toString(), in.timeline(),
                    fork.timeline(), Lsn.format(fork.forkLsn()), Lsn.format(fork.forkLsn() + 1), Lsn.format(in.lastLsn()),
                    d.commits(), d.walReadFrom() < 0 ? null : Lsn.format(d.walReadFrom()), time(d.firstCommitMicros()),
                    time(d.lastCommitMicros()), d.pagesTouched(),
                    in.syncAcked().isPresent() ? Lsn.format(in.syncAcked().getAsLong()) : null, options.force(),
                    "re-clone", aside.toString());
            AtomicFiles.write(staging.resolve(REPORT_FILE), Json.writeBytes(report));
            AtomicFiles.fsyncDirectory(staging);
            // the copy is complete and durable: only now does the old directory move (never deleted)
            Files.move(dir, aside, StandardCopyOption.ATOMIC_MOVE);
            Files.move(staging, dir, StandardCopyOption.ATOMIC_MOVE);
            AtomicFiles.fsyncDirectory(dir.getParent());
            LOG.warn(report.line());
            return new Outcome(Kind.REWOUND, fork, report);
        }
    }

    /** The store in {@code dir} (a standby) follows {@code fork.timeline()} from now on. */
    private static void switchTimeline(Path dir, Fork fork) {
        try (Store s = Store.open(dir, StoreOptions.defaults().withRetentionNeedsArchive(false))) {
            s.switchTimeline(fork.timeline(), fork.forkLsn());
        }
    }

    /**
     * A crash between the two renames left no {@code DIR} and a complete copy with its report in
     * {@code DIR.rejoin}: finish the swap.
     */
    private static void finishInterruptedSwap(Path dir, Path staging) throws IOException {
        if (!Files.exists(dir) && Bootstrap.holdsStore(staging) && Files.exists(staging.resolve(REPORT_FILE))) {
            LOG.warn("rejoin: finishing an interrupted re-clone: {} becomes {}", staging, dir);
            Files.move(staging, dir, StandardCopyOption.ATOMIC_MOVE);
            AtomicFiles.fsyncDirectory(dir.getParent());
        }
    }

    private static Path sibling(Path dir, String suffix) {
        Path parent = dir.getParent();
        if (parent == null) {
            throw new BadInputException(dir + " has no parent directory to re-clone it beside");
        }
        return parent.resolve(dir.getFileName().toString() + suffix);
    }

    private static String time(long micros) {
        return micros < 0 ? null : Instant.EPOCH.plus(micros, java.time.temporal.ChronoUnit.MICROS).toString();
    }

    /** A diverged store that may not be rewound ({@code walship follow} exits 3). */
    public static final class DivergedException extends IntegrityException {
        public DivergedException(String message) {
            super(message);
        }
    }

    /** The rejoin's report in {@code dir}, if there is one. */
    public static Optional<Report> readReport(Path dir) {
        Path f = dir.resolve(REPORT_FILE);
        if (!Files.exists(f)) {
            return Optional.empty();
        }
        try {
            return Optional.of(Json.read(Files.readAllBytes(f), Report.class));
        } catch (IOException e) {
            throw new UncheckedIOException("read " + f, e);
        }
    }
}
