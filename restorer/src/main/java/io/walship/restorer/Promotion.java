package io.walship.restorer;

import java.io.ByteArrayInputStream;
import java.nio.file.Path;
import java.time.Instant;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ArchiveListing;
import io.walship.archive.ObjectExistsException;
import io.walship.archive.ObjectStore;
import io.walship.archive.TimelineHistory;
import io.walship.wal.ControlFile;
import io.walship.wal.DirectoryLock;
import io.walship.wal.Lsn;
import io.walship.wal.Store;
import io.walship.wal.WalshipException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opens a standby for writes on a new timeline, PostgreSQL-style. The new timeline is claimed
 * in the archive by creating its history record (create-if-absent), so two promotions never
 * write the same timeline, and the old timeline's WAL is never touched: the new WAL is shipped
 * under {@code wal/NEW/}. Stateless.
 */
public final class Promotion {
    private static final Logger LOG = LoggerFactory.getLogger(Promotion.class);

    private Promotion() {
    }

    /**
     * An offline promotion's claim ({@code restore --promote}, {@code walship promote --data}): the next free timeline
     * after {@code parent} and every timeline in the archive, forking after {@code forkLsn}; returns it. The record
     * says {@code "promotion": "offline"}, so a live promotion passes over it ({@link #claimNext}).
     */
    public static int claim(ObjectStore store, int parent, long forkLsn, long forkTimeMicros, String reason) {
        return claim(store, parent, forkLsn, forkTimeMicros, reason, candidate -> { });
    }

    /**
     * As {@link #claim(ObjectStore, int, long, long, String)}, calling {@code beforeClaim} with each
     * candidate timeline before its history record is created (a restore writes its control file
     * there, so the claim never comes first).
     */
    public static int claim(ObjectStore store, int parent, long forkLsn, long forkTimeMicros, String reason,
                            java.util.function.IntConsumer beforeClaim) {
        return claim(store, ArchiveListing.of(store).timelines(), parent, forkLsn, forkTimeMicros, reason, null,
                beforeClaim);
    }

    /**
     * As {@link #claim(ObjectStore, int, long, long, String, java.util.function.IntConsumer)}, starting
     * from the timelines of a listing the caller already made (a restore: no second listing of the
     * archive), the record saying {@code fork} ({@link TimelineHistory#fork()}: {@link TimelineHistory#FORK_END} for a
     * copy restored to the end of the archive, else null). A listing that has become old only costs a retry: a
     * timeline claimed since is taken, and the next one is tried.
     */
    public static int claim(ObjectStore store, java.util.Set<Integer> timelines, int parent, long forkLsn,
                            long forkTimeMicros, String reason, String fork, java.util.function.IntConsumer beforeClaim) {
        int candidate = Math.max(parent, timelines.stream().max(Integer::compare).orElse(1)) + 1;
        for (int attempt = 0; attempt < 1000; attempt++, candidate++) {
            TimelineHistory h = new TimelineHistory(TimelineHistory.FORMAT_VERSION, candidate, parent, Lsn.format(forkLsn),
                    RestoreTarget.formatMicros(forkTimeMicros), Instant.now().toString(), reason, TimelineHistory.OFFLINE,
                    fork);
            beforeClaim.accept(candidate);
            try {
                // the same bytes already there: our own claim, whose answer was lost and retried
                store.createOrSame(ArchiveLayout.historyKey(candidate), new ByteArrayInputStream(h.toJson()));
                LOG.info("claimed timeline {} (forked from timeline {} after LSN {})", candidate, parent, Lsn.format(forkLsn));
                return candidate;
            } catch (ObjectExistsException e) {
                LOG.info("timeline {} was claimed by someone else; trying {}", candidate, candidate + 1);
            }
        }
        throw new WalshipException("could not claim a new timeline after " + candidate);
    }

    /**
     * A live promotion's claim (it holds the leader lease on {@code parent}): the first timeline after {@code parent}
     * that no live promotion took. Each candidate {@code parent + 1}, {@code parent + 2}, … is created if absent; one
     * already there is passed over (logged) if an offline promotion claimed it ({@code restore --promote}, an
     * inspection or drill copy, or {@code walship promote --data}: {@link TimelineHistory#live()}) or if it forked
     * from another timeline, and refused ({@link TimelineTakenException}: this node stays a follower) if another
     * live promotion of a follower of {@code parent} claimed it. Two followers of the same leader promoted at once
     * walk the same candidates, and the archive's conditional create lets exactly one of them create each: the
     * other finds that live claim and refuses (moving on past it would make two leaders). An offline promotion's
     * store that is not leading yet finds the lease on this newer timeline and refuses writes. A lost answer whose
     * retry finds our own record (the same bytes) is our claim. The record says {@code "promotion": "live"}.
     */
    public static int claimNext(ObjectStore store, int parent, long forkLsn, long forkTimeMicros, String reason) {
        return claimNext(store, parent, forkLsn, forkTimeMicros, reason, candidate -> { });
    }

