package io.walship.wal;

/**
 * How the B+tree reaches pages. Read-only views implement {@link #read} only; a transaction
 * also tracks which pages it changed ({@link #write}) and which it added ({@link #allocate}).
 */
interface PageAccess {
    /** The page's current bytes; callers must not modify them. */
    byte[] read(int pageNo);

    /** The page's bytes, to be modified in place as part of the current transaction. */
    default byte[] write(int pageNo) {
        throw new UnsupportedOperationException("read-only page access");
    }

    /**
     * An empty node of the given type: a page taken from the free list, or else a zeroed page
     * added at the end of the page file. Returns its number.
     */
    default int allocate(byte type) {
        throw new UnsupportedOperationException("read-only page access");
    }

    /** Gives a page that no node refers to any more back to the free list. */
    default void free(int pageNo) {
        FreeList.push(this, pageNo);
    }
}
