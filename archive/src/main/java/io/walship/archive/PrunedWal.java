package io.walship.archive;

import java.io.InputStream;
import java.util.Optional;

/**
 * A pruned-WAL record: the object {@code pruned/T-L/X-F-E.json} (docs/FORMAT.md "Pruned-WAL
 * records"). Retention creates one, before it deletes anything, for each WAL segment it is about
 * to delete that lies after a pinned backup (or one it plans to delete, which a pin may still save):
 * from a listing alone a pruned stretch after a pinned backup and a lost one look the same, and
 * {@code archive verify} passes a gap right after a pinned backup as pruned only when such records
 * cover all of it. Immutable like everything else: created with the conditional create, its bytes
 * depend only on its key (so a rerun creates the same object, or finds it), never rewritten;
 * retention deletes the records of a backup once that backup is gone (no manifest, no pin).
 *
 * @param formatVersion of this document (1)
 * @param backup        the backup the WAL came after, {@code backups/T-L/}
 * @param timeline      the deleted segment's timeline
 * @param firstLsn      its first LSN, 16 hex digits
 * @param lastLsn       its last LSN, 16 hex digits
 */
public record PrunedWal(int formatVersion, String backup, int timeline, String firstLsn, String lastLsn) {
    public static final int FORMAT_VERSION = 1;

    public static PrunedWal of(ArchiveLayout.PrunedName name) {
        return new PrunedWal(FORMAT_VERSION, name.backup().dir(), name.wal().timeline(),
                ArchiveLayout.lsnHex(name.wal().firstLsn()), ArchiveLayout.lsnHex(name.wal().lastLsn()));
    }

    public byte[] toJson() {
        return ArchiveJson.write(this);
    }

    /** Reads and checks a record; one that does not say what its key says is a corrupt object. */
    public static PrunedWal read(InputStream in, String key) {
        PrunedWal p = ArchiveJson.read(in, PrunedWal.class, key, "pruned-WAL record");
        if (p.formatVersion() != FORMAT_VERSION) {
            throw new CorruptObjectException(key, "pruned-WAL record format version " + p.formatVersion()
                    + ", this walship reads " + FORMAT_VERSION);
        }
        Optional<ArchiveLayout.PrunedName> named = ArchiveLayout.parsePruned(key);
        if (named.isEmpty() || !of(named.get()).equals(p)) {
            throw new CorruptObjectException(key, "pruned-WAL record does not say what its key names");
        }
        return p;
    }

    /** Creates the record (or finds the same one there: a rerun of an interrupted prune). */
    public static void record(ObjectStore store, ArchiveLayout.PrunedName name) {
        store.createOrSame(name.key(), of(name).toJson());
    }
}
