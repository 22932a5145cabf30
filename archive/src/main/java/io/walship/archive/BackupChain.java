package io.walship.archive;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Function;

/**
 * The chain of an incremental base backup: its parent, the parent's parent and so on down to a full
 * backup, each link checked (docs/FORMAT.md, "Incremental base backups"). Stateless.
 */
public final class BackupChain {
    /** A chain longer than this is refused (a loop, or an archive nobody could restore in time). */
    public static final int MAX_LENGTH = 10_000;

    private BackupChain() {
    }

    /**
     * The chain of {@code m} (at key {@code key}), full backup first and {@code m} last. {@code read} reads
     * the manifest of a backup name; it throws {@link ObjectNotFoundException} (or another
     * {@link StorageException}) when it cannot. {@code onHistory}, if not null, says whether a parent's
     * name lies on the history being restored.
     *
     * @throws CorruptObjectException (exit 3) naming the incremental backup whose parent is missing,
     *                                unreadable, of another store or history, or not the image it was built on
     */
    public static List<BackupManifest> resolve(BackupManifest m, String key,
                                               Function<ArchiveLayout.BackupName, BackupManifest> read,
                                               java.util.function.Predicate<ArchiveLayout.BackupName> onHistory) {
        List<BackupManifest> chain = new ArrayList<>();
        chain.add(m);
        BackupManifest child = m;
        String childKey = key;
        while (child.incremental()) {
            if (chain.size() > MAX_LENGTH) {
                throw new CorruptObjectException(key, "incremental backup chain is longer than " + MAX_LENGTH + " links");
            }
            BackupManifest.Parent p = child.parent();
            ArchiveLayout.BackupName name = p.name();
            String parentKey = name.manifestKey();
            if (onHistory != null && !onHistory.test(name)) {
                throw broken(childKey, parentKey, "is not on the history being restored (another timeline's past)");
            }
            BackupManifest parent;
            try {
                parent = read.apply(name);
            } catch (ObjectNotFoundException e) {
                throw broken(childKey, parentKey, "is missing");
            } catch (CorruptObjectException e) {
                throw broken(childKey, parentKey, "is corrupt: " + e.getMessage());
            }
            if (parent.systemId() != null && child.systemId() != null
                    && !parent.systemId().equalsIgnoreCase(child.systemId())) {
                throw broken(childKey, parentKey, "is of store " + parent.systemId() + ", not " + child.systemId());
            }
            long pl = Long.parseUnsignedLong(parent.lsn(), 16);
            long cl = Long.parseUnsignedLong(child.lsn(), 16);
            if (pl > cl || (pl == cl && parent.timeline() >= child.timeline())) {
                throw broken(childKey, parentKey, "is not older than the backup built on it");
            }
            if (parent.pageCount() != p.pageCount() || !parent.fullImageSha().equalsIgnoreCase(p.imageSha256())) {
                throw broken(childKey, parentKey, "is not the image it was built on (it records full-image SHA-256 "
                        + parent.fullImageSha() + " and " + parent.pageCount() + " pages, the child expects "
                        + p.imageSha256() + " and " + p.pageCount() + "): the parent was replaced");
            }
            chain.add(parent);
            child = parent;
            childKey = parentKey;
        }
        Collections.reverse(chain);
        return chain;
    }

    /**
     * Reads and checks {@code backups/T-L/manifest.json}: it must parse and agree with its key, and name an
     * image inside its backup.
     */
    public static BackupManifest read(ObjectStore store, ArchiveLayout.BackupName name) {
        String key = name.manifestKey();
        BackupManifest m;
        try (java.io.InputStream in = store.get(key)) {
            m = BackupManifest.read(new java.io.ByteArrayInputStream(in.readAllBytes()), key);
        } catch (java.io.IOException e) {
            throw new StorageException("read " + key + ": " + e.getMessage(), e);
        }
        long lsn;
        try {
            lsn = Long.parseUnsignedLong(m.lsn(), 16);
        } catch (NumberFormatException e) {
            throw new CorruptObjectException(key, "manifest LSN '" + m.lsn() + "' does not parse");
        }
        if (lsn != name.lsn() || m.timeline() != name.timeline()) {
            throw new CorruptObjectException(key, "manifest says timeline " + m.timeline() + " LSN " + m.lsn()
                    + ", its key says timeline " + name.timeline() + " LSN " + ArchiveLayout.lsnHex(name.lsn()));
        }
        if (!m.imageKey().startsWith(name.dir())) {
            throw new CorruptObjectException(key, "manifest names image " + m.imageKey() + " outside its backup");
        }
        return m;
    }

    private static CorruptObjectException broken(String childKey, String parentKey, String why) {
        return new CorruptObjectException(childKey, "incremental backup's parent " + parentKey + " " + why
                + ": the chain is broken, so this backup cannot be restored");
    }
}
