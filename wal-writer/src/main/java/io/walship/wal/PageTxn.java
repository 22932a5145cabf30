package io.walship.wal;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The pages one commit changes: keeps each page's before-image so the commit can be rolled back
 * and turned into physical WAL changes (byte ranges, or a full-page image where torn-page
 * protection or size calls for one). Used by one thread under the store's write lock.
 *
 * <p>Every frame it changes is pinned in the {@link BufferPool} from its first change until the
 * transaction ends ({@link #seal}, {@link #rollback} or {@link #release}), so no eviction can drop
 * it meanwhile. Open snapshots get each page's before-image before the first change.
 */
final class PageTxn implements PageAccess {
    /** Unchanged runs shorter than this are folded into one range: a range header costs 9 bytes. */
    private static final int MERGE_GAP = 9;

    /** Up to this many touched pages are found by a scan; past it through {@link #index}. */
    private static final int SCAN = 16;

    private final BufferPool pool;
    private final List<Snapshot> snapshots;
    // the touched pages in the order first touched, [0, n): parallel arrays rather than maps keyed
    // by boxed page numbers (issue 13: the three LinkedHashMaps were ~5 % of the writer thread)
    private int[] pageNos = new int[4];
    private BufferPool.Frame[] frames = new BufferPool.Frame[4];
    /** Each page's bytes before the transaction; null: a page the transaction added. */
    private byte[][] before = new byte[4][];
    /** Each existing frame's dirty flag and LSN before the transaction ({@link #seal} changes them). */
    private boolean[] wasDirty = new boolean[4];
    private long[] wasLsn = new long[4];
    private int n;
    /** Page number → frame of the touched pages once there are more than {@link #SCAN}; else null. */
    private FrameTable index;
    /** The touched frames are pinned: the transaction has not ended. */
    private boolean pinned = true;

    PageTxn(BufferPool pool, List<Snapshot> snapshots) {
        this.pool = pool;
        this.snapshots = snapshots;
    }

    /** The touched page's position, or -1. */
    private int position(int pageNo) {
        if (index != null && index.get(pageNo) == null) {
            return -1;
        }
        for (int i = 0; i < n; i++) {
            if (pageNos[i] == pageNo) {
                return i;
            }
        }
        return -1;
    }

    /** The touched page's frame, or null. */
    private BufferPool.Frame touched(int pageNo) {
        if (index != null) {
            return index.get(pageNo);
        }
        for (int i = 0; i < n; i++) {
            if (pageNos[i] == pageNo) {
                return frames[i];
            }
        }
        return null;
    }

    private void touch(int pageNo, BufferPool.Frame f, byte[] old, boolean dirty, long lsn) {
        int i = position(pageNo);
        if (i < 0) { // a new page (as a map's put would replace an entry in its place otherwise)
            if (n == pageNos.length) {
                int c = n * 2;
                pageNos = Arrays.copyOf(pageNos, c);
                frames = Arrays.copyOf(frames, c);
                before = Arrays.copyOf(before, c);
                wasDirty = Arrays.copyOf(wasDirty, c);
                wasLsn = Arrays.copyOf(wasLsn, c);
            }
            i = n++;
            pageNos[i] = pageNo;
            if (index == null && n > SCAN) {
                index = new FrameTable();
                for (int j = 0; j < i; j++) {
                    index.put(pageNos[j], frames[j]);
                }
            }
        }
        frames[i] = f;
        before[i] = old;
        wasDirty[i] = dirty;
        wasLsn[i] = lsn;
        if (index != null) {
            index.put(pageNo, f);
        }
    }

    @Override
    public byte[] read(int pageNo) {
        BufferPool.Frame f = touched(pageNo);
        return f != null ? f.data : pool.frame(pageNo).data;
    }

    @Override
    public byte[] write(int pageNo) {
        BufferPool.Frame f = touched(pageNo);
        if (f == null) {
            f = pool.frame(pageNo);
            pool.pin(f);
            byte[] copy = f.data.clone();
            touch(pageNo, f, copy, f.dirty, f.lsn);
            for (Snapshot s : snapshots) {
                s.preserve(pageNo, copy);
            }
        }
        return f.data;
    }

    @Override
    public int allocate(byte type) {
        int reused = FreeList.pop(this, type);
        if (reused != 0) {
            return reused;
        }
        byte[] meta = write(MetaPage.PAGE_NO);
        int pageNo = MetaPage.pageCount(meta);
        MetaPage.setPageCount(meta, pageNo + 1);
        return addNewPage(pageNo, type);
    }

    /** Adds page {@code pageNo} as a new, empty page (used directly only when creating a store). */
    int addNewPage(int pageNo, byte type) {
        BufferPool.Frame f = pool.install(pageNo, new byte[PageFormat.PAGE_SIZE]);
        pool.pin(f);
        touch(pageNo, f, null, false, 0);
        PageFormat.init(f.data, type);
        return pageNo;
    }

    boolean isEmpty() {
        for (int i = 0; i < n; i++) {
            byte[] b = before[i];
            if (b == null || !Arrays.equals(b, frames[i].data)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Stamps the touched pages with {@code lsn}, marks them dirty and returns the physical
     * changes. A page gets a full image when it is new, or when it has not changed since the
     * checkpoint at {@code fpiHorizon} began (so a torn write of it during or after that
     * checkpoint is repaired by redo), or when the image (without its hole) is smaller than the
     * delta, as after a node is rebuilt by a split. Ends the transaction.
     */
    List<PageChange> seal(long lsn, long fpiHorizon) {
        List<PageChange> changes = new ArrayList<>(n * 3);
        for (int i = 0; i < n; i++) {
            int pageNo = pageNos[i];
            BufferPool.Frame f = frames[i];
            byte[] old = before[i];
            if (old != null && Arrays.equals(old, f.data)) {
                continue;
            }
            PageFormat.setLsn(f.data, lsn);
            pool.markDirty(f, lsn);
            if (old == null || PageFormat.lsn(old) <= fpiHorizon) {
                changes.add(PageChange.fullPage(pageNo, f.data.clone()));
                continue;
            }
            int mark = changes.size();
            int bytes = diff(pageNo, old, f.data, changes);
            if (bytes > PageFormat.PAGE_SIZE / 4
                    && bytes > 9 + PageFormat.PAGE_SIZE - EntryCodec.hole(f.data)[1]) {
                changes.subList(mark, changes.size()).clear();
                changes.add(PageChange.fullPage(pageNo, f.data.clone()));
            }
        }
        unpinAll();
        return changes;
    }

    /**
     * Puts every touched page back as it was before the transaction, also after {@link #seal}
     * (its bytes, dirty flag and frame LSN), so a commit whose WAL append failed leaves no trace; and ends it.
     */
    void rollback() {
        unpinAll();
        for (int i = 0; i < n; i++) {
            byte[] old = before[i];
            if (old == null) {
                pool.drop(pageNos[i]);
            } else {
                BufferPool.Frame f = frames[i];
                System.arraycopy(old, 0, f.data, 0, old.length);
                pool.restore(f, wasDirty[i], wasLsn[i]);
            }
        }
    }

    /** Ends a transaction that changed nothing ({@link #isEmpty}): releases its frames. */
    void release() {
        unpinAll();
    }

    private void unpinAll() {
        if (!pinned) {
            return;
        }
        pinned = false;
        for (int i = 0; i < n; i++) {
            pool.unpin(frames[i]);
        }
    }

    /** Appends the byte ranges where {@code a} and {@code b} differ; returns the encoded size. */
    static int diff(int pageNo, byte[] a, byte[] b, List<PageChange> out) {
        int size = 0;
        int i = 0;
        int n = a.length;
        while (i < n) {
            int m = Arrays.mismatch(a, i, n, b, i, n);
            if (m < 0) {
                break;
            }
            int start = i + m;
            int lastDiff = start;
            int j = start + 1;
            while (j < n && j - lastDiff <= MERGE_GAP) {
                if (a[j] != b[j]) {
                    lastDiff = j;
                }
                j++;
            }
            byte[] bytes = Arrays.copyOfRange(b, start, lastDiff + 1);
            out.add(new PageChange(pageNo, start, bytes, false));
            size += 9 + bytes.length;
            i = lastDiff + 1;
        }
        return size;
    }
}
