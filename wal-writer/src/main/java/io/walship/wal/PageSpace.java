package io.walship.wal;

/**
 * How the page file is used, from a walk of the B+tree: what {@code walship bench fill} reports.
 *
 * @param pages         pages in the page file (the meta page's count)
 * @param freePages     pages on the free list, waiting for reuse
 * @param leafPages     leaves of the tree
 * @param internalPages internal nodes of the tree
 * @param pairs         key-value pairs stored
 * @param leafBytes     bytes the leaves' cells and slots take (headers and free space not counted)
 * @param internalBytes bytes the internal nodes' cells and slots take
 */
public record PageSpace(int pages, int freePages, int leafPages, int internalPages, long pairs, long leafBytes,
                        long internalBytes) {

    /** Bytes of the page file. */
    public long fileBytes() {
        return (long) pages * PageFormat.PAGE_SIZE;
    }

    /** Pages the tree and the meta page use: the file without its free pages. */
    public int usedPages() {
        return pages - freePages;
    }

    /** The leaves' average fill: cell and slot bytes over the space a leaf has for them. */
    public double leafFill() {
        return leafPages == 0 ? 0 : (double) leafBytes / ((long) leafPages * Node.CAPACITY);
    }
}
