package io.walship.wal;

import java.util.Arrays;
import java.util.List;

/**
 * An ordered map of byte-string keys to byte-string values stored as a B+tree in pages.
 *
 * <p>Leaves are linked left to right for range scans. Deletes remove cells without merging
 * nodes (an emptied leaf stays in the chain and is reused by later inserts into its key range);
 * this keeps a delete to a single-page change. Not thread-safe: the {@link Store} serialises
 * writers and excludes them while readers run.
 */
public final class BTree {
    public static final int MAX_KEY = 256;
    public static final int MAX_VALUE = 1024;
    private static final int MAX_DEPTH = 32;

    /** Receives scanned pairs in key order; returns false to stop. */
    @FunctionalInterface
    public interface Visitor {
        boolean visit(byte[] key, byte[] value);
    }

    private final PageAccess pages;

    public BTree(PageAccess pages) {
        this.pages = pages;
    }

    public static void checkKey(byte[] key) {
        if (key == null || key.length == 0) {
            throw new IllegalArgumentException("key must not be empty");
        }
        if (key.length > MAX_KEY) {
            throw new IllegalArgumentException("key is " + key.length + " bytes; the limit is " + MAX_KEY);
        }
    }

    public static void checkValue(byte[] value) {
        if (value == null) {
            throw new IllegalArgumentException("value must not be null");
        }
        if (value.length > MAX_VALUE) {
            throw new IllegalArgumentException("value is " + value.length + " bytes; the limit is " + MAX_VALUE);
        }
    }

    private int root() {
        return MetaPage.root(pages.read(MetaPage.PAGE_NO));
    }

    public byte[] get(byte[] key) {
        byte[] leaf = pages.read(findLeaf(key, null));
        int i = Node.search(leaf, key);
        return i >= 0 ? Node.value(leaf, i) : null;
    }

    /** Sets {@code key} to {@code value}; false if it already had exactly that value. */
    public boolean put(byte[] key, byte[] value) {
        checkKey(key);
        checkValue(value);
        int[] path = new int[MAX_DEPTH];
        int leafNo = findLeaf(key, path);
        int depth = path[MAX_DEPTH - 1];
        byte[] leaf = pages.read(leafNo);
        int i = Node.search(leaf, key);
        if (i >= 0) {
            byte[] old = Node.value(leaf, i);
            if (Arrays.equals(old, value)) {
                return false;
            }
            byte[] w = pages.write(leafNo);
            int off = Node.slot(w, i);
            if (old.length == value.length) {
                System.arraycopy(value, 0, w, off + 4 + key.length, value.length);
                return true;
            }
            Node.remove(w, i);
        } else {
            i = -i - 1;
        }
        byte[] w = pages.write(leafNo);
        byte[] cell = Node.leafCell(key, value);
        if (!Node.insert(w, i, cell)) {
            splitLeaf(path, depth, leafNo, w, i, cell);
        }
        return true;
    }

    /** Removes {@code key}; false if it was absent. */
    public boolean delete(byte[] key) {
        checkKey(key);
        int leafNo = findLeaf(key, null);
        int i = Node.search(pages.read(leafNo), key);
        if (i < 0) {
            return false;
        }
        Node.remove(pages.write(leafNo), i);
        return true;
    }

    /** Visits pairs with {@code from <= key < to} in key order ({@code null} bounds are open). */
    public void scan(byte[] from, byte[] to, Visitor visitor) {
        int pageNo = findLeaf(from, null);
        byte[] leaf = pages.read(pageNo);
        int i = 0;
        if (from != null) {
            int s = Node.search(leaf, from);
            i = s >= 0 ? s : -s - 1;
        }
        while (true) {
            int n = Node.count(leaf);
            for (; i < n; i++) {
                if (to != null && Node.compareKey(leaf, i, to) >= 0) {
                    return;
                }
                if (!visitor.visit(Node.key(leaf, i), Node.value(leaf, i))) {
                    return;
                }
            }
            int next = Node.link(leaf);
            if (next == 0) {
                return;
            }
            leaf = pages.read(next);
            i = 0;
        }
    }