    /**
     * As {@link #claimNext(ObjectStore, int, long, long, String)}, calling {@code beforeCreate} with each candidate
     * just before its record is created: a live promotion renews its lease on {@code parent} there (and refuses if it
     * cannot), so a walk past many offline claims never outlasts the lease it claims under.
     */
    public static int claimNext(ObjectStore store, int parent, long forkLsn, long forkTimeMicros, String reason,
                                java.util.function.IntConsumer beforeCreate) {
        int candidate = parent + 1;
        for (int attempt = 0; attempt < 1000; attempt++, candidate++) {
            beforeCreate.accept(candidate);
            TimelineHistory h = new TimelineHistory(TimelineHistory.FORMAT_VERSION, candidate, parent, Lsn.format(forkLsn),
                    RestoreTarget.formatMicros(forkTimeMicros), Instant.now().toString(), reason, TimelineHistory.LIVE);
            try {
                store.createOrSame(ArchiveLayout.historyKey(candidate), new ByteArrayInputStream(h.toJson()));
                LOG.info("claimed timeline {} (forked from timeline {} after LSN {})", candidate, parent,
                        Lsn.format(forkLsn));
                return candidate;
            } catch (ObjectExistsException e) {
                TimelineHistory other;
                try {
                    other = TimelineHistory.readOne(store, candidate);
                } catch (RuntimeException r) {
                    // whose claim it is cannot be known: it may be the winner's, so refuse rather than pass it over
                    throw new TimelineTakenException(candidate, "timeline " + candidate + " was already claimed in the"
                            + " archive by another promotion (its history is unreadable: " + r.getMessage() + "); this"
                            + " node stays a follower");
                }
                String whose = "forked from timeline " + other.parent() + " after LSN " + other.forkLsn() + " ("
                        + other.reason() + ")";
                if (other.live() && other.parent() == parent) {
                    throw new TimelineTakenException(candidate, "timeline " + candidate + " was already claimed in the"
                            + " archive by another promotion, " + whose + "; this node stays a follower");
                }
                LOG.warn("timeline {} was claimed by {} promotion, {}; claiming {}", candidate,
                        other.live() ? "a live" : "an offline", whose, candidate + 1);
            }
        }
        throw new WalshipException("could not claim a new timeline after " + candidate);
    }

    /** Another promotion claimed the timeline first. */
    public static final class TimelineTakenException extends WalshipException {
        private final int timeline;

        public TimelineTakenException(int timeline, String message) {
            super(message);
            this.timeline = timeline;
        }

        public int timeline() {
            return timeline;
        }
    }

