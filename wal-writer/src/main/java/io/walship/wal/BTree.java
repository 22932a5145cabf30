package io.walship.wal;

import java.util.Arrays;
import java.util.List;

/**
 * An ordered map of byte-string keys to byte-string values stored as a B+tree in pages.
 *
 * <p>Leaves are linked left to right for range scans. Appending past the end of the rightmost
 * leaf leaves the old leaf full (sequential loads pack pages); other splits balance bytes. A
 * node that falls below half full is merged with a sibling, or refilled from it, and pages no
 * longer used go to the {@link FreeList} for reuse. Not thread-safe: the {@link Store} serialises
 * writers and excludes them while readers run.
 */
public final class BTree {
    public static final int MAX_KEY = 256;
    public static final int MAX_VALUE = 1024;
    private static final int MAX_DEPTH = 32;
    /**
     * A node holding fewer bytes (cells and slots) than this is merged with or refilled from a
     * sibling. A third, not a half: a refill leaves both nodes over half full, so a node has to
     * lose a sixth of a page before it is rebuilt again, rather than one cell.
     */
    static final int UNDERFULL = Node.CAPACITY / 3;

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
        Path path = new Path();
        int leafNo = findLeaf(key, path);
        byte[] leaf = pages.read(leafNo);
        int i = Node.search(leaf, key);
        boolean shrunk = false;
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
            shrunk = value.length < old.length;
        } else {
            i = -i - 1;
        }
        byte[] w = pages.write(leafNo);
        byte[] cell = Node.leafCell(key, value);
        if (!Node.insert(w, i, cell)) {
            splitLeaf(path, leafNo, w, i, cell);
        } else if (shrunk && Node.used(w) < UNDERFULL) {
            rebalance(path, path.depth, leafNo); // a value rewritten shorter
        }
        return true;
    }

    /** Removes {@code key}; false if it was absent. An underfull leaf is merged or refilled. */
    public boolean delete(byte[] key) {
        checkKey(key);
        Path path = new Path();
        int leafNo = findLeaf(key, path);
        int i = Node.search(pages.read(leafNo), key);
        if (i < 0) {
            return false;
        }
        byte[] w = pages.write(leafNo);
        Node.remove(w, i);
        if (Node.used(w) < UNDERFULL) {
            rebalance(path, path.depth, leafNo);
        }
        return true;
    }

    /** Walks the whole tree and the free list: how many pages of each kind, how full. */
    public PageSpace space() {
        byte[] meta = pages.read(MetaPage.PAGE_NO);
        long[] acc = new long[5]; // leaf pages, internal pages, pairs, leaf bytes, internal bytes
        java.util.ArrayDeque<Integer> todo = new java.util.ArrayDeque<>();
        todo.push(root());
        while (!todo.isEmpty()) {
            int no = todo.pop();
            byte[] p = pages.read(no);
            if (Node.isLeaf(p)) {
                acc[0]++;
                acc[2] += Node.count(p);
                acc[3] += Node.used(p);
            } else if (PageFormat.type(p) == PageFormat.TYPE_INTERNAL) {
                acc[1]++;
                acc[4] += Node.used(p);
                todo.push(Node.link(p));
                for (int i = 0; i < Node.count(p); i++) {
                    todo.push(Node.child(p, i));
                }
            } else {
                throw new IntegrityException("page " + no + " is not a tree node (type " + PageFormat.type(p) + ")");
            }
        }
        return new PageSpace(MetaPage.pageCount(meta), MetaPage.freeCount(meta), (int) acc[0], (int) acc[1], acc[2],
                acc[3], acc[4]);
    }

    /**
     * Checks the tree's structure and accounting and throws {@link IntegrityException} at the
     * first fault: keys in order and within their separators, every leaf at one depth, the leaf
     * chain in key order, no page reached twice, and every page of the file exactly one of the
     * meta page, a node or a free page.
     */
    public PageSpace check() {
        byte[] meta = pages.read(MetaPage.PAGE_NO);
        int count = MetaPage.pageCount(meta);
        java.util.BitSet seen = new java.util.BitSet(count);
        seen.set(MetaPage.PAGE_NO);
        List<Integer> leaves = new java.util.ArrayList<>();
        int[] leafDepth = {-1};
        checkNode(root(), null, null, 0, seen, leaves, leafDepth, count);
        for (int i = 0; i < leaves.size(); i++) {
            int want = i + 1 < leaves.size() ? leaves.get(i + 1) : 0;
            int link = Node.link(pages.read(leaves.get(i)));
            if (link != want) {
                throw new IntegrityException("leaf " + leaves.get(i) + " links to " + link + ", expected " + want);
            }
        }
        int free = 0;
        for (int no = MetaPage.freeHead(meta); no != 0; no = Node.link(pages.read(no))) {
            if (no >= count || seen.get(no) || PageFormat.type(pages.read(no)) != PageFormat.TYPE_FREE) {
                throw new IntegrityException("free list reaches page " + no + " twice, beyond the file or in use");
            }
            seen.set(no);
            free++;
        }
        if (free != MetaPage.freeCount(meta)) {
            throw new IntegrityException("free list holds " + free + " pages, meta page says " + MetaPage.freeCount(meta));
        }
        if (seen.cardinality() != count) {
            throw new IntegrityException((count - seen.cardinality()) + " of " + count + " pages are neither in the tree nor free"
                    + " (first: " + seen.nextClearBit(0) + ")");
        }
        return space();
    }

    private void checkNode(int no, byte[] lo, byte[] hi, int depth, java.util.BitSet seen, List<Integer> leaves,
                           int[] leafDepth, int count) {
        if (no <= 0 || no >= count || seen.get(no)) {
            throw new IntegrityException("page " + no + " is reached twice or lies outside the " + count + " pages");
        }
        seen.set(no);
        byte[] p = pages.read(no);
        int n = Node.count(p);
        for (int i = 0; i < n; i++) {
            byte[] k = Node.key(p, i);
            if (lo != null && Arrays.compareUnsigned(k, lo) < 0 || hi != null && Arrays.compareUnsigned(k, hi) >= 0
                    || i > 0 && Arrays.compareUnsigned(Node.key(p, i - 1), k) >= 0) {
                throw new IntegrityException("page " + no + " key " + i + " is out of order or outside its separators");
            }
        }
        if (Node.isLeaf(p)) {
            if (leafDepth[0] < 0) {
                leafDepth[0] = depth;
            } else if (leafDepth[0] != depth) {
                throw new IntegrityException("leaf " + no + " is at depth " + depth + ", others at " + leafDepth[0]);
            }
            leaves.add(no);
            return;
        }
        if (PageFormat.type(p) != PageFormat.TYPE_INTERNAL) {
            throw new IntegrityException("page " + no + " is not a tree node (type " + PageFormat.type(p) + ")");
        }
        checkNode(Node.link(p), lo, n == 0 ? hi : Node.key(p, 0), depth + 1, seen, leaves, leafDepth, count);
        for (int i = 0; i < n; i++) {
            checkNode(Node.child(p, i), Node.key(p, i), i + 1 < n ? Node.key(p, i + 1) : hi, depth + 1, seen, leaves,
                    leafDepth, count);
        }
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

    /**
     * The internal pages from the root down to a leaf, and which child was taken in each:
     * {@code -1} for the leftmost link, else the index of the separator cell.
     */
    private static final class Path {
        final int[] pages = new int[MAX_DEPTH];
        final int[] choice = new int[MAX_DEPTH];
        final boolean[] last = new boolean[MAX_DEPTH];
        /** Depth of the leaf (0 when the root is the leaf). */
        int depth;

        /** Whether the node at {@code depth} is the rightmost of its level. */
        boolean rightmost(int depth) {
            for (int d = 0; d < depth; d++) {
                if (!last[d]) {
                    return false;
                }
            }
            return true;
        }
    }

    /** Descends to the leaf for {@code key} ({@code null} = leftmost); records the way in {@code path}. */
    private int findLeaf(byte[] key, Path path) {
        int pageNo = root();
        int depth = 0;
        while (true) {
            byte[] p = pages.read(pageNo);
            byte type = PageFormat.type(p);
            if (type == PageFormat.TYPE_LEAF) {
                if (path != null) {
                    path.depth = depth;
                }
                return pageNo;
            }
            if (type != PageFormat.TYPE_INTERNAL || depth >= MAX_DEPTH - 1) {
                throw new IntegrityException("page " + pageNo + " is not a tree node (type " + type + ")");
            }
            int idx = Node.childIndex(p, key);
            if (path != null) {
                path.pages[depth] = pageNo;
                path.choice[depth] = idx;
                path.last[depth] = idx == Node.count(p) - 1;
            }
            depth++;
            pageNo = idx < 0 ? Node.link(p) : Node.child(p, idx);
        }
    }

    private void splitLeaf(Path path, int leafNo, byte[] leaf, int idx, byte[] cell) {
        List<byte[]> cells = Node.cells(leaf);
        cells.add(idx, cell);
        int oldLink = Node.link(leaf);
        // Appending past the last key of the rightmost leaf (sequential inserts): keep the old
        // leaf full and start the new one with the new cell alone, as SQLite's balance_quick
        // and PostgreSQL's rightmost split do; a middle split would leave every leaf half empty.
        boolean append = idx == cells.size() - 1 && oldLink == 0 && idx > 0;
        if (!append && shiftToSibling(path, leafNo, leaf, idx, cell)) {
            return;
        }
        int m = append ? idx : chooseSplit(cells, false);
        int rightNo = pages.allocate(PageFormat.TYPE_LEAF);
        byte[] right = pages.write(rightNo);
        Node.rebuild(leaf, PageFormat.TYPE_LEAF, rightNo, cells.subList(0, m));
        Node.rebuild(right, PageFormat.TYPE_LEAF, oldLink, cells.subList(m, cells.size()));
        insertIntoParent(path, path.depth, leafNo, Node.cellKey(cells.get(m), true), rightNo);
    }

    private void insertIntoParent(Path path, int depth, int leftNo, byte[] sep, int rightNo) {
        if (depth == 0) {
            int newRoot = pages.allocate(PageFormat.TYPE_INTERNAL);
            byte[] r = pages.write(newRoot);
            Node.setLink(r, leftNo);
            Node.insert(r, 0, Node.internalCell(rightNo, sep));
            MetaPage.setRoot(pages.write(MetaPage.PAGE_NO), newRoot);
            return;
        }
        int parentNo = path.pages[depth - 1];
        byte[] p = pages.write(parentNo);
        int s = Node.search(p, sep);
        int idx = s >= 0 ? s + 1 : -s - 1;
        byte[] cell = Node.internalCell(rightNo, sep);
        if (Node.insert(p, idx, cell)) {
            return;
        }
        List<byte[]> cells = Node.cells(p);
        cells.add(idx, cell);
        // the rightmost node of its level, appended to: the old last cell moves up and the new
        // right node starts with the new cell, leaving the left node full
        int m = idx == cells.size() - 1 && idx > 1 && path.rightmost(depth - 1) ? idx - 1 : chooseSplit(cells, true);
        byte[] up = cells.get(m);
        int newRightNo = pages.allocate(PageFormat.TYPE_INTERNAL);
        byte[] r = pages.write(newRightNo);
        int leftmost = Node.link(p);
        Node.rebuild(p, PageFormat.TYPE_INTERNAL, leftmost, cells.subList(0, m));
        Node.rebuild(r, PageFormat.TYPE_INTERNAL, PageFormat.getInt(up, 0), cells.subList(m + 1, cells.size()));
        insertIntoParent(path, depth - 1, parentNo, Node.cellKey(up, false), newRightNo);
    }

    /**
     * Node {@code nodeNo} at {@code depth} of {@code path} holds less than {@link #UNDERFULL}:
     * merge it with a sibling under the same parent when both fit in one page (freeing the
     * emptied page and removing the separator, which may leave the parent underfull in turn),
     * else move cells over from the sibling so the two hold about the same bytes. An internal
     * root left with no separator is replaced by its only child.
     */
    private void rebalance(Path path, int depth, int nodeNo) {
        if (depth == 0) {
            byte[] root = pages.read(nodeNo);
            if (!Node.isLeaf(root) && Node.count(root) == 0) {
                MetaPage.setRoot(pages.write(MetaPage.PAGE_NO), Node.link(root));
                pages.free(nodeNo);
            }
            return;
        }
        int parentNo = path.pages[depth - 1];
        byte[] parent = pages.read(parentNo);
        if (Node.count(parent) == 0) {
            return; // an only child: the parent is merged at its own level
        }
        int choice = path.choice[depth - 1];
        int sepIdx = choice < 0 ? 0 : choice;
        int leftNo = choice < 0 ? nodeNo : (choice == 0 ? Node.link(parent) : Node.child(parent, choice - 1));
        int rightNo = choice < 0 ? Node.child(parent, 0) : nodeNo;
        byte[] left = pages.read(leftNo);
        byte[] right = pages.read(rightNo);
        boolean leaf = Node.isLeaf(left);
        if (leaf != Node.isLeaf(right)) {
            throw new IntegrityException("siblings " + leftNo + " and " + rightNo + " are not of one kind");
        }
        if (leaf && Node.link(left) != rightNo) {
            throw new IntegrityException("leaf " + leftNo + " links to " + Node.link(left) + ", not to its sibling "
                    + rightNo);
        }
        byte[] sep = Node.key(parent, sepIdx);
        List<byte[]> cells = Node.cells(left);
        int leftCount = cells.size();
        if (!leaf) {
            cells.add(Node.internalCell(Node.link(right), sep));
        }
        cells.addAll(Node.cells(right));
        if (Node.used(cells, 0, cells.size()) <= Node.CAPACITY) {
            Node.rebuild(pages.write(leftNo), PageFormat.type(left), leaf ? Node.link(right) : Node.link(left), cells);
            pages.free(rightNo);
            byte[] p = pages.write(parentNo);
            Node.remove(p, sepIdx);
            if (Node.used(p) < UNDERFULL) {
                rebalance(path, depth - 1, parentNo); // the path still names the parent's place above
            }
            return;
        }
        int m = chooseSplit(cells, !leaf);
        int mine = nodeNo == leftNo ? Node.used(cells, 0, leftCount) : Node.used(cells, leftCount + (leaf ? 0 : 1), cells.size());
        int after = nodeNo == leftNo ? Node.used(cells, 0, m) : Node.used(cells, leaf ? m : m + 1, cells.size());
        if (after <= mine) {
            return;
        }
        moveCells(parentNo, sepIdx, leftNo, rightNo, leaf, cells, m);
    }

    /**
     * Rewrites siblings {@code leftNo} and {@code rightNo} (separated by cell {@code sepIdx} of
     * the parent) to hold {@code cells}, which are both nodes' cells in order (for internal nodes
     * with the separator between them), divided at {@code m}; the separator becomes the right
     * node's new first key. False, changing nothing, if the parent has no room for that key.
     */
    private boolean moveCells(int parentNo, int sepIdx, int leftNo, int rightNo, boolean leaf, List<byte[]> cells, int m) {
        byte[] newSep = Node.cellKey(cells.get(m), leaf);
        byte[] p = pages.read(parentNo);
        int oldCell = 6 + Node.keyLength(p, Node.slot(p, sepIdx));
        if (Node.freeSpace(p) + PageFormat.getShort(p, PageFormat.OFF_FRAGMENTED) + oldCell < 6 + newSep.length) {
            return false;
        }
        byte[] l = pages.write(leftNo);
        byte[] r = pages.write(rightNo);
        if (leaf) {
            Node.rebuild(l, PageFormat.TYPE_LEAF, rightNo, cells.subList(0, m));
            Node.rebuild(r, PageFormat.TYPE_LEAF, Node.link(r), cells.subList(m, cells.size()));
        } else {
            Node.rebuild(l, PageFormat.TYPE_INTERNAL, Node.link(l), cells.subList(0, m));
            Node.rebuild(r, PageFormat.TYPE_INTERNAL, PageFormat.getInt(cells.get(m), 0), cells.subList(m + 1, cells.size()));
        }
        byte[] pw = pages.write(parentNo);
        Node.remove(pw, sepIdx);
        if (!Node.insert(pw, sepIdx, Node.internalCell(rightNo, newSep))) {
            throw new IllegalStateException("separator does not fit after the room check");
        }
        return true;
    }

    /**
     * Before a leaf splits, one cell at its edge moves to a sibling under the same parent that
     * has room for it: the last cell (the new one, if it goes last) to the right sibling, else
     * the first to the left one, and the separator between them moves to the new boundary. The
     * sibling gets one cell and the parent one separator, in place; the leaf changes as an insert
     * would. It is done only where no page has to be compacted (rebuilt): an edge cell moves
     * only if it lies next to the leaf's free space, and only into contiguous free space of the
     * sibling. So the WAL carries small deltas, not the rebuilt pages that a redistribution
     * between siblings writes (tried: 88 % leaf fill for random inserts, but 1.6-3.6× the WAL
     * bytes per insert).
     */
    private boolean shiftToSibling(Path path, int leafNo, byte[] leaf, int idx, byte[] cell) {
        int depth = path.depth;
        int oldCount = Node.count(leaf);
        if (depth == 0 || oldCount == 0) {
            return false;
        }
        int parentNo = path.pages[depth - 1];
        byte[] parent = pages.read(parentNo);
        int choice = path.choice[depth - 1];
        int contentStart = PageFormat.getShort(leaf, PageFormat.OFF_CONTENT_START);
        for (int side = 0; side < 2; side++) {
            boolean right = side == 0;
            int sepIdx = right ? choice + 1 : choice;
            if (right ? sepIdx >= Node.count(parent) : choice < 0) {
                continue;
            }
            int sib = right ? Node.child(parent, sepIdx) : choice == 0 ? Node.link(parent) : Node.child(parent, choice - 1);
            boolean movesNew = right ? idx == oldCount : idx == 0;
            int edge = right ? oldCount - 1 : 0;
            byte[] moved;
            if (movesNew) {
                moved = cell;
            } else {
                int off = Node.slot(leaf, edge);
                moved = Arrays.copyOfRange(leaf, off, off + Node.cellSize(leaf, off));
                // only when the edge cell's bytes border the free space, so taking it out leaves
                // room for the new cell without compacting (rebuilding) the leaf
                if (off != contentStart || Node.freeSpace(leaf) + moved.length < cell.length) {
                    continue;
                }
            }
            byte[] newSep;
            if (right) {
                newSep = Node.cellKey(moved, true);
            } else if (movesNew || idx > 1) {
                newSep = Node.key(leaf, movesNew ? 0 : 1);
            } else {
                newSep = Node.cellKey(cell, true); // the new cell becomes the leaf's first
            }
            byte[] sp = pages.read(sib);
            if (Node.freeSpace(sp) < moved.length + 2 // room without compacting the sibling
                    || Node.freeSpace(parent) + PageFormat.getShort(parent, PageFormat.OFF_FRAGMENTED)
                    + Node.keyLength(parent, Node.slot(parent, sepIdx)) < newSep.length) {
                continue;
            }
            int rightNo = Node.child(parent, sepIdx);
            byte[] sw = pages.write(sib);
            if (!Node.insert(sw, right ? 0 : Node.count(sw), moved)) {
                throw new IllegalStateException("cell does not fit after the room check");
            }
            if (!movesNew) {
                byte[] lw = pages.write(leafNo);
                Node.remove(lw, edge);
                if (!Node.insert(lw, right ? idx : idx - 1, cell)) {
                    throw new IllegalStateException("cell does not fit after the room check");
                }
            }
            byte[] pw = pages.write(parentNo);
            Node.remove(pw, sepIdx);
            if (!Node.insert(pw, sepIdx, Node.internalCell(rightNo, newSep))) {
                throw new IllegalStateException("separator does not fit after the room check");
            }
            return true;
        }
        return false;
    }

    /**
     * The split point that balances bytes best while both halves fit. For an internal node the
     * cell at the split point moves up and belongs to neither half.
     */
    private static int chooseSplit(List<byte[]> cells, boolean internal) {
        int best = findSplit(cells, internal);
        if (best < 0) {
            throw new IllegalStateException("no split point for " + cells.size() + " cells");
        }
        return best;
    }

    /** As {@link #chooseSplit}, but -1 when no split point lets both halves fit. */
    private static int findSplit(List<byte[]> cells, boolean internal) {
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
        return best;
    }
}
