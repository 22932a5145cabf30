package io.walship.archive;

import java.io.InputStream;

/**
 * A base backup's manifest ({@code backups/T-L/manifest.json}), written after its image: its
 * presence is what makes the backup exist. JSON; see docs/FORMAT.md ("Base backup").
 *
 * @param formatVersion   of this manifest (1)
 * @param imageFormat     format version of the snapshot image inside
 * @param lsn             the image is the store exactly at this LSN
 * @param timeline        timeline at that LSN
 * @param systemId        the store's identity (16 hex digits)
 * @param commitTime      commit time of the LSN, ISO-8601 UTC
 * @param commitTimeMicros same, µs since the epoch
 * @param pageCount       pages in the image
 * @param imageKey        the image object's key (unique per attempt, so a crashed attempt never
 *                        blocks the next one from creating its own)
 * @param codec           compression of the image object
 * @param imageBytes      uncompressed image size
 * @param objectBytes     compressed object size
 * @param imageSha256     SHA-256 of the uncompressed image
 * @param digestSha256    the state digest (content hash) at {@code lsn}
 * @param digestPairs     key/value pairs counted by the digest
 * @param createdAt       when the backup finished, ISO-8601 UTC
 * @param kind            null for a full backup (format version 1); {@code "incremental"} (format version 2)
 *                        for one whose image is an incremental image against {@code parent}: then
 *                        {@code imageKey}, {@code imageBytes}, {@code objectBytes} and {@code imageSha256}
 *                        describe that incremental image, and {@code pageCount} the composed image
 * @param parent          the backup an incremental one is built on (null for a full one)
 * @param fullImageSha256 SHA-256 of the full snapshot image the composed chain must reproduce (incremental only)
 * @param fullImageBytes  size of that full image (incremental only)
 * @param incrementalPages pages the incremental image holds (incremental only)
 */
@com.fasterxml.jackson.annotation.JsonInclude(com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL)
public record BackupManifest(int formatVersion, int imageFormat, String lsn, int timeline, String systemId,
                             String commitTime, long commitTimeMicros, int pageCount, String imageKey, String codec,
                             long imageBytes, long objectBytes, String imageSha256, String digestSha256,
                             long digestPairs, String createdAt, String kind, Parent parent, String fullImageSha256,
                             Long fullImageBytes, Integer incrementalPages) {
    /** Format version of a full backup's manifest. */
    public static final int FORMAT_VERSION = 1;
    /**
     * Format version of an incremental backup's manifest: a walship that reads only version 1 refuses it
     * (a corrupt object, exit 3) instead of restoring its incremental image as if it were a full one.
     */
    public static final int INCREMENTAL_FORMAT_VERSION = 2;
    public static final String INCREMENTAL = "incremental";

    /**
     * The backup an incremental one is built on: its LSN and timeline (so its manifest key), the SHA-256
     * of the full image it stands for (its {@code imageSha256} if full, its {@code fullImageSha256} if
     * incremental), and its page count.
     */
    public record Parent(String lsn, int timeline, String imageSha256, int pageCount) {
        public ArchiveLayout.BackupName name() {
            return new ArchiveLayout.BackupName(timeline, Long.parseUnsignedLong(lsn, 16));
        }
    }

    /** A full backup's manifest (format version 1). */
    public BackupManifest(int formatVersion, int imageFormat, String lsn, int timeline, String systemId,
                          String commitTime, long commitTimeMicros, int pageCount, String imageKey, String codec,
                          long imageBytes, long objectBytes, String imageSha256, String digestSha256,
                          long digestPairs, String createdAt) {
        this(formatVersion, imageFormat, lsn, timeline, systemId, commitTime, commitTimeMicros, pageCount, imageKey, codec,
                imageBytes, objectBytes, imageSha256, digestSha256, digestPairs, createdAt, null, null, null, null, null);
    }

    @com.fasterxml.jackson.annotation.JsonIgnore
    public boolean incremental() {
        return parent != null;
    }

    /** The SHA-256 of the full image this backup stands for (composed, for an incremental one). */
    @com.fasterxml.jackson.annotation.JsonIgnore
    public String fullImageSha() {
        return incremental() ? fullImageSha256 : imageSha256;
    }

    /** This backup as the parent of an incremental one. */
    public Parent asParent() {
        return new Parent(lsn, timeline, fullImageSha(), pageCount);
    }

    public byte[] toJson() {
        return ArchiveJson.write(this);
    }

    /** Reads and checks a manifest; a broken one is a corrupt object named by {@code key}. */
    public static BackupManifest read(InputStream in, String key) {
        BackupManifest m = ArchiveJson.read(in, BackupManifest.class, key, "manifest");
        if (m.formatVersion() == INCREMENTAL_FORMAT_VERSION) {
            Parent p = m.parent();
            if (!INCREMENTAL.equals(m.kind()) || p == null || p.lsn() == null || !p.lsn().matches("[0-9A-F]{16}")
                    || p.timeline() < 1 || p.pageCount() < 0 || p.imageSha256() == null
                    || !p.imageSha256().matches("[0-9a-fA-F]{64}") || m.fullImageSha256() == null
                    || !m.fullImageSha256().matches("[0-9a-fA-F]{64}") || m.fullImageBytes() == null
                    || m.incrementalPages() == null || m.incrementalPages() < 0 || m.lsn() == null
                    || !m.lsn().matches("[0-9A-F]{16}") || Long.parseUnsignedLong(p.lsn(), 16)
                    > Long.parseUnsignedLong(m.lsn(), 16)) {
                throw new CorruptObjectException(key, "incremental manifest lacks a valid kind, parent (LSN, timeline,"
                        + " SHA-256, page count), full image SHA-256 or page count");
            }
        } else if (m.formatVersion() != FORMAT_VERSION) {
            throw new CorruptObjectException(key, "manifest format version " + m.formatVersion() + ", this walship reads "
                    + FORMAT_VERSION + " and " + INCREMENTAL_FORMAT_VERSION);
        } else if (m.parent() != null || m.kind() != null) {
            throw new CorruptObjectException(key, "manifest of format version 1 (a full backup) names a kind or parent");
        }
        if (m.imageKey() == null || m.imageSha256() == null || m.lsn() == null || m.codec() == null) {
            throw new CorruptObjectException(key, "manifest lacks required fields");
        }
        if (!m.lsn().matches("[0-9A-F]{16}") || m.timeline() < 1 || m.imageBytes() < 0 || m.objectBytes() < 0
                || m.pageCount() < 0 || !m.imageSha256().matches("[0-9a-fA-F]{64}")) {
            throw new CorruptObjectException(key, "manifest has an invalid LSN, timeline, size or SHA-256");
        }
        try {
            Codec.parse(m.codec());
        } catch (IllegalArgumentException e) {
            throw new CorruptObjectException(key, "manifest names " + e.getMessage());
        }
        return m;
    }
}