    /**
     * After an offline promotion ({@code restore --promote}, {@code walship promote}; the directory's lock
     * released): if retention may prune what the new timeline forked from
     * ({@link io.walship.archive.RetentionWatermark#forkUnprotected}, called after the claim, with the histories the data
     * directory keeps and the archive's for the rest), or if the archive lacks an ancestor's history (a timeline
     * claimed and shipped in another archive: then it lacks that timeline's WAL too), takes a full base backup of the
     * promoted store into {@code store}, so the archive restores the new timeline from its own backup whatever
     * retention deletes of the parent's. Returns the backup's manifest and why it was taken, or empty if none was
     * needed. A failed
     * check or backup is an error naming what to run: the promotion stands, but the archive may not restore it
     * (an {@link io.walship.archive.EncryptionKeyException} if a key was missing or wrong, else a
     * {@link WalshipException}).
     */
    public static java.util.Optional<GuardBackup> backUpIfUnprotected(ObjectStore store, Path dataDir, int timeline) {
        java.util.Optional<String> why;
        try {
            // the data directory's records first, as its shippers read them (docs/FORMAT.md); an ancestor the archive
            // lacks decides before its record is asked for
            why = io.walship.archive.RetentionWatermark.forkUnprotected(store, timeline,
                    t -> io.walship.shipper.LocalHistories.readHereOrIn(store, dataDir, t));
        } catch (RuntimeException e) {
            throw afterClaim(e, "timeline " + timeline + " is claimed and " + dataDir + " takes writes on it, but"
                    + " checking whether the archive's retention may prune what it forked from failed ("
                    + io.walship.wal.Errors.oneLine(e) + "); take a base backup of it now: walship backup --data "
                    + dataDir + " --archive URI (or --url once it leads)");
        }
        if (why.isEmpty()) {
            return java.util.Optional.empty();
        }
        LOG.warn("the archive may not restore timeline {}: {}; taking a base backup of {} on it now", timeline, why.get(),
                dataDir);
        try {
            io.walship.archive.BackupManifest m = new io.walship.shipper.BackupSource.StoppedStore(dataDir)
                    .backup(store, io.walship.archive.Codec.ZSTD, total -> done -> { }, io.walship.shipper.BackupType.FULL.policy());
            LOG.info("base backup {} taken on timeline {} (LSN {})", m.imageKey(), timeline, m.lsn());
            return java.util.Optional.of(new GuardBackup(m, why.get()));
        } catch (RuntimeException e) {
            throw afterClaim(e, "timeline " + timeline + " is claimed and " + dataDir + " takes writes on it, but the"
                    + " archive may not restore it (" + why.get() + "), and the base backup taken for it failed ("
                    + io.walship.wal.Errors.oneLine(e) + "); take one now:"
                    + " walship backup --data " + dataDir + " --archive URI (or --url once it leads)");
        }
    }

    /** A base backup {@link #backUpIfUnprotected} took on the new timeline, and why the archive needed it. */
    public record GuardBackup(io.walship.archive.BackupManifest manifest, String why) {
    }

    /**
     * {@code failure} after the claim, as {@code message} (which says that the promotion stands): a key error stays
     * one (the CLI's exit 2, as everywhere else), anything else is a {@link WalshipException}.
     */
    private static RuntimeException afterClaim(RuntimeException failure, String message) {
        if (failure instanceof io.walship.archive.EncryptionKeyException k) {
            return new io.walship.archive.EncryptionKeyException(message, k);
        }
        return new WalshipException(message, failure);
    }

    /**
     * Saves the claimed timeline's history in the data directory ({@code DATA/timelines/T.history},
     * docs/FORMAT.md), from which its shippers give it to every archive. On a failure the claim
     * stands: the shipper of the archive it was claimed in copies it later.
     */
    static void keepHistory(ObjectStore store, Path dataDir, int timeline) {
        try {
            io.walship.shipper.LocalHistories.saveFrom(store, dataDir, timeline);
        } catch (RuntimeException e) {
            LOG.warn("could not keep the history of timeline {} in {}: {}", timeline, dataDir, e.getMessage());
        }
    }

    /**
     * What {@link #promote} did: the new timeline, and the base backup it took on it and why the archive needed it
     * (both null: none was needed).
     */
    public record Promoted(int timeline, io.walship.archive.BackupManifest backup, String backupReason) {
    }

    /**
     * Promotes the standby in {@code dataDir} (which must not be open) onto a new timeline, taking a base backup
     * on it if retention may prune what the fork grew from ({@link #backUpIfUnprotected}).
     */
    public static Promoted promote(Path dataDir, ObjectStore store) {
        int tl;
        try (DirectoryLock lock = DirectoryLock.acquire(dataDir.resolve(Store.LOCK_FILE),
                "data directory " + dataDir + " is open; stop it before promoting")) {
            if (java.nio.file.Files.exists(dataDir.resolve(Store.RESTORE_MARKER))) {
                throw new WalshipException(dataDir + " holds an incomplete restore; it cannot be promoted");
            }
            ControlFile c = ControlFile.read(dataDir);
            if (!c.standby()) {
                throw new WalshipException(dataDir + " is not a standby (it already takes writes on timeline "
                        + c.timeline() + ")");
            }
            tl = claim(store, c.timeline(), c.checkpointLsn(), c.checkpointTimeMicros(),
                    "promote at LSN " + Lsn.format(c.checkpointLsn()));
            c.promoted(tl).write(dataDir);
            keepHistory(store, dataDir, tl);
        }
        java.util.Optional<GuardBackup> b = backUpIfUnprotected(store, dataDir, tl);
        return new Promoted(tl, b.map(GuardBackup::manifest).orElse(null), b.map(GuardBackup::why).orElse(null));
    }
}
