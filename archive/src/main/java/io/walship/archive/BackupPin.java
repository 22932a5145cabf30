package io.walship.archive;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * A pinned base backup: the object {@code pins/T-L.json} (docs/FORMAT.md "Backup pins"). While it
 * exists, retention keeps the backup {@code backups/T-L/} whatever its policy says. The archive's
 * rule that no object is ever overwritten holds: a pin is created with the conditional create and
 * deleted to unpin; it is never rewritten. JSON, like the manifests.
 *
 * @param formatVersion of this document (1)
 * @param backup        the pinned backup's directory, {@code backups/T-L/}
 * @param timeline      its timeline
 * @param lsn           its LSN, 16 hex digits
 * @param pinnedAt      when it was pinned, ISO-8601 UTC
 */
public record BackupPin(int formatVersion, String backup, int timeline, String lsn, String pinnedAt) {
    public static final int FORMAT_VERSION = 1;

    /** What {@link #pin} did. */
    public enum Outcome {
        /** This call created the pin. */
        PINNED,
        /** The backup was pinned already (the existing pin is unchanged). */
        ALREADY_PINNED
    }

    /** The backup a pin names does not exist (never did, or retention deleted it first). */
    public static final class NoSuchBackupException extends StorageException {
        public NoSuchBackupException(String message) {
            super(message);
        }
    }

    public static BackupPin of(ArchiveLayout.BackupName name, Instant pinnedAt) {
        return new BackupPin(FORMAT_VERSION, name.dir(), name.timeline(), ArchiveLayout.lsnHex(name.lsn()),
                pinnedAt.toString());
    }

    public byte[] toJson() {
        return ArchiveJson.write(this);
    }

    /** Reads and checks a pin; a broken one is a corrupt object named by {@code key}. */
    public static BackupPin read(InputStream in, String key) {
        BackupPin p = ArchiveJson.read(in, BackupPin.class, key, "pin");
        if (p.formatVersion() != FORMAT_VERSION) {
            throw new CorruptObjectException(key, "pin format version " + p.formatVersion() + ", this walship reads "
                    + FORMAT_VERSION);
        }
        Optional<ArchiveLayout.BackupName> named = ArchiveLayout.parsePin(key);
        if (p.backup() == null || p.lsn() == null || named.isEmpty() || !named.get().dir().equals(p.backup())
                || named.get().timeline() != p.timeline() || !ArchiveLayout.lsnHex(named.get().lsn()).equals(p.lsn())) {
            throw new CorruptObjectException(key, "pin does not name the backup its key names");
        }
        return p;
    }

    /** The backup's pin, if it is pinned. */
    public static Optional<BackupPin> current(ObjectStore store, ArchiveLayout.BackupName name) {
        try (InputStream in = store.get(name.pinKey())) {
            return Optional.of(read(in, name.pinKey()));
        } catch (ObjectNotFoundException e) {
            return Optional.empty();
        } catch (java.io.IOException e) {
            throw new StorageException("read " + name.pinKey() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Pins the backup {@code name}. The pin is created only if the backup exists, and the backup is
     * checked again once the pin exists: retention looks for the pin after deleting a manifest and
     * puts the manifest back if it finds one (see {@code Retention.apply}), so when this returns, the
     * backup exists and no retention run, concurrent or later, deletes it until {@link #unpin}.
     *
     * @throws NoSuchBackupException if the backup does not exist (the archive is left as it was)
     */
    public static Outcome pin(ObjectStore store, ArchiveLayout.BackupName name, Instant now) {
        requireBackup(store, name, "");
        List<BackupManifest> chain;
        try {
            BackupManifest m = BackupChain.read(store, name);
            chain = m.incremental() ? BackupChain.resolve(m, name.manifestKey(), n -> BackupChain.read(store, n), null)
                    : List.of();
        } catch (ObjectNotFoundException e) {
            throw new NoSuchBackupException("no base backup " + name.dir() + " in " + store.describe()
                    + " (it was deleted just now); 'walship archive list' shows the backups");
        } catch (CorruptObjectException e) {
            chain = List.of(); // unreadable, or a broken chain: the backup named is pinned all the same (verify reports it)
        }
        // an incremental backup is restorable only with its parents: they are pinned first, the full one first
        // (each pin protected as any pin is), so a pinned incremental never loses a link to retention
        for (BackupManifest link : chain.isEmpty() ? chain : chain.subList(0, chain.size() - 1)) {
            pin(store, new ArchiveLayout.BackupName(link.timeline(), Long.parseUnsignedLong(link.lsn(), 16)), now);
        }
        try {
            store.createOrSame(name.pinKey(), new ByteArrayInputStream(of(name, now).toJson()));
        } catch (ObjectExistsException e) {
            // pinned before (a pin holds its time, so the bytes differ); it must read as this backup's pin
            if (current(store, name).isEmpty()) {
                throw new StorageException(name.pinKey() + " was deleted while " + name.dir() + " was being pinned (an"
                        + " unpin at the same time); run the pin again");
            }
            requireBackup(store, name, "");
            return Outcome.ALREADY_PINNED;
        }
        // The pin stays even if the backup is gone now: another pinner may have found it and reported
        // ALREADY_PINNED, and retention keeps whatever is left of a pinned backup. list flags it, unpin removes it.
        requireBackup(store, name, " (a retention run deleted it while it was being pinned; the pin "
                + name.pinKey() + " is left in place, so retention deletes nothing that is left of the backup:"
                + " 'walship archive list' shows it, 'walship archive unpin' removes it)");
        return Outcome.PINNED;
    }

    /** Unpins the backup; returns false if it was not pinned. The backup itself need not exist any more. */
    public static boolean unpin(ObjectStore store, ArchiveLayout.BackupName name) {
        if (store.head(name.pinKey()).isEmpty()) {
            return false;
        }
        store.delete(name.pinKey());
        return true;
    }

    private static void requireBackup(ObjectStore store, ArchiveLayout.BackupName name, String why) {
        if (store.head(name.manifestKey()).isEmpty()) {
            throw new NoSuchBackupException("no base backup " + name.dir() + " in " + store.describe() + why
                    + "; 'walship archive list' shows the backups");
        }
    }
}
