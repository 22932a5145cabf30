package io.walship.wal;

import java.nio.file.Path;

/**
 * Applies WAL entries straight to a data directory's pages, writing no WAL of its own: the
 * replay half of a restore from the archive. The directory starts as {@link SnapshotLoader} left
 * it (checkpoint at the image's LSN); each entry must carry the next LSN. Dirty pages are written
 * back whenever the pool is full, in any order, because the directory is not a store until
 * {@link #finish} has written every page, synced, and recorded the reached LSN in the control
 * file — the caller keeps the directory marked incomplete until then ({@link Store#RESTORE_MARKER}).
 * Memory is the pool's {@code poolPages} pages, whatever the store's size: a full-page image is
 * copied from the entry's bytes straight into its page's frame (a page not in the pool is not read
 * for it), and evicted frames' arrays are reused. Not thread-safe.
 */
public final class Redo implements AutoCloseable {
    private final Path dir;
    private final ControlFile start;
    private final PageFile pageFile;
    private final BufferPool pool;
    private long lsn;
    private int timeline;
    private long commitTimeMicros;
    private long bytes;

    private Redo(Path dir, int poolPages) {
        this.dir = dir;
        this.start = ControlFile.read(dir);
        this.pageFile = new PageFile(dir, false);
        this.pool = new BufferPool(pageFile, poolPages, true);
        this.lsn = start.checkpointLsn();
        this.timeline = start.timeline();
        this.commitTimeMicros = start.checkpointTimeMicros();
    }

    /** Opens a directory that holds a loaded snapshot; {@code poolPages} bounds memory (4 KiB each). */
    public static Redo open(Path dataDir, int poolPages) {
        return new Redo(dataDir, poolPages);
    }

    /** Writes each change into its page's frame and marks it dirty, at the LSN of the entry being applied. */
    private final class Apply implements EntryCodec.ChangeVisitor {
        long entryLsn;

        @Override
        public void fullPage(int pageNo, byte[] src, int off, int holeOff, int holeLen) {
            BufferPool.Frame f = pool.frameToOverwrite(pageNo);
            System.arraycopy(src, off, f.data, 0, holeOff);
            java.util.Arrays.fill(f.data, holeOff, holeOff + holeLen, (byte) 0);
            System.arraycopy(src, off + holeOff, f.data, holeOff + holeLen, PageFormat.PAGE_SIZE - holeOff - holeLen);
            pool.markDirty(f, entryLsn);
        }

        @Override
        public void delta(int pageNo, int pageOffset, byte[] src, int off, int len) {
            BufferPool.Frame f = pool.frame(pageNo);
            System.arraycopy(src, off, f.data, pageOffset, len);
            pool.markDirty(f, entryLsn);
        }
    }

    private final Apply apply = new Apply();

    /**
     * Applies one entry from its encoded bytes {@code data[off, off + len)}, whose checksum and
     * structure the caller has verified ({@link EntryCodec#walk} with {@link EntryCodec#NO_CHANGES}):
     * nothing of it is copied but the changed bytes, into their frames. It must be the entry after
     * the last applied.
     */
    public void apply(byte[] data, int off, int len) {
        long next = EntryCodec.lsnOf(data, off, len);
        checkNext(next);
        apply.entryLsn = next;
        WalEntry e = EntryCodec.walk(data, off, len, false, apply);
        applied(e);
    }

    /**
     * Applies entry {@code entry} of {@code index}, which checked it completely when it recorded
     * it: nothing is parsed again, the changed bytes are copied from the index's array into their
     * frames (a compressed image is decompressed once more). It must be the entry after the last
     * applied.
     */
    public void apply(ChangeIndex index, int entry) {
        long next = index.lsn(entry);
        checkNext(next);
        apply.entryLsn = next;
        index.replay(entry, apply);
        applied(next, index.timeline(entry), index.commitTimeMicros(entry), index.length(entry));
    }

    private void checkNext(long entryLsn) {
        if (entryLsn != lsn + 1) {
            throw new IntegrityException("replay expected LSN " + Lsn.format(lsn + 1) + " but got " + Lsn.format(entryLsn));
        }
    }

    private void applied(WalEntry e) {
        applied(e.lsn(), e.timeline(), e.commitTimeMicros(), e.encodedSize());
    }

    private void applied(long entryLsn, int entryTimeline, long entryCommitTimeMicros, long encodedSize) {
        lsn = entryLsn;
        timeline = entryTimeline;
        commitTimeMicros = Math.max(commitTimeMicros, entryCommitTimeMicros);
        bytes += encodedSize;
        pool.evictToCapacity(BufferPool.WriteBack.UNLOGGED);
    }

    /** Applies one decoded entry; it must be the one after the last applied. */
    public void apply(WalEntry e) {
        checkNext(e.lsn());
        for (PageChange c : e.changes()) {
            BufferPool.Frame f;
            if (c.fullPage()) {
                // copied, never installed: the entry's array is the caller's, and a frame's array is
                // recycled once the frame is evicted
                f = pool.frameToOverwrite(c.pageNo());
                if (c.bytes().length != f.data.length) {
                    throw new IntegrityException("entry " + Lsn.format(e.lsn()) + " holds a full-page image of "
                            + c.bytes().length + " bytes for page " + c.pageNo());
                }
                System.arraycopy(c.bytes(), 0, f.data, 0, f.data.length);
            } else {
                f = pool.frame(c.pageNo());
                if (c.offset() + c.bytes().length > f.data.length) {
                    throw new IntegrityException("entry " + Lsn.format(e.lsn()) + " writes past the end of page " + c.pageNo());
                }
                System.arraycopy(c.bytes(), 0, f.data, c.offset(), c.bytes().length);
            }
            pool.markDirty(f, e.lsn());
        }
        applied(e);
    }

    public long lsn() {
        return lsn;
    }

    public long commitTimeMicros() {
        return commitTimeMicros;
    }

    /** Encoded WAL bytes applied so far. */
    public long bytes() {
        return bytes;
    }

    /**
     * Writes every page back, syncs, and records the reached LSN, its timeline and commit time
     * in the control file ({@code standby} sets the standby flag). Returns the control file.
     */
    public ControlFile finish(boolean standby) {
        int[] dirty = pool.dirtyPages();
        pool.writeDirty(dirty, 0, dirty.length, BufferPool.WriteBack.UNLOGGED);
        MetaPage.check(pool.frame(MetaPage.PAGE_NO).data);
        pageFile.sync();
        ControlFile c = new ControlFile(start.systemId(), timeline, lsn, commitTimeMicros, 0);
        if (standby) {
            c = c.asStandby();
        }
        c.write(dir);
        return c;
    }

    @Override
    public void close() {
        pageFile.close();
    }
}
