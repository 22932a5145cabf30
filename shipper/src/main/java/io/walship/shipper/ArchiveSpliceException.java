package io.walship.shipper;

import io.walship.wal.WalshipException;

/**
 * The archive's WAL on this timeline is not this store's history: its last entry differs from
 * the local WAL's entry at that LSN (timeline or CRC), the local WAL no longer reaches it, or the
 * segments were written by another store (system id). Shipping on would splice two histories into
 * one timeline, so the shipper refuses; it is fatal for a ship loop. The CLI maps it to exit 3.
 * The message is one line naming both histories; {@link #HINT} says what to do.
 */
public final class ArchiveSpliceException extends WalshipException {
    public static final String HINT = "take a new base backup on a new timeline: restore it with 'walship restore"
            + " --promote' and run the leader from that copy (or ship to a new archive prefix); the archive is unchanged";

    public ArchiveSpliceException(String message) {
        super(message);
    }
}
