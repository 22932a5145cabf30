package io.walship.archive;

import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The archive's object keys — the only place that knows them (docs/FORMAT.md, "Archive
 * layout"). LSNs are 16 upper-case hex digits and timelines 8, so that lexical order is
 * numeric order and a listing is already sorted:
 *
 * <pre>
 * timelines/TTTTTTTT.history                              which timeline forked from which, where
 * wal/TTTTTTTT/FFFFFFFFFFFFFFFF-LLLLLLLLLLLLLLLL.seg       WAL entries FIRST..LAST of timeline T
 * backups/TTTTTTTT-LLLLLLLLLLLLLLLL/image.CODEC           base backup at LSN L (page image)
 * backups/TTTTTTTT-LLLLLLLLLLLLLLLL/manifest.json         written last: no manifest, no backup
 * pins/TTTTTTTT-LLLLLLLLLLLLLLLL.json                     that backup is pinned: retention keeps it
 * retention/TTTTTTTT-LLLLLLLLLLLLLLLL.json                retention deletes WAL on timeline T's path only
 *                                                         below LSN L (a retention watermark)
 * lease/leader.json                                       the leader lease (the one mutable document)
 * </pre>
 *
 * Nothing in the archive is a mutable index: everything derived (coverage, gaps, the newest
 * backup) is rebuilt from a listing. Stateless.
 */
public final class ArchiveLayout {
    public static final String TIMELINES = "timelines/";
    public static final String WAL = "wal/";
    public static final String BACKUPS = "backups/";
    /**
     * Records of unfinished resumable uploads to S3 (docs/FORMAT.md "Upload records"):
     * {@code uploads/<key>} holds the first {@link ObjectStore#PENDING_HEAD_BYTES} bytes of the upload of
     * {@code <key>}, written before its first part and deleted once it is complete or aborted.
     */
    public static final String UPLOADS = "uploads/";
    public static final String MANIFEST = "manifest.json";
    /** Pinned backups ({@code BackupPin}, docs/FORMAT.md "Backup pins"): one object per pin, deleted to unpin. */
    public static final String PINS = "pins/";
    /**
     * Retention watermarks ({@code RetentionWatermark}, docs/FORMAT.md "Retention watermarks"): where
     * retention may have deleted WAL, which is what lets verify tell a pruned stretch from a lost one.
     */
    public static final String RETENTION = "retention/";
    /**
     * Where the previous walship kept pruned-WAL records (replaced by {@link #RETENTION}): a prune deletes
     * what it finds there, verify ignores it.
     */
    public static final String LEGACY_PRUNED = "pruned/";
    public static final String LEASE_DIR = "lease/";
    /** The leader lease ({@code LeaderLease}, docs/FORMAT.md "The leader lease"). */
    public static final String LEASE = LEASE_DIR + "leader.json";
    /** Followers' status objects for automatic failover ({@code FollowerStatus}, docs/FORMAT.md "Follower status"). */
    public static final String FOLLOWERS = "followers/";
    /**
     * Where the only replaceable objects live ({@link ObjectStore#replaceIfMatch}); everything else
     * in the archive is immutable once written.
     */
    public static final java.util.List<String> MUTABLE_PREFIXES = java.util.List.of(LEASE_DIR, FOLLOWERS);

    private static final Pattern SEGMENT = Pattern.compile("wal/([0-9A-F]{8})/([0-9A-F]{16})-([0-9A-F]{16})\\.seg");
    private static final Pattern BACKUP = Pattern.compile("backups/([0-9A-F]{8})-([0-9A-F]{16})/(.+)");
    private static final Pattern PIN = Pattern.compile("pins/([0-9A-F]{8})-([0-9A-F]{16})\\.json");
    private static final Pattern WATERMARK = Pattern.compile("retention/([0-9A-F]{8})-([0-9A-F]{16})\\.json");
    private static final Pattern BACKUP_ID = Pattern.compile("(?:backups/)?([0-9A-F]{8})-([0-9A-F]{16})/?");
    private static final Pattern HISTORY = Pattern.compile("timelines/([0-9A-F]{8})\\.history");

    /** A WAL segment object's name: entries {@code firstLsn..lastLsn} of {@code timeline}. */
    public record SegmentName(int timeline, long firstLsn, long lastLsn) {
        public SegmentName {
            if (timeline < 1 || firstLsn < 1 || lastLsn < firstLsn) {
                throw new IllegalArgumentException("bad segment range: timeline " + timeline + " LSN " + firstLsn
                        + ".." + lastLsn);
            }
        }

        public String key() {
            return WAL + timelineHex(timeline) + "/" + lsnHex(firstLsn) + "-" + lsnHex(lastLsn) + ".seg";
        }
    }

