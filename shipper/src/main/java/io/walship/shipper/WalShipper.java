package io.walship.shipper;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Objects;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ArchiveListing;
import io.walship.archive.Codec;
import io.walship.archive.ObjectExistsException;
import io.walship.archive.ObjectStore;
import io.walship.archive.Segment;
import io.walship.wal.ControlFile;
import io.walship.wal.DirectoryLock;
import io.walship.wal.Lsn;
import io.walship.wal.WalEntry;
import io.walship.wal.WalMarks;
import io.walship.wal.WalReader;
import io.walship.wal.WalshipException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ships a data directory's WAL to the archive as compressed segment objects. Safe to run beside
 * a running leader: it reads the WAL read-only and only writes its archive's {@code marks/archived.ID} mark.
 *
 * <p>The archive is the source of truth for where to resume: a shipper lists the archive and
 * continues after the last LSN the timeline's segments cover, so a crash at any moment (before,
 * during or after an upload, before the mark moved) loses nothing and duplicates nothing. While
 * it knows the end itself (each upload moves it), and a run that uploads nothing (no new WAL, or
 * a segment held for {@link Options#segmentMaxAge}) relies on it for up to
 * {@link Options#archiveRecheck}: an idle shipper makes no request. A run about to upload lists
 * first (one listing per uploading run), so another writer's segments are checked before this one
 * adds its own; so do a run after a failed one (an upload whose outcome is unknown, a closed gate,
 * a refused create), after a timeline change, and a run that ships everything ({@link #shipAll},
 * {@link #shipOnce()}, a new shipper's first run). A create refused because the key exists is
 * compared first: the same bytes are its own upload whose answer was lost; other bytes are another
 * writer ({@link ArchiveSpliceException}).
 *
 * <p><b>Request bill.</b> By default every run uploads what is new as a segment (a PUT per run
 * with new WAL). With {@link Options#segmentMaxAge} a segment that is not full waits until its
 * oldest entry was first seen that long ago, so there is at most one PUT per max age (plus one per
 * full segment); {@link #shipAll} (a graceful stop), {@link #shipOnce()} and a new shipper's first
 * run upload it anyway (a shipper killed before its graceful stop held it for an unknown time).
 * "Archived up to" advances only after the segment containing it was created. One shipper per
 * archive and data directory ({@code DATA/ship.ID.lock}, ID from {@link #archiveId(ObjectStore)}). Not thread-safe.
 *
 * <p><b>Only durable entries.</b> It reads through {@link WalReader}, which never returns an entry
 * past the WAL's durable LSN, so nothing that a power loss could rewrite is ever archived.
 *
 * <p><b>No splice.</b> Before it ships after entries it did not upload itself, it checks that the
 * archive's last entry on the timeline is this store's: the segment's system id must be this
 * store's, and the entry at that LSN in the local WAL must have the same timeline and CRC32C.
 * Otherwise (a WAL rebuilt after a power loss, another store shipping to the same prefix) it
 * refuses with {@link ArchiveSpliceException}, naming both histories.
 *
 * <p><b>The fork reached.</b> On a promoted timeline, each run checks on its listing, until the check
 * passes once, that the archive can restore the timeline as far as its fork ({@link ForkReach}), counting
 * the parent's entries the run ships first from the local WAL; an archive behind when the old leader died,
 * which this WAL cannot fill, is refused (one line naming the hole and the fix) and gets nothing of the
 * new timeline. With nothing of the timeline archived yet and a WAL that starts past where the shipment
 * should (its first files deleted while an optional archive was away), the run is refused as on a timeline
 * with WAL archived ("LSNs in between are lost to the archive") unless a base backup on the path lets a
 * restore reach the WAL's first entry ({@link ForkReach#lateStart}). Until the check passes, every run with
 * WAL lists; a run whose WAL is empty (a promoted store before its first write) is an idle run and makes no
 * request.
 */
public final class WalShipper implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(WalShipper.class);
    /** The lock of a shipper of an older version (one per data directory); this one takes {@link #lockFile}. */
    public static final String LOCK_FILE = "ship.lock";

    /** The lock file of archive {@code archiveId}'s shipper: {@code ship.ID.lock}, one shipper per archive. */
    public static String lockFile(String archiveId) {
        return "ship." + archiveId + ".lock";
    }

    /**
     * The archive's ID ({@link io.walship.archive.ArchiveUri#id}) from its description (the URI
     * without credentials, plus " (encrypted)" for an encrypted one). A store whose description is
     * no archive URI (a test's) is named by the hash of its description.
     */
    public static String archiveId(ObjectStore store) {
        String d = store.describe().replaceFirst(" \\(encrypted\\)$", "");
        if (d.startsWith("file://")) {
            // a local archive's description is "file://" and its path as is, not a URI: '#', '%' or
            // ' ' in a directory name must not be read as a fragment, an escape or a bad URI
            return new io.walship.archive.ArchiveUri.Local(java.nio.file.Path.of(d.substring("file://".length()))).id();
        }
        try {
            return io.walship.archive.ArchiveUri.parse(d).id();
        } catch (RuntimeException e) {
            try {
                byte[] h = java.security.MessageDigest.getInstance("SHA-256")
                        .digest(d.getBytes(java.nio.charset.StandardCharsets.UTF_8));
                return java.util.HexFormat.of().formatHex(h, 0, 8);
            } catch (java.security.NoSuchAlgorithmException x) {
                throw new IllegalStateException(x);
            }
        }
    }

    /**
     * The largest segment: the shipper holds up to three segments' bodies at once (one read, one
     * compressing, one uploading) and a restore a few more, so larger ones cost memory, not speed.
     */
    public static final long MAX_SEGMENT_BYTES = 1L << 30;

    /** How long the shipper trusts its own view of the archive's end before it lists the archive again. */
    public static final java.time.Duration DEFAULT_ARCHIVE_RECHECK = java.time.Duration.ofMinutes(1);

    /**
     * The longest segment max age or archive recheck: a year is past any sensible RPO or listing
     * interval, and keeps both far inside what a run's nanosecond clock arithmetic can hold.
     */
    public static final java.time.Duration MAX_PACING = java.time.Duration.ofDays(365);

    /**
     * How segments are cut and compressed, and how often the archive is asked.
     *
     * @param segmentMaxAge  a run uploads a segment that is not full only once its oldest entry was
     *                       first seen this long ago (zero: every run uploads what is new, as a segment
     *                       of its own); full segments ({@code segmentBytes}) go at once
     * @param archiveRecheck how long a run may rely on the archive's end as this shipper left it
     *                       instead of listing the archive (zero: list before every run)
     */
    public record Options(Codec codec, long segmentBytes, java.time.Duration segmentMaxAge,
                          java.time.Duration archiveRecheck) {
        public Options {
            Objects.requireNonNull(codec, "codec");
            Objects.requireNonNull(segmentMaxAge, "segmentMaxAge");
            Objects.requireNonNull(archiveRecheck, "archiveRecheck");
            if (segmentBytes < 4096 || segmentBytes > MAX_SEGMENT_BYTES) {
                throw new IllegalArgumentException("segment size must be between 4096 bytes and 1GiB, got " + segmentBytes);
            }
            if (segmentMaxAge.isNegative() || segmentMaxAge.compareTo(MAX_PACING) > 0) {
                throw new IllegalArgumentException("the segment max age must be between 0s and 8760h (365 days), got " + segmentMaxAge);
            }
            if (archiveRecheck.isNegative() || archiveRecheck.compareTo(MAX_PACING) > 0) {
                throw new IllegalArgumentException("the archive recheck interval must be between 0s and 8760h (365 days), got "
                        + archiveRecheck);
            }
        }

        /** Ships what is new every run; lists the archive at most every {@link #DEFAULT_ARCHIVE_RECHECK}. */
        public Options(Codec codec, long segmentBytes) {
            this(codec, segmentBytes, java.time.Duration.ZERO, DEFAULT_ARCHIVE_RECHECK);
        }

        public static Options defaults() {
            return new Options(Codec.ZSTD, 16L << 20);
        }

        public Options withSegmentMaxAge(java.time.Duration age) {
            return new Options(codec, segmentBytes, age, archiveRecheck);
        }

        public Options withArchiveRecheck(java.time.Duration recheck) {
            return new Options(codec, segmentBytes, segmentMaxAge, recheck);
        }
    }

    /** What one run shipped. */
    public record Result(int segments, long entries, long walBytes, long objectBytes, long archivedUpTo) {
    }

    private final Path dataDir;
    private final ObjectStore store;
    private final Options options;
    private final WalMarks marks;
    private final DirectoryLock lock;
    private final String archiveId;
    private final boolean required;
    /**
     * The archive's last entry on a timeline as last read or uploaded (null: none yet), so a run
     * whose archive end has not moved compares it with the local WAL without downloading it again.
     * Guarded by this (set by the upload thread, read after the upload was awaited).
     */
    private ArchiveEnd verified;
    /**
     * The archive's end on a timeline as this shipper last listed it or moved it by an upload, so
     * runs need not list the archive while nobody else writes to it (null: list before the next
     * run). Guarded by this.
     */
    private Known known;
    /** The next run lists the archive whatever {@link #known} says (a run failed). Guarded by this. */
    private boolean stale;
    /**
     * A run of this shipper succeeded. Until then every run ships everything, as {@link #shipAll}:
     * how long an earlier shipper (killed before its graceful stop) held an entry is unknown, so a
     * leader restarting more often than {@link Options#segmentMaxAge} still archives each commit
     * within the max age and an interval. Used by the caller's thread only.
     */
    private boolean succeeded;
    /**
     * Segment keys this shipper created or tried to create since it last listed the archive: at the
     * next listing, any other segment past the end it listed is another writer's, and is checked
     * against the local WAL as the end is. Guarded by this.
     */
    private final java.util.Set<String> ownSinceListing = new java.util.HashSet<>();
    /**
     * When a run first saw WAL up to an LSN: the last LSN a run read, mapped to the time it was
     * first seen, for {@link Options#segmentMaxAge}. Only entries past the archive's end are kept.
     * Used by the caller's thread only.
     */
    private final java.util.TreeMap<Long, Long> firstSeen = new java.util.TreeMap<>();
    private final java.util.function.LongSupplier nanoClock;
    /** Timelines whose history (and ancestors') this shipper made sure the archive holds. Caller's thread only. */
    private final java.util.Set<Integer> historiesEnsured = new java.util.HashSet<>();
    /**
     * Promoted timelines this archive was found to restore as far as their fork ({@link ForkReach}): checked on
     * each run's listing until it passes, then not again in this process. Caller's thread only.
     */
    private final java.util.Set<Integer> forkReached = new java.util.HashSet<>();

    /**
     * The archive's end on {@code timeline}: {@code archived}, as listed at {@code listedAt}
     * ({@link #nanoClock}) or moved by this shipper's uploads since. For a promoted timeline with
     * nothing archived yet, {@code promotedStart} is where its shipping starts and {@code fork} its
     * fork ({@link #promotedStart}, {@link #forkOf}; -2 if it has no history record).
     */
    private record Known(int timeline, long archived, long listedAt, long listedEnd, long promotedStart, long fork) {
        Known moved(long to) {
            return new Known(timeline, to, listedAt, listedEnd, promotedStart, fork);
        }

        Known listedEnd(long end) {
            return new Known(timeline, archived, listedAt, end, promotedStart, fork);
        }
    }

    /** The archive's last entry on {@code timeline}: at {@code lsn}, in {@code key}, written by store {@code systemId}. */
    private record ArchiveEnd(int timeline, long lsn, long systemId, int entryTimeline, byte[] entry, String key) {
    }

    public WalShipper(Path dataDir, ObjectStore store, Options options) {
        this(dataDir, store, options, System::nanoTime);
    }

    /** As above, reading time from {@code nanoClock} (as {@link System#nanoTime}; tests move it by hand). */
    public WalShipper(Path dataDir, ObjectStore store, Options options, java.util.function.LongSupplier nanoClock) {
        this(dataDir, store, options, true, nanoClock);
    }

    /**
     * A shipper of a required archive ({@code required}: the store keeps the WAL until this archive
     * holds it, through {@code marks/archived.ID}, created at 0 here if missing so the WAL is kept
     * from the start) or an optional one (no mark: retention does not wait for it). Takes
     * {@code DATA/ship.ID.lock}: one shipper per archive and data directory.
     */
    public WalShipper(Path dataDir, ObjectStore store, Options options, boolean required) {
        this(dataDir, store, options, required, System::nanoTime);
    }

    public WalShipper(Path dataDir, ObjectStore store, Options options, boolean required,
                      java.util.function.LongSupplier nanoClock) {
        this.nanoClock = Objects.requireNonNull(nanoClock, "nanoClock");
        this.dataDir = dataDir;
        this.store = store;
        this.options = options;
        this.marks = new WalMarks(dataDir);
        this.archiveId = archiveId(store);
        this.required = required;
        ControlFile.read(dataDir); // fails clearly if this is not a data directory
        this.lock = DirectoryLock.acquire(dataDir.resolve(lockFile(archiveId)), "another shipper is running on "
                + dataDir + " for archive " + store.describe() + " (ID " + archiveId + ", DATA/" + lockFile(archiveId) + ")");
        try {
            if (required) {
                marks.createArchived(archiveId, 0);
            } else if (marks.archived(archiveId).isPresent()) {
                // an archive turned from required to optional: its frozen mark would go on holding the
                // WAL and the archive lag bound (a leader refusing writes for an optional archive).
                // Its lock is ours, so no other process ships it as required now
                LOG.warn("{} is an optional archive now: deleting its retention mark {}/marks/archived.{} (LSN {});"
                                + " the WAL is no longer kept for it", store.describe(), dataDir, archiveId,
                        io.walship.wal.Lsn.format(marks.archived(archiveId).getAsLong()));
                marks.removeArchived(archiveId);
            }
        } catch (RuntimeException e) {
            lock.close();
            throw e;
        }
    }

    /** This shipper's archive ID ({@link #archiveId(ObjectStore)}). */
    public String archiveId() {
        return archiveId;
    }

    /** Whether the store's WAL retention waits for this archive. */
    public boolean required() {
        return required;
    }

    /**
     * Lists the archive and returns its end on {@code timeline}. For a promoted timeline with nothing
     * archived yet it also reads the history record once: where the timeline's first shipment
     * starts — after its fork, since the entries up to the fork belong to the parent timeline and
     * its archive, unless the parent's archive ends before the fork (a follower promoted live holds
     * entries its dead leader never shipped): then from the parent's end, so those entries go to the
     * parent's timeline (a segment never spans two timelines) and a restore of the new timeline finds
     * no gap. Without a history record, or with nothing of the parent archived, from LSN 1 (as far
     * back as the WAL goes).
     */
    private Known list(int timeline, ArchiveListing listing) {
        long archived = listing.lastArchivedLsn(timeline);
        long start = 1;
        long fork = -2;
        if (archived == 0 && timeline != 1 && store.head(ArchiveLayout.historyKey(timeline)).isPresent()) {
            io.walship.archive.TimelineHistory h = io.walship.archive.TimelineHistory.readOne(store, timeline);
            fork = h.forkLsnValue();
            long parentEnd = listing.lastArchivedLsn(h.parent());
            if (parentEnd != 0) { // else the parent has no WAL archived at all: everything this WAL still holds goes
                start = parentEnd >= fork ? fork + 1 : parentEnd + 1;
            }
        }
        return new Known(timeline, archived, nanoClock.getAsLong(), archived, start, fork);
    }

    /**
     * Ships every entry the WAL holds beyond what the archive has; returns what it did. Entries
     * are read straight into the segment being built; at most two segments are handed on at once
     * (while one uploads, the next is compressed and the one after it is read and waits; one
     * upload in flight, in LSN order, so the archive never holds a segment without its
     * predecessor and the archived mark moves only past segments that exist). See {@link Uploads}.
     */
    public Result shipOnce() {
        return run(() -> null, true);
    }

    /** A run stopped before a segment because the gate refused; nothing after {@link #archivedUpTo} was uploaded. */
    public static final class GateClosedException extends WalshipException {
        private final long archivedUpTo;

        GateClosedException(String refusal, long archivedUpTo) {
            super(refusal);
            this.archivedUpTo = archivedUpTo;
        }

        /** The archive's end on this timeline once the run stopped (-1 or 0 if nothing is archived). */
        public long archivedUpTo() {
            return archivedUpTo;
        }
    }

    /**
     * As {@link #shipOnce()}, asking {@code gate} right before each segment's upload (a leader's lease:
     * a run that began while it held it must not go on uploading once it lapsed); a refusal (one line)
     * ends the run with {@link GateClosedException}: the segment it was asked for and every later one
     * stay unuploaded.
     */
    public Result shipOnce(java.util.function.Supplier<String> gate) {
        return run(gate, false);
    }

    /**
     * As {@link #shipOnce(java.util.function.Supplier)}, but a segment younger than
     * {@link Options#segmentMaxAge} is uploaded too: everything durable is shipped (a graceful stop).
     */
    public Result shipAll(java.util.function.Supplier<String> gate) {
        return run(gate, true);
    }

    /**
     * The archive's end as known, listed again if the view is missing (a new shipper), stale (a
     * failed run), of another timeline, or older than {@link Options#archiveRecheck}. {@code listed[0]}
     * gets the listing if one was made; {@code foreign} the segments of the timeline that appeared
     * past the end this shipper last listed and that it did not create (another writer's).
     */
    private Known archiveView(int timeline, ArchiveListing[] listed, java.util.List<ArchiveListing.SegmentInfo> foreign,
                              boolean mustList) {
        Known k;
        synchronized (this) {
            k = known;
            mustList |= stale;
        }
        long recheck = options.archiveRecheck().toNanos();
        if (!mustList && k != null && k.timeline() == timeline && recheck > 0
                && nanoClock.getAsLong() - k.listedAt() < recheck) {
            return k;
        }
        listed[0] = ArchiveListing.of(store);
        Known now = list(timeline, listed[0]);
        synchronized (this) {
            if (k != null && k.timeline() == timeline) {
                for (ArchiveListing.SegmentInfo seg : listed[0].segments(timeline)) {
                    if (seg.name().lastLsn() > k.listedEnd() && !ownSinceListing.contains(seg.name().key())) {
                        foreign.add(seg);
                    }
                }
            }
            if (foreign.isEmpty()) {
                ownSinceListing.clear();
                known = now;
            } else {
                // the run checks them first: until it did, the next listing looks past the old end again
                known = now.listedEnd(k.listedEnd());
            }
            stale = false;
        }
        return now;
    }

    private Result run(java.util.function.Supplier<String> gate, boolean all) {
        Objects.requireNonNull(gate, "gate");
        boolean everything = all || !succeeded;
        boolean ok = false;
        try {
            Result r;
            try {
                // a run that ships everything (a graceful stop, --once, a new shipper) lists: its last look at the archive
                r = runOnce(gate, everything, everything);
            } catch (ListFirst upload) {
                // about to upload on the archive's end as remembered: list first, so another writer's
                // segments since (a copy of this store) are checked before this one adds its own
                r = runOnce(gate, everything, true);
            }
            succeeded = true;
            ok = true;
            if (required && r.archivedUpTo() > 0) {
                // the archive's end as this run checked it (no splice): its mark moves there even when
                // nothing was uploaded (a mark created at 0 for an archive that already holds the WAL)
                marks.setArchived(archiveId, r.archivedUpTo());
            }
            return r;
        } finally {
            if (!ok) {
                // a failed upload may have created its object or not, a closed gate means another
                // leader may write, a splice means another writer: the next run lists the archive again
                synchronized (this) {
                    stale = true;
                }
            }
        }
    }

    /** Whether the local WAL holds any entry (a local read, no request). */
    private boolean walHoldsEntries() {
        try (WalReader r = WalReader.open(dataDir)) {
            return r.firstAvailableLsn() >= 0;
        }
    }

    /** A run is about to upload on the archive's end as remembered, not as listed: it starts over from a listing. */
    private static final class ListFirst extends RuntimeException {
        ListFirst() {
            super("the run lists the archive before it uploads", null, false, false);
        }
    }

    private Result runOnce(java.util.function.Supplier<String> gate, boolean all, boolean mustList) {
        ControlFile control = ControlFile.read(dataDir);
        int timeline = control.timeline();
        if (timeline != 1 && !control.standby() && !historiesEnsured.contains(timeline)) {
            // before the listing: it reads the timeline's history to know where the shipping starts.
            // From the data directory, never from another archive (a down one would block this one)
            LocalHistories.ensure(store, dataDir, timeline);
            LocalHistories.requireBaseKept(store, dataDir, timeline);
            historiesEnsured.add(timeline);
        }
        ArchiveListing[] listed = new ArchiveListing[1];
        java.util.List<ArchiveListing.SegmentInfo> foreign = new java.util.ArrayList<>();
        // until this archive was found to reach the timeline's fork, every run that has WAL to ship lists (ForkReach
        // reads that listing); a run whose WAL is empty (a promoted store before its first write) ships nothing and
        // checks nothing, so it goes on the remembered end as any idle run: no request
        boolean checkFork = timeline != 1 && !control.standby() && !forkReached.contains(timeline);
        Known view = archiveView(timeline, listed, foreign, mustList || (checkFork && walHoldsEntries()));
        // only a run that uploads nothing may go on the remembered end: one listing per upload run
        boolean remembered = listed[0] == null;
        long archived = view.archived();
        if (control.standby()) {
            // A standby restored from the archive (not promoted) writes nothing of its own: its WAL is
            // the archive's history up to its restore point, often below the archive's end (PITR),
            // which is no splice. Nothing to ship until it is promoted onto a timeline of its own.
            LOG.debug("{} is a standby restored from the archive: nothing of its own to ship", dataDir);
            return new Result(0, 0, 0, 0, archived);
        }
        long entries = 0;
        long walBytes = 0;
        Segment.Builder held = null;
        Uploads uploads = new Uploads(gate, archived, remembered);
        Throwable failed = null; // what ended the reading loop: an upload's failure must not hide it
        try (WalReader reader = WalReader.open(dataDir)) {
            for (ArchiveListing.SegmentInfo seg : foreign) {
                // Written by someone else since this shipper last listed: the same history (a promoted
                // follower shipping its parent's last entries) or a splice. Its last entry must be ours.
                LOG.warn("segment {} appeared in the archive since it was last listed and was not shipped from here;"
                        + " checking that it holds this store's history", seg.name().key());
                checkSameHistory(segmentEnd(seg.name().key(), timeline, seg.name().lastLsn()), control, reader, true);
            }
            if (!foreign.isEmpty()) {
                synchronized (this) {
                    ownSinceListing.clear();
                    known = known.listedEnd(view.listedEnd());
                }
            }
            if (archived > 0) {
                // The archive's end is read again only when it moved; the local half of the check runs
                // every time, because the WAL can change under a shipper that lives on (a data
                // directory put back to an older copy and written on, under the scheduler's ship job).
                ArchiveEnd last;
                synchronized (this) {
                    last = verified;
                }
                boolean fresh = last == null || last.timeline() != timeline || last.lsn() != archived;
                if (fresh && listed[0] == null) {
                    // not expected (the view and the end move together), but then only a listing can say
                    listed[0] = ArchiveListing.of(store);
                    if (listed[0].lastArchivedLsn(timeline) != archived) {
                        throw new WalshipException("the archive's end on timeline " + timeline + " is not where this"
                                + " shipper left it (LSN " + Lsn.format(archived) + "); the next run starts from a new listing");
                    }
                }
                ArchiveEnd end = fresh ? archiveEnd(listed[0], timeline, archived) : last;
                checkSameHistory(end, control, reader, fresh);
                synchronized (this) {
                    verified = end;
                }
            } else if (listed[0] != null) {
                requireNoOtherStoresWal(listed[0], control);
            }
            long first = reader.firstAvailableLsn();
            if (first < 0) {
                return new Result(0, 0, 0, 0, archived);
            }
            if (checkFork) {
                if (listed[0] == null) {
                    throw new ListFirst(); // the WAL was empty when the run began and got its first entry since
                }
                // before anything of the promoted timeline goes up: the archive must restore it as far as its fork
                ForkReach.Verdict v = ForkReach.check(listed[0], ForkReach.localHistories(dataDir, timeline), timeline,
                        archived, view.promotedStart(), first, store.describe(), dataDir);
                if (v.why() != null) {
                    throw new WalshipException(v.why());
                }
                if (v.reached()) {
                    forkReached.add(timeline);
                } else {
                    // checked again on the next run's listing, which holds what this one ships
                    LOG.info("{} lacks timeline {}'s parent WAL up to its fork: shipping it from this WAL first",
                            store.describe(), timeline);
                }
            }
            long start = archived + 1;
            if (archived == 0 && timeline != 1) {
                start = Math.max(start, view.promotedStart());
            }
            if (start < first) {
                if (archived > 0) {
                    throw new WalshipException("the archive ends at LSN " + Lsn.format(archived)
                            + " but the leader's WAL now starts at " + Lsn.format(first) + ": LSNs in between are lost"
                            + " to the archive; take a new base backup so restores can start after the gap");
                }
                if (timeline != 1) {
                    // nothing of the promoted timeline archived yet, and the WAL starts past where its shipment should:
                    // the same hole as above unless a base backup in the archive lets a restore start after it
                    if (listed[0] == null) {
                        throw new ListFirst();
                    }
                    String hole = ForkReach.lateStart(listed[0], ForkReach.localHistories(dataDir, timeline), timeline,
                            first, store.describe(), dataDir);
                    if (hole != null) {
                        throw new WalshipException(hole);
                    }
                }
                if (view.fork() + 1 == first) {
                    LOG.info("timeline {} starts in the archive at LSN {}, after its fork", timeline, Lsn.format(first));
                } else {
                    LOG.warn("the archive of timeline {} is empty and the WAL starts at LSN {}: archiving from there",
                            timeline, Lsn.format(first));
                }
                start = first;
            }
            reader.seek(start).headersOnly();
            // each entry is read straight into the segment body being built (WalReader.Sink)
            int sizeHint = (int) Math.min(Integer.MAX_VALUE - 16, options.segmentBytes() + (64 << 10));
            Segment.Builder b = null;
            Segment.Builder[] into = new Segment.Builder[1];
            WalReader.Sink sink = new WalReader.Sink() {
                @Override
                public byte[] room(int len) {
                    return into[0].room(len);
                }

                @Override
                public int offset() {
                    return into[0].entryOffset();
                }
            };
            int timelineNow = control.timeline();
            WalEntry e;
            while (true) {
                if (b == null) {
                    b = new Segment.Builder(control.systemId(), timelineNow, options.codec(), sizeHint);
                }
                into[0] = b;
                if ((e = reader.next(sink)) == null) {
                    break;
                }
                int len = e.encodedSize();
                if (e.timeline() != b.timeline()) {
                    // a segment never spans two timelines: the entry moves to a segment of its own timeline
                    int at = b.entryOffset();
                    byte[] moved = java.util.Arrays.copyOfRange(b.room(len), at, at + len);
                    if (b.entries() > 0) {
                        uploads.submit(b);
                    }
                    b = new Segment.Builder(control.systemId(), e.timeline(), options.codec(), sizeHint);
                    b.add(e.lsn(), e.commitTimeMicros(), moved);
                } else {
                    b.added(e.lsn(), e.commitTimeMicros(), len);
                }
                timelineNow = e.timeline();
                entries++;
                walBytes += len;
                if (b.bodyBytes() >= options.segmentBytes()) {
                    uploads.submit(b);
                    b = null;
                }
            }
            if (b != null && b.entries() > 0) {
                long now = nanoClock.getAsLong();
                firstSeen.putIfAbsent(b.lastLsn(), now);
                long seen = firstSeen.ceilingEntry(b.firstLsn()).getValue();
                long maxAge = options.segmentMaxAge().toNanos();
                if (all || maxAge == 0 || now - seen >= maxAge) {
                    uploads.submit(b);
                } else {
                    // not full and not old enough: read again by a later run (the WAL keeps it until archived)
                    held = b;
                }
            }
        } catch (RuntimeException | Error t) {
            failed = t;
            throw t;
        } finally {
            uploads.finish(failed);
        }
        long end = uploads.segments > 0 ? uploads.lastLsn : archived;
        firstSeen.headMap(end, true).clear(); // what is archived needs no age
        if (held != null) {
            entries -= held.entries();
            walBytes -= held.bodyBytes();
        }
        return new Result(uploads.segments, entries, walBytes, uploads.objectBytes, end);
    }

    /** Segments compressed at once, besides the one being read; they are uploaded one at a time, in LSN order. */
    static final int COMPRESSING = 2;

    /*
     * The pipeline's threads live as long as the shipper, not one run: a thread that dies after
     * touching Chronicle (these do) leaves about 0.6 KiB in Chronicle's thread-local registry that every
     * later queue open walks (CleaningThreadLocal orphan tracking; CleaningThread does not avoid it),
     * so fresh threads per run made a long-lived leader's or scheduler's every run slower and its
     * heap larger without bound (ShipThreadsTest). Shut down by close().
     */
    private final java.util.concurrent.ExecutorService compress = java.util.concurrent.Executors.newFixedThreadPool(
            COMPRESSING, r -> {
                Thread t = new Thread(r, "walship-ship-compress");
                t.setDaemon(true);
                return t;
            });
    private final java.util.concurrent.ExecutorService upload = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "walship-ship-upload");
        t.setDaemon(true);
        return t;
    });

    /**
     * The pipeline behind a run: the caller's thread reads segment N+2 while N and N+1 are
     * compressed on two threads; one upload thread creates the segments strictly in LSN order,
     * one at a time, so the archive never holds a segment whose predecessor of this run is missing
     * (no hole for a restore to stop at, nor for the next run's resume point, the archive's last
     * LSN, to jump over), and the archived mark only moves past segments that exist. After a
     * failed upload (or a closed gate) no later segment of the run is uploaded; the failure
     * surfaces in {@link #submit} or {@link #finish}.
     */
    private final class Uploads {
        private final java.util.ArrayDeque<java.util.concurrent.Future<?>> pending = new java.util.ArrayDeque<>();
        private final java.util.function.Supplier<String> gate;
        private final long archivedBefore;
        /** Set by the upload thread when an upload failed or the gate closed: nothing after it is uploaded. */
        private volatile boolean stopped;
        // written by the upload thread only; read by the caller after the futures were awaited
        int segments;
        long objectBytes;
        long lastLsn;

        /** The run's view of the archive's end was not listed: it must list before its first upload. */
        final boolean remembered;

        Uploads(java.util.function.Supplier<String> gate, long archivedBefore, boolean remembered) {
            this.gate = gate;
            this.archivedBefore = archivedBefore;
            this.remembered = remembered;
        }

        void submit(Segment.Builder b) {
            if (remembered) {
                throw new ListFirst();
            }
            while (pending.size() >= COMPRESSING) {
                awaitOldest();
            }
            if (stopped) {
                awaitAll(); // throws the failure that stopped the uploads
            }
            byte[] lastEntry = b.lastEntry();
            java.util.concurrent.Future<byte[]> built = compress.submit(b::build);
            pending.add(upload.submit(() -> {
                if (stopped) {
                    built.cancel(false);
                    return null; // an earlier segment failed: never upload past a segment that does not exist
                }
                try {
                    byte[] bytes;
                    try {
                        bytes = built.get();
                    } catch (java.util.concurrent.ExecutionException e) {
                        Throwable c = e.getCause();
                        if (c instanceof RuntimeException || c instanceof Error) {
                            throw c;
                        }
                        throw new WalshipException("compress segment " + b.firstLsn() + ".." + b.lastLsn() + ": " + c, c);
                    }
                    // asked right before the upload, once the segment is built: a lease that lapsed while
                    // this segment was compressed stops it
                    String refusal = gate.get();
                    if (refusal != null) {
                        throw new GateClosedException(refusal, segments > 0 ? lastLsn : archivedBefore);
                    }
                    objectBytes += upload(b.header(), bytes, lastEntry);
                    segments++;
                    lastLsn = b.lastLsn();
                    return null;
                } catch (RuntimeException | Error | InterruptedException t) {
                    stopped = true;
                    throw t;
                } catch (Throwable t) {
                    stopped = true;
                    throw new WalshipException("shipping failed: " + t, t);
                }
            }));
        }

        private void awaitOldest() {
            java.util.concurrent.Future<?> f = pending.poll();
            if (f == null) {
                return;
            }
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                stopped = true;
                throw new WalshipException("interrupted while shipping");
            } catch (java.util.concurrent.ExecutionException e) {
                Throwable c = e.getCause();
                if (c instanceof RuntimeException re) {
                    throw re;
                }
                if (c instanceof Error err) {
                    throw err;
                }
                throw new WalshipException("shipping failed: " + c, c);
            }
        }

        private void awaitAll() {
            while (!pending.isEmpty()) {
                awaitOldest();
            }
        }

        /** Awaits the uploads; an upload's failure is added to {@code failed} (what ended the run first), if any. */
        void finish(Throwable failed) {
            try {
                awaitAll();
            } catch (RuntimeException | Error e) {
                if (failed == null) {
                    throw e;
                }
                if (e != failed) {
                    failed.addSuppressed(e);
                }
            } finally {
                stopped = true; // uploads not awaited (an earlier one failed) are skipped
            }
        }
    }

    /** Creates the segment object, then moves the archived mark. Returns the object's size. */
    private long upload(Segment.Header h, byte[] bytes, byte[] lastEntry) {
        String key = new ArchiveLayout.SegmentName(h.timeline(), h.firstLsn(), h.lastLsn()).key();
        synchronized (this) {
            ownSinceListing.add(key); // before the create: its outcome may stay unknown
        }
        try {
            if (!store.createOrSame(key, bytes)) {
                LOG.info("segment {} was already archived with the same bytes (an earlier upload); keeping it", key);
            }
        } catch (ObjectExistsException e) {
            throw new ArchiveSpliceException("segment " + key + " already exists in the archive with other content"
                    + " (system id " + systemIdOf(key) + ", this store is " + hex(h.systemId()) + "): another store or"
                    + " history is shipping to this archive's timeline " + h.timeline());
        }
        synchronized (this) {
            verified = new ArchiveEnd(h.timeline(), h.lastLsn(), h.systemId(), h.timeline(), lastEntry, key);
            // the archive's end moved by our own upload: no need to list it to know where it is now.
            // A segment of another timeline (WAL from before a promotion) moves that timeline's end,
            // which the view does not hold: the next run lists.
            if (known != null && known.timeline() == h.timeline()) {
                known = known.moved(h.lastLsn());
            } else {
                stale = true;
            }
        }
        if (required) {
            marks.setArchived(archiveId, h.lastLsn());
        }
        LOG.info("archived {} ({} entries, {} -> {} bytes)", key, h.entryCount(), h.bodyLength(), bytes.length);
        return bytes.length;
    }

    /** Reads the archive's last entry on {@code timeline}, at {@code archived}. */
    private ArchiveEnd archiveEnd(ArchiveListing listing, int timeline, long archived) {
        ArchiveListing.SegmentInfo last = listing.segments(timeline).stream()
                .filter(s -> s.name().lastLsn() == archived).findFirst().orElseThrow();
        return segmentEnd(last.name().key(), timeline, archived);
    }

    /** Reads the last entry of segment {@code key}, which ends at {@code lsn} on {@code timeline}. */
    private ArchiveEnd segmentEnd(String key, int timeline, long archived) {
        try (java.io.InputStream in = store.get(key)) {
            byte[] obj = in.readAllBytes();
            Segment.Header header = Segment.readHeader(new ByteArrayInputStream(obj), key);
            java.util.List<byte[]> entries = Segment.readEntries(new ByteArrayInputStream(obj), key);
            return new ArchiveEnd(timeline, archived, header.systemId(), header.timeline(), entries.get(entries.size() - 1),
                    key);
        } catch (IOException e) {
            throw new UncheckedIOException("read " + key + " to check the archive's history", e);
        }
    }

    /**
     * Checks that the archive's last entry on the timeline ({@code end}) is this store's.
     *
     * @param fresh whether {@code end} was just read from the archive (a note is logged only then)
     * @throws ArchiveSpliceException naming both histories if it is not
     */
    private void checkSameHistory(ArchiveEnd end, ControlFile control, WalReader reader, boolean fresh) {
        int timeline = control.timeline();
        long archived = end.lsn();
        byte[] entry = end.entry();
        String archive = "archive: system id " + (end.systemId() == Segment.NO_SYSTEM_ID ? "unknown (format 1)"
                : hex(end.systemId())) + ", timeline " + end.entryTimeline() + ", LSN " + Lsn.format(archived)
                + ", entry CRC32C " + crcHex(entry) + " (" + end.key() + ")";
        String local = "this store: system id " + hex(control.systemId()) + ", timeline " + timeline;
        if (end.systemId() != Segment.NO_SYSTEM_ID && end.systemId() != control.systemId()) {
            throw otherStore(archive, local);
        }
        long durable = reader.durableLsn();
        long first = reader.firstAvailableLsn();
        if (durable < archived && !reader.durableLsnSettled()) {
            // After a power loss the durable point may lag behind what was synced (and archived)
            // until the leader's recovery rewrites it: nothing to decide yet, and nothing past the
            // durable point is shipped meanwhile. Not fatal; the next run checks again.
            throw new WalshipException("the archive ends at LSN " + Lsn.format(archived) + " on timeline " + timeline
                    + " but this store's WAL is known durable only up to LSN " + Lsn.format(durable) + ", as its"
                    + " writer left it before the machine restarted: waiting for the store to be opened (its recovery"
                    + " settles the durable point) before comparing histories");
        }
        if (durable < archived) {
            throw splice(archive, local + ", WAL durable only up to LSN " + Lsn.format(durable)
                    + " (its history was rebuilt or rewound)");
        }
        if (first >= 0 && first <= archived) {
            try {
                reader.seek(archived).headersOnly();
            } catch (io.walship.wal.WalNoLongerAvailableException gone) {
                first = gone.firstAvailable(); // retention deleted it since: archived, so no splice to look for
            }
        }
        if (first < 0 || first > archived) {
            if (fresh) {
                LOG.info("the archive's last entry (LSN {}) is no longer in the local WAL (it starts at {}); checked the"
                        + " system id only", Lsn.format(archived), first < 0 ? "-" : Lsn.format(first));
            }
            return;
        }
        WalEntry e = reader.next();
        if (e == null) {
            throw splice(archive, local + ", no durable WAL entry at LSN " + Lsn.format(archived));
        }
        byte[] mine = reader.lastEntryBytes();
        if (e.timeline() != end.entryTimeline() || !java.util.Arrays.equals(mine, entry)) {
            throw splice(archive, local + ", entry at LSN " + Lsn.format(archived) + " on timeline " + e.timeline()
                    + " has CRC32C " + crcHex(mine));
        }
    }

    /**
     * Nothing of this timeline is archived yet, so there is no last entry to compare: the archive's
     * WAL on other timelines must still be of this store ({@link ArchiveOwner}: the first segments
     * that name their store), else this store (a promoted one, or one whose timeline the archive
     * lacks) would put its WAL into another store's archive. A few ranged reads per run until this
     * timeline's first segment is up.
     */
    private void requireNoOtherStoresWal(ArchiveListing listing, ControlFile control) {
        java.util.List<String> keys = new java.util.ArrayList<>();
        for (int t : listing.timelines()) {
            for (ArchiveListing.SegmentInfo seg : listing.segments(t)) {
                if (keys.size() < ArchiveOwner.PROBE) {
                    keys.add(seg.name().key());
                }
            }
        }
        ArchiveOwner.of(store, keys).filter(o -> o.systemId() != control.systemId()).ifPresent(o -> {
            throw otherStore("archive: system id " + hex(o.systemId()) + " (" + o.key() + ")", "this store: system id "
                    + hex(control.systemId()) + ", timeline " + control.timeline() + ", nothing of it archived");
        });
    }

    private static ArchiveSpliceException otherStore(String archive, String local) {
        // the same first words as every splice (what operators' alerts match), another store's hint
        return ArchiveSpliceException.otherStore("the archive holds another history than this store, shipping on would"
                + " splice them; " + archive + "; " + local + " (another store's archive); "
                + ArchiveSpliceException.OTHER_STORE_HINT);
    }

    private static ArchiveSpliceException splice(String archive, String local) {
        return new ArchiveSpliceException("the archive holds another history than this store, shipping on would splice"
                + " them; " + archive + "; " + local + "; " + ArchiveSpliceException.HINT);
    }

    private String systemIdOf(String key) {
        try (java.io.InputStream in = store.getRange(key, 0, Segment.HEADER_SIZE)) {
            long id = Segment.readHeader(in, key).systemId();
            return id == Segment.NO_SYSTEM_ID ? "unknown (format 1)" : hex(id);
        } catch (IOException | RuntimeException e) {
            return "unreadable (" + e.getMessage() + ")";
        }
    }

    private static String hex(long systemId) {
        return String.format("%016x", systemId);
    }

    private static String crcHex(byte[] entry) {
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(entry);
        return String.format("%08x", (int) crc.getValue());
    }

    @Override
    public void close() {
        upload.shutdown();
        compress.shutdown();
        lock.close();
    }
}
