package io.walship.wal;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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

    private final BufferPool pool;
    private final List<Snapshot> snapshots;
    private final Map<Integer, BufferPool.Frame> touched = new LinkedHashMap<>();
    private final Map<Integer, byte[]> before = new LinkedHashMap<>();
    /** The touched frames are pinned: the transaction has not ended. */
    private boolean pinned = true;
    /** Each existing frame's dirty flag and LSN before the transaction ({@link #seal} changes them). */
    private final Map<Integer, long[]> frameState = new LinkedHashMap<>();

    PageTxn(BufferPool pool, List<Snapshot> snapshots) {
        this.pool = pool;
        this.snapshots = snapshots;
    }

    @Override
    public byte[] read(int pageNo) {
        BufferPool.Frame f = touched.get(pageNo);
        return f != null ? f.data : pool.frame(pageNo).data;
    }

    @Override
    public byte[] write(int pageNo) {
        BufferPool.Frame f = touched.get(pageNo);
        if (f == null) {
            f = pool.frame(pageNo);
            pool.pin(f);
            byte[] copy = f.data.clone();
            before.put(pageNo, copy);
            frameState.put(pageNo, new long[] {f.dirty ? 1 : 0, f.lsn});
            touched.put(pageNo, f);
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
        touched.put(pageNo, f);
        before.put(pageNo, null);
        PageFormat.init(f.data, type);
        return pageNo;
    }

    boolean isEmpty() {
        for (Map.Entry<Integer, BufferPool.Frame> e : touched.entrySet()) {
            byte[] b = before.get(e.getKey());
            if (b == null || !Arrays.equals(b, e.getValue().data)) {
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
        List<PageChange> changes = new ArrayList<>(touched.size() * 3);
        for (Map.Entry<Integer, BufferPool.Frame> e : touched.entrySet()) {
            int pageNo = e.getKey();
            BufferPool.Frame f = e.getValue();
            byte[] old = before.get(pageNo);
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
        for (Map.Entry<Integer, BufferPool.Frame> e : touched.entrySet()) {
            byte[] old = before.get(e.getKey());
            if (old == null) {
                pool.drop(e.getKey());
            } else {
                BufferPool.Frame f = e.getValue();
                System.arraycopy(old, 0, f.data, 0, old.length);
                long[] state = frameState.get(e.getKey());
                pool.restore(f, state[0] != 0, state[1]);
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
        for (BufferPool.Frame f : touched.values()) {
            pool.unpin(f);
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
