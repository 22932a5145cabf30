package io.walship.wal;

import java.util.HashMap;
import java.util.Map;

/**
 * Pages held in memory and built only by applying WAL entries: the reference replay used to
 * check that a store's content follows from its log (and by tools that inspect a WAL). Not
 * thread-safe.
 */
public final class PageImage implements PageAccess {
    private final Map<Integer, byte[]> pages = new HashMap<>();
    private long lsn;

    /** Applies one entry's changes, in order; the entry must follow the last one applied. */
    public void apply(WalEntry e) {
        if (lsn != 0 && e.lsn() != lsn + 1) {
            throw new IntegrityException("replay expected LSN " + Lsn.format(lsn + 1) + " but got " + Lsn.format(e.lsn()));
        }
        for (PageChange c : e.changes()) {
            if (c.fullPage()) {
                pages.put(c.pageNo(), c.bytes().clone());
            } else {
                byte[] p = pages.get(c.pageNo());
                if (p == null) {
                    throw new IntegrityException("entry " + Lsn.format(e.lsn()) + " changes page " + c.pageNo()
                            + " that this replay has never seen in full");
                }
                System.arraycopy(c.bytes(), 0, p, c.offset(), c.bytes().length);
            }
        }
        lsn = e.lsn();
    }

    /**
     * Replays a data directory's whole WAL, from LSN 1, into a new image; fails if the WAL no
     * longer starts at LSN 1 or is broken anywhere.
     */
    public static PageImage replayWal(java.nio.file.Path dataDir) {
        PageImage image = new PageImage();
        try (WalReader r = WalReader.open(dataDir)) {
            r.seek(1);
            WalEntry e;
            while ((e = r.next()) != null) {
                image.apply(e);
            }
        }
        return image;
    }

    public long lsn() {
        return lsn;
    }

    @Override
    public byte[] read(int pageNo) {
        byte[] p = pages.get(pageNo);
        if (p == null) {
            throw new IntegrityException("page " + pageNo + " is not in the replayed image");
        }
        return p;
    }

    public StateDigest digest() {
        return StateDigest.of(this, lsn);
    }
}