    /** Descends to the leaf for {@code key}; records the internal pages on the way in {@code path}. */
    private int findLeaf(byte[] key, int[] path) {
        int pageNo = root();
        int depth = 0;
        while (true) {
            byte[] p = pages.read(pageNo);
            byte type = PageFormat.type(p);
            if (type == PageFormat.TYPE_LEAF) {
                if (path != null) {
                    path[MAX_DEPTH - 1] = depth;
                }
                return pageNo;
            }
            if (type != PageFormat.TYPE_INTERNAL || depth >= MAX_DEPTH - 1) {
                throw new IntegrityException("page " + pageNo + " is not a tree node (type " + type + ")");
            }
            if (path != null) {
                path[depth] = pageNo;
            }
            depth++;
            pageNo = Node.childFor(p, key);
        }
    }

    private void splitLeaf(int[] path, int depth, int leafNo, byte[] leaf, int idx, byte[] cell) {
        List<byte[]> cells = Node.cells(leaf);
        cells.add(idx, cell);
        int m = chooseSplit(cells, false);
        int rightNo = pages.allocate(PageFormat.TYPE_LEAF);
        byte[] right = pages.write(rightNo);
        int oldLink = Node.link(leaf);
        Node.rebuild(leaf, PageFormat.TYPE_LEAF, rightNo, cells.subList(0, m));
        Node.rebuild(right, PageFormat.TYPE_LEAF, oldLink, cells.subList(m, cells.size()));
        insertIntoParent(path, depth, leafNo, Node.cellKey(cells.get(m), true), rightNo);
    }

    private void insertIntoParent(int[] path, int depth, int leftNo, byte[] sep, int rightNo) {
        if (depth == 0) {
            int newRoot = pages.allocate(PageFormat.TYPE_INTERNAL);
            byte[] r = pages.write(newRoot);
            Node.setLink(r, leftNo);
            Node.insert(r, 0, Node.internalCell(rightNo, sep));
            MetaPage.setRoot(pages.write(MetaPage.PAGE_NO), newRoot);
            return;
        }
        int parentNo = path[depth - 1];
        byte[] p = pages.write(parentNo);
        int s = Node.search(p, sep);
        int idx = s >= 0 ? s + 1 : -s - 1;
        byte[] cell = Node.internalCell(rightNo, sep);
        if (Node.insert(p, idx, cell)) {
            return;
        }
        List<byte[]> cells = Node.cells(p);
        cells.add(idx, cell);
        int m = chooseSplit(cells, true);
        byte[] up = cells.get(m);
        int newRightNo = pages.allocate(PageFormat.TYPE_INTERNAL);
        byte[] r = pages.write(newRightNo);
        int leftmost = Node.link(p);
        Node.rebuild(p, PageFormat.TYPE_INTERNAL, leftmost, cells.subList(0, m));
        Node.rebuild(r, PageFormat.TYPE_INTERNAL, PageFormat.getInt(up, 0), cells.subList(m + 1, cells.size()));
        insertIntoParent(path, depth - 1, parentNo, Node.cellKey(up, false), newRightNo);
    }

    /**
     * The split point that balances bytes best while both halves fit. For an internal node the
     * cell at the split point moves up and belongs to neither half.
     */
    private static int chooseSplit(List<byte[]> cells, boolean internal) {
        int n = cells.size();
        int best = -1;
        int bestMax = Integer.MAX_VALUE;
        for (int m = 1; m < n; m++) {
            int left = Node.used(cells, 0, m);
            int right = Node.used(cells, internal ? m + 1 : m, n);
            int max = Math.max(left, right);
            if (left <= Node.CAPACITY && right <= Node.CAPACITY && max < bestMax) {
                bestMax = max;
                best = m;
            }
        }
        if (best < 0) {
            throw new IllegalStateException("no split point for " + n + " cells");
        }
        return best;
    }
}
