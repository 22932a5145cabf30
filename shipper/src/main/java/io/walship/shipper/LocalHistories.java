package io.walship.shipper;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ObjectExistsException;
import io.walship.archive.ObjectNotFoundException;
import io.walship.archive.ObjectStore;
import io.walship.archive.TimelineHistory;
import io.walship.wal.AtomicFiles;
import io.walship.wal.WalshipException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The timeline history records a data directory keeps of its own ancestry, {@code DATA/timelines/T.history}
 * (the same JSON as the archive's {@code timelines/T.history}; docs/FORMAT.md), so that every archive it
 * ships to gets them from the data directory, not from another archive: an archive without the
 * history of a timeline cannot restore it. A promotion writes its new record here; a shipper also
 * saves a record its own archive has and the data directory lacks (a store promoted by an older
 * version). Thread-safe (each call is a few file operations, files are replaced atomically).
 */
public final class LocalHistories {
    private static final Logger LOG = LoggerFactory.getLogger(LocalHistories.class);
    public static final String DIR_NAME = "timelines";

    private LocalHistories() {
    }

    static Path file(Path dataDir, int timeline) {
        return dataDir.resolve(DIR_NAME).resolve(timeline + ".history");
    }

    /** Saves {@code h} as {@code DATA/timelines/T.history} (durably). */
    public static void save(Path dataDir, TimelineHistory h) {
        AtomicFiles.createDirectories(dataDir.resolve(DIR_NAME));
        AtomicFiles.write(file(dataDir, h.timeline()), h.toJson());
    }

    /** Copies timeline {@code timeline}'s record from {@code archive} (where a promotion just claimed it) into the data directory. */
    public static void saveFrom(ObjectStore archive, Path dataDir, int timeline) {
        save(dataDir, TimelineHistory.readOne(archive, timeline));
    }

    /** The data directory's record of {@code timeline}, if it keeps one. */
    public static Optional<TimelineHistory> read(Path dataDir, int timeline) {
        Path f = file(dataDir, timeline);
        if (!Files.exists(f)) {
            return Optional.empty();
        }
        try (InputStream in = Files.newInputStream(f)) {
            return Optional.of(TimelineHistory.read(in, ArchiveLayout.historyKey(timeline)));
        } catch (IOException e) {
            throw new UncheckedIOException("read " + f + ": " + e.getMessage(), e);
        }
    }

    /**
     * Timeline {@code timeline}'s record: the data directory's if it keeps one, else {@code archive}'s. A record in
     * neither is an error naming both places.
     */
    public static TimelineHistory readHereOrIn(ObjectStore archive, Path dataDir, int timeline) {
        Optional<TimelineHistory> local = read(dataDir, timeline);
        if (local.isPresent()) {
            return local.get();
        }
        try {
            return TimelineHistory.readOne(archive, timeline);
        } catch (ObjectNotFoundException e) {
            throw new WalshipException(inNeither(archive, dataDir, timeline), e);
        }
    }

    private static String inNeither(ObjectStore archive, Path dataDir, int timeline) {
        return "the history of timeline " + timeline + " is neither in " + dataDir.resolve(DIR_NAME) + " nor in "
                + archive.describe();
    }

    /**
     * Makes sure {@code archive} holds the history of {@code timeline} and of each of its ancestors:
     * each one missing there is uploaded from the data directory; one the data directory lacks is
     * saved from the archive if the archive has it. Fails (the run is retried) if a record is in
     * neither, or if the archive holds another record for the timeline (another history: shipping
     * there would splice two).
     */
    static void ensure(ObjectStore archive, Path dataDir, int timeline) {
        for (int t = timeline; t > 1; ) {
            Optional<TimelineHistory> local = read(dataDir, t);
            String key = ArchiveLayout.historyKey(t);
            boolean inArchive = archive.head(key).isPresent();
            TimelineHistory h;
            if (local.isPresent()) {
                h = local.get();
                if (!inArchive) {
                    try {
                        archive.createOrSame(key, new ByteArrayInputStream(h.toJson()));
                        LOG.info("uploaded the history of timeline {} to {} from {}", t, archive.describe(), dataDir);
                    } catch (ObjectExistsException e) {
                        throw new ArchiveSpliceException("the archive " + archive.describe() + " holds another history"
                                + " record for timeline " + t + " than " + dataDir + ": another promotion claimed it there");
                    }
                } else {
                    TimelineHistory there = TimelineHistory.readOne(archive, t);
                    if (there.parent() != h.parent() || !there.forkLsn().equals(h.forkLsn())) {
                        throw new ArchiveSpliceException("the archive " + archive.describe() + " holds another history"
                                + " for timeline " + t + " (forked from timeline " + there.parent() + " after LSN "
                                + there.forkLsn() + ") than " + dataDir + " (timeline " + h.parent() + " after LSN "
                                + h.forkLsn() + ")");
                    }
                }
            } else if (inArchive) {
                try {
                    h = TimelineHistory.readOne(archive, t);
                } catch (ObjectNotFoundException e) {
                    throw new WalshipException("the history of timeline " + t + " vanished from " + archive.describe());
                }
                save(dataDir, h);
            } else {
                throw new WalshipException(inNeither(archive, dataDir, t) + "; it is copied from the archive the"
                        + " promotion claimed it in once that archive's shipper runs");
            }
            t = h.parent();
        }
    }

    /**
     * Fails if {@code archive} may be unable to restore {@code timeline} (its retention pruned before the
     * timeline reached it: {@link io.walship.archive.RetentionWatermark#forkUnprotected}), naming what to do.
     * The records are the data directory's ({@link #ensure} has made sure of them).
     */
    static void requireBaseKept(ObjectStore archive, Path dataDir, int timeline) {
        io.walship.archive.RetentionWatermark.forkUnprotected(archive, timeline,
                t -> read(dataDir, t).orElseThrow(() -> new IllegalStateException("no history of timeline " + t)))
                .ifPresent(why -> {
                    throw new WalshipException(archive.describe() + " may not restore timeline " + timeline + ": " + why
                            + "; take one into it (walship backup --url LEADER or --data " + dataDir + " --archive URI):"
                            + " shipping to it resumes once it is there");
                });
    }
}
