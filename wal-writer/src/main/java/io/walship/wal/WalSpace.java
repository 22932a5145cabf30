package io.walship.wal;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Disk space for the WAL, claimed before Chronicle writes into it. Chronicle grows a cycle file
 * with {@code ftruncate}, which makes it sparse, and writes through a memory mapping: a store
 * into a hole the file system cannot back raises SIGBUS (an {@code InternalError} in Java, if the
 * JVM catches it at all) at an arbitrary point of the append. Claiming the blocks first turns a
 * full disk into an {@code IOException} at a point where nothing of the commit is written yet.
 *
 * <p>Used under the commit pipeline's append lock only (the writer thread, or a lone committer);
 * implementations need not be thread-safe.
 */
interface WalSpace extends AutoCloseable {
    /**
     * Makes sure bytes {@code from} (inclusive) to {@code to} (exclusive) of {@code file} are
     * backed by allocated blocks, extending the file if it is shorter; never changes bytes that
     * are already there. Throws if the space cannot be had.
     */
    void reserve(Path file, long from, long to) throws IOException;

    /** Forgets any handle kept for {@code file} (it is complete, or gone). */
    void release(Path file);

    @Override
    void close();
}
