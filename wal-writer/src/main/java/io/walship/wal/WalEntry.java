package io.walship.wal;

import java.util.List;
import java.util.Objects;

/**
 * One commit in the physical WAL: its LSN, timeline, commit time and page changes, in the order
 * they must be applied. {@code encodedSize} is the entry's size on disk (0 if not yet encoded).
 */
public record WalEntry(long lsn, int timeline, long commitTimeMicros, List<PageChange> changes, int encodedSize) {
    public WalEntry {
        Objects.requireNonNull(changes, "changes");
        changes = List.copyOf(changes);
    }

    /** Distinct pages this entry touches, in first-touch order. */
    public int pagesTouched() {
        return (int) changes.stream().mapToInt(PageChange::pageNo).distinct().count();
    }

    public int fullPageImages() {
        return (int) changes.stream().filter(PageChange::fullPage).count();
    }
}
