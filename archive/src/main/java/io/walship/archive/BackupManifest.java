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
 */
public record BackupManifest(int formatVersion, int imageFormat, String lsn, int timeline, String systemId,
                             String commitTime, long commitTimeMicros, int pageCount, String imageKey, String codec,
                             long imageBytes, long objectBytes, String imageSha256, String digestSha256,
                             long digestPairs, String createdAt) {
    public static final int FORMAT_VERSION = 1;

    public byte[] toJson() {
        return ArchiveJson.write(this);
    }

    /** Reads and checks a manifest; a broken one is a corrupt object named by {@code key}. */
    public static BackupManifest read(InputStream in, String key) {
        BackupManifest m = ArchiveJson.read(in, BackupManifest.class, key, "manifest");
        if (m.formatVersion() != FORMAT_VERSION) {
            throw new CorruptObjectException(key, "manifest format version " + m.formatVersion() + ", this walship reads "
                    + FORMAT_VERSION);
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
