package io.walship.wal;

import java.util.List;
import java.util.Objects;

/**
 * One commit in the physical WAL: its LSN, timeline, commit time and page changes, in the order
 * they must be applied. {@code horizon} is the leader's checkpoint horizon the entry records
 * (docs/FORMAT.md, "Checkpoint horizon"), {@link Lsn#NONE} if it records none: every entry after
 * LSN {@code horizon} was sealed with full-page images from that horizon on, so a standby may
 * take it as a restartpoint. {@code encodedSize} is the entry's size on disk (0 if not yet
 * encoded). {@code compression} is how its full-page images were compressed when it was decoded
 * ({@link WalCompression#NONE} if none was; the first compressed image's codec), for display.
 *
 * <p>{@code encoded} is the entry exactly as the WAL holds it, if it was decoded from those bytes
 * ({@link EntryCodec#decode} sets it, no copy when it decodes a whole array), else null. A
 * replica appends these very bytes to its own WAL ({@link EntryCodec#encode(WalEntry)}): encoding
 * the changes again could give other bytes (another LZ4 implementation or library version,
 * another Zstandard level), and a replica's WAL must be the leader's byte for byte. Read only:
 * nothing may change the array. Whoever builds an entry with it vouches that it encodes these
 * changes; the constructor checks only its size and LSN.
 */
public record WalEntry(long lsn, int timeline, long commitTimeMicros, long horizon, List<PageChange> changes,
                       int encodedSize, WalCompression compression, byte[] encoded) {
    public WalEntry {
        Objects.requireNonNull(changes, "changes");
        Objects.requireNonNull(compression, "compression");
        changes = List.copyOf(changes);
        if (horizon < 0 || horizon != Lsn.NONE && horizon >= lsn) {
            throw new IllegalArgumentException("checkpoint horizon " + Lsn.format(horizon) + " of the entry at LSN "
                    + Lsn.format(lsn) + " must lie before it");
        }
        if (encoded != null && (encoded.length != encodedSize || EntryCodec.lsnOf(encoded, 0, encoded.length) != lsn)) {
            throw new IllegalArgumentException("the encoded bytes given for the entry at LSN " + Lsn.format(lsn)
                    + " are not its own (" + encoded.length + " bytes for an entry of " + encodedSize + ")");
        }
    }

    /** An entry built in memory (no encoded bytes) whose images were compressed with {@code compression}. */
    public WalEntry(long lsn, int timeline, long commitTimeMicros, long horizon, List<PageChange> changes,
                    int encodedSize, WalCompression compression) {
        this(lsn, timeline, commitTimeMicros, horizon, changes, encodedSize, compression, null);
    }

    /** An entry whose images are not compressed. */
    public WalEntry(long lsn, int timeline, long commitTimeMicros, long horizon, List<PageChange> changes,
                    int encodedSize) {
        this(lsn, timeline, commitTimeMicros, horizon, changes, encodedSize, WalCompression.NONE);
    }

    /** An entry that records no checkpoint horizon. */
    public WalEntry(long lsn, int timeline, long commitTimeMicros, List<PageChange> changes, int encodedSize) {
        this(lsn, timeline, commitTimeMicros, Lsn.NONE, changes, encodedSize);
    }

    /** Distinct pages this entry touches, in first-touch order. */
    public int pagesTouched() {
        return (int) changes.stream().mapToInt(PageChange::pageNo).distinct().count();
    }

    public int fullPageImages() {
        return (int) changes.stream().filter(PageChange::fullPage).count();
    }
}
