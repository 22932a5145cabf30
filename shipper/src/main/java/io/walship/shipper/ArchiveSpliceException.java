package io.walship.shipper;

import io.walship.wal.WalshipException;

/**
 * The archive's WAL on this timeline is not this store's history: its last entry differs from
 * the local WAL's entry at that LSN (timeline or CRC), the local WAL no longer reaches it, or the
 * segments were written by another store (system id). Shipping on would splice two histories into
 * one timeline, so the shipper refuses; it is fatal for a ship loop. The CLI maps it to exit 3.
 * The message is one line naming both histories; {@link #hint()} says what to do: {@link #HINT}
 * for this store's own history split in two, {@link #OTHER_STORE_HINT} when the archive is another
 * store's (a new timeline of this store would not help there).
 */
public final class ArchiveSpliceException extends WalshipException {
    public static final String HINT = "take a new base backup on a new timeline: restore it with 'walship restore"
            + " --promote' and run the leader from that copy (or ship to a new archive prefix); the archive is unchanged";
    public static final String OTHER_STORE_HINT = "the archive belongs to another store: give this store an archive"
            + " prefix of its own, or check that --data and --archive name the store and the archive you meant; the"
            + " archive is unchanged";

    private final String hint;

    public ArchiveSpliceException(String message) {
        this(message, HINT);
    }

    private ArchiveSpliceException(String message, String hint) {
        super(message);
        this.hint = hint;
    }

    /** The archive holds another store's history (another system id). */
    public static ArchiveSpliceException otherStore(String message) {
        return new ArchiveSpliceException(message, OTHER_STORE_HINT);
    }

    /** What to do about it, one line. */
    public String hint() {
        return hint;
    }
}
