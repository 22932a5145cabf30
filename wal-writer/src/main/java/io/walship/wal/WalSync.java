package io.walship.wal;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

/**
 * How WAL files are made durable: the one seam between the commit path and the disk's flush,
 * so that tests can make a sync fail or record what was synced.
 *
 * <p>Why not Chronicle's own sync: in Chronicle Queue 2026.4 {@code ExcerptAppender.sync()} and
 * {@code MappedBytesStore.syncUpTo} end in {@code MappedBytesStore.performMsync}, which only
 * logs "msync failed" and returns; it also counts the range as synced, so nothing would ever
 * retry it, and it returns silently if the mapping was already released. A failed sync must
 * stop the store instead. {@code FileChannel.force(false)} is {@code fdatasync(2)}, which throws
 * on failure; on Linux the page cache is shared with the mapping and pages dirtied through it
 * are tracked, so {@code fdatasync} writes them back exactly as {@code msync(MS_SYNC)} would
 * ({@code msync} itself ends in {@code vfs_fsync_range} on the mapped file), and the error
 * sequence of the file reports a write-back failure to the next {@code fdatasync} on any
 * descriptor that has not yet seen it.
 *
 * <p>Implementations must be thread-safe; the store calls them from its sync thread and, while
 * opening, from the opening thread.
 */
interface WalSync {
    /** {@code fdatasync} of the file, and {@code fsync} of directories. */
    WalSync SYSTEM = new WalSync() {
        @Override
        public void force(Path file, FileChannel channel, long upTo) throws IOException {
            channel.force(false);
        }

        @Override
        public void forceDirectory(Path dir) throws IOException {
            AtomicFiles.fsyncDirectory(dir);
        }
    };

    /**
     * Makes everything written to {@code file} so far durable, or throws. {@code upTo} is the end
     * of the last entry the caller needs (informational: the whole file is synced);
     * {@link Long#MAX_VALUE} when the file is complete (rolled away from).
     */
    void force(Path file, FileChannel channel, long upTo) throws IOException;

    /** Makes the entries of a directory (new or renamed files) durable, or throws. */
    void forceDirectory(Path dir) throws IOException;
}
