package io.walship.wal;

/**
 * The highest page LSN a read has touched. Every commit stamps the pages it changes with its LSN
 * ({@link PageFormat#lsn}), so if no page a read touched carries an LSN above N, no commit after N
 * changed anything the read saw: its answer is the same in every state from N up to the state it
 * read. A leader uses it to make a read wait only for the commits the read actually depends on
 * (docs/ARCHITECTURE.md, "Commit modes"). One reader at a time; not thread-safe.
 */
public final class ReadLsn {
    private long lsn = -1;

    /** The highest page LSN seen so far (-1: no page yet). */
    public long lsn() {
        return lsn;
    }

    void saw(byte[] page) {
        long l = PageFormat.lsn(page);
        if (l > lsn) {
            lsn = l;
        }
    }

    /** {@code pages}, recording the LSN of each page read into this. */
    PageAccess tracking(PageAccess pages) {
        return pageNo -> {
            byte[] p = pages.read(pageNo);
            saw(p);
            return p;
        };
    }
}