    /** A base backup's directory: the page image at {@code lsn} on {@code timeline}. */
    public record BackupName(int timeline, long lsn) {
        public String dir() {
            return BACKUPS + timelineHex(timeline) + "-" + lsnHex(lsn) + "/";
        }

        public String manifestKey() {
            return dir() + MANIFEST;
        }

        public String imageKey(String codec) {
            return dir() + "image." + codec;
        }

        /** The pin object of this backup ({@code pins/T-L.json}). */
        public String pinKey() {
            return PINS + timelineHex(timeline) + "-" + lsnHex(lsn) + ".json";
        }
    }

    /**
     * The backup an operator names as {@code archive list} and {@code archive prune} print it:
     * {@code backups/TTTTTTTT-LLLLLLLLLLLLLLLL/}, with or without {@code backups/} and the slash.
     *
     * @throws IllegalArgumentException if the text is not such a name
     */
    public static BackupName parseBackupName(String text) {
        Matcher m = BACKUP_ID.matcher(text == null ? "" : text.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("not a backup name: '" + text + "' (expected backups/TTTTTTTT-LLLLLLLLLLLLLLLL/"
                    + " as 'walship archive list' prints it: 8 and 16 upper-case hex digits)");
        }
        BackupName b = new BackupName(Integer.parseUnsignedInt(m.group(1), 16), Long.parseUnsignedLong(m.group(2), 16));
        if (b.timeline() < 1 || b.lsn() < 0) {
            throw new IllegalArgumentException("not a backup name: '" + text + "' (timeline 0 or a negative LSN)");
        }
        return b;
    }

    /** The backup a pin object is for. */
    public static Optional<BackupName> parsePin(String key) {
        Matcher m = PIN.matcher(key);
        return m.matches() ? Optional.of(new BackupName(Integer.parseUnsignedInt(m.group(1), 16),
                Long.parseUnsignedLong(m.group(2), 16))) : Optional.empty();
    }

    /** A retention watermark: retention deletes WAL on {@code timeline}'s path only below {@code windowStart}. */
    public record WatermarkName(int timeline, long windowStart) {
        public WatermarkName {
            if (timeline < 1 || windowStart < 1) {
                throw new IllegalArgumentException("bad watermark: timeline " + timeline + " LSN " + windowStart);
            }
        }

        public String key() {
            return RETENTION + timelineHex(timeline) + "-" + lsnHex(windowStart) + ".json";
        }
    }

    /** The timeline and window start a watermark's key names. */
    public static Optional<WatermarkName> parseWatermark(String key) {
        Matcher m = WATERMARK.matcher(key);
        if (!m.matches()) {
            return Optional.empty();
        }
        try {
            return Optional.of(new WatermarkName(Integer.parseUnsignedInt(m.group(1), 16),
                    Long.parseUnsignedLong(m.group(2), 16)));
        } catch (IllegalArgumentException e) {
            return Optional.empty(); // timeline 0 or LSN 0 (or negative): not a watermark
        }
    }

    private ArchiveLayout() {
    }

    public static String lsnHex(long lsn) {
        return String.format(Locale.ROOT, "%016X", lsn);
    }

    public static String timelineHex(int timeline) {
        return String.format(Locale.ROOT, "%08X", timeline);
    }

    public static String historyKey(int timeline) {
        return TIMELINES + timelineHex(timeline) + ".history";
    }

    public static Optional<SegmentName> parseSegment(String key) {
        Matcher m = SEGMENT.matcher(key);
        if (!m.matches()) {
            return Optional.empty();
        }
        return Optional.of(new SegmentName(Integer.parseUnsignedInt(m.group(1), 16),
                Long.parseUnsignedLong(m.group(2), 16), Long.parseUnsignedLong(m.group(3), 16)));
    }

    /** The backup a key belongs to (any file in its directory). */
    public static Optional<BackupName> parseBackup(String key) {
        Matcher m = BACKUP.matcher(key);
        if (!m.matches()) {
            return Optional.empty();
        }
        return Optional.of(new BackupName(Integer.parseUnsignedInt(m.group(1), 16), Long.parseUnsignedLong(m.group(2), 16)));
    }

    public static boolean isManifest(String key) {
        return parseBackup(key).isPresent() && key.endsWith("/" + MANIFEST);
    }

    /** Whether {@code key} may be replaced (a document under {@link #MUTABLE_PREFIXES}). */
    public static boolean isMutable(String key) {
        return MUTABLE_PREFIXES.stream().anyMatch(key::startsWith);
    }

    public static Optional<Integer> parseHistory(String key) {
        Matcher m = HISTORY.matcher(key);
        return m.matches() ? Optional.of(Integer.parseUnsignedInt(m.group(1), 16)) : Optional.empty();
    }
}
