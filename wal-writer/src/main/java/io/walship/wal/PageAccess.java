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

    /** Adds a zeroed page of the given node type at the end of the page file and returns its number. */
    default int allocate(byte type) {
        throw new UnsupportedOperationException("read-only page access");
    }
}
