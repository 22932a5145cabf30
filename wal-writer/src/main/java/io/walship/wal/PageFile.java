package io.walship.wal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The page file: page {@code n} at byte {@code n * PAGE_SIZE}, each sealed with its checksum.
 * Thread-safe (positional I/O on one channel).
 *
 * <p>Interrupts: a {@code FileChannel} closes itself when a thread doing I/O on it is interrupted,
 * which would break the page file for every other thread of the store (a cancelled reader would
 * stop it). So an operation runs with the caller's interrupt status cleared (and set again
 * afterwards), and if an interrupt that arrives during the I/O closes the channel anyway, the
 * channel is reopened and the operation, which is positional and idempotent, is done again.
 */
final class PageFile implements AutoCloseable {
    public static final String FILE_NAME = "pages.dat";
    private final Path path;
    private final boolean readOnly;
    private volatile FileChannel channel;
    private volatile boolean closed;

    public PageFile(Path dataDir, boolean readOnly) {
        this.path = dataDir.resolve(FILE_NAME);
        this.readOnly = readOnly;
        try {
            channel = openChannel();
        } catch (IOException e) {
            throw new UncheckedIOException("open " + path + ": " + e.getMessage(), e);
        }
    }

    private FileChannel openChannel() throws IOException {
        return readOnly ? FileChannel.open(path, StandardOpenOption.READ)
                : FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
    }

    /** One positional, idempotent operation on the channel. */
    private interface Io<T> {
        T run(FileChannel ch) throws IOException;
    }

    private <T> T io(Io<T> op) throws IOException {
        return io(op, true);
    }

    /**
     * {@code retry} false: if the channel was closed during the operation, it is reopened for the
     * other threads but the operation is not done again (an fsync: an error it hit may have been
     * swallowed by the close and would not be reported to a new descriptor).
     */
    private <T> T io(Io<T> op, boolean retry) throws IOException {
        boolean interrupted = Thread.interrupted();
        try {
            for (int attempt = 0; ; attempt++) {
                FileChannel ch = channel;
                try {
                    return op.run(ch);
                } catch (ClosedChannelException e) { // also an interrupt's ClosedByInterruptException
                    if (e instanceof ClosedByInterruptException) {
                        interrupted |= Thread.interrupted();
                    }
                    if (closed || attempt >= 10 || !(e instanceof AsynchronousCloseException) && ch.isOpen()) {
                        throw e;
                    }
                    reopen(ch);
                    if (!retry && e instanceof AsynchronousCloseException) {
                        throw e;
                    }
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Replaces {@code broken} (closed by an interrupt) with a new channel, unless another thread already did. */
    private synchronized void reopen(FileChannel broken) throws IOException {
        if (channel == broken && !closed) {
            channel = openChannel();
        }
    }

    public Path path() {
        return path;
    }

    /** Pages physically present in the file. */
    public int pagesOnDisk() {
        try {
            return (int) (io(FileChannel::size) / PageFormat.PAGE_SIZE);
        } catch (IOException e) {
            throw new UncheckedIOException("size of " + path, e);
        }
    }

    /** Reads and verifies a page; returns it with its checksum field cleared. */
    public byte[] read(int pageNo) {
        return read(pageNo, null);
    }

    /** As {@link #read(int)}, into {@code into} (a page-sized array whose content is replaced) unless it is null. */
    public byte[] read(int pageNo, byte[] into) {
        byte[] p = into != null ? into : new byte[PageFormat.PAGE_SIZE];
        ByteBuffer b = ByteBuffer.wrap(p);
        long pos = (long) pageNo * PageFormat.PAGE_SIZE;
        try {
            boolean missing = io(ch -> {
                while (b.hasRemaining()) {
                    if (ch.read(b, pos + b.position()) < 0) {
                        return true;
                    }
                }
                return false;
            });
            if (missing) {
                throw new IntegrityException("page " + pageNo + " is missing from " + path
                        + " (file has " + pagesOnDisk() + " pages)");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("read page " + pageNo + " of " + path + ": " + e.getMessage(), e);
        }
        PageFormat.verifyAndOpen(p, pageNo, path.toString());
        return p;
    }

    /** Writes an in-memory page (sealing a copy with its checksum). Not synced. */
    public void write(int pageNo, byte[] page) {
        writeSealed(pageNo, PageFormat.sealedCopy(page));
    }

    public void writeSealed(int pageNo, byte[] sealed) {
        ByteBuffer b = ByteBuffer.wrap(sealed);
        long pos = (long) pageNo * PageFormat.PAGE_SIZE;
        try {
            io(ch -> {
                while (b.hasRemaining()) {
                    ch.write(b, pos + b.position());
                }
                return null;
            });
        } catch (IOException e) {
            throw new UncheckedIOException("write page " + pageNo + " of " + path + ": " + e.getMessage(), e);
        }
    }

    /** Writes {@code pages} sealed pages held back to back in {@code buf}, from page {@code firstPageNo} on. Not synced. */
    public void writeSealedRun(int firstPageNo, byte[] buf, int pages) {
        ByteBuffer b = ByteBuffer.wrap(buf, 0, pages * PageFormat.PAGE_SIZE);
        long pos = (long) firstPageNo * PageFormat.PAGE_SIZE;
        try {
            io(ch -> {
                while (b.hasRemaining()) {
                    ch.write(b, pos + b.position());
                }
                return null;
            });
        } catch (IOException e) {
            throw new UncheckedIOException("write pages " + firstPageNo + ".." + (firstPageNo + pages - 1) + " of " + path
                    + ": " + e.getMessage(), e);
        }
    }

    /** Cuts the file to {@code pages} pages (an incremental image composed onto a larger one). Not synced. */
    public void truncate(int pages) {
        long size = (long) pages * PageFormat.PAGE_SIZE;
        try {
            io(ch -> {
                ch.truncate(size);
                return null;
            });
        } catch (IOException e) {
            throw new UncheckedIOException("truncate " + path + " to " + pages + " pages: " + e.getMessage(), e);
        }
    }

    public void sync() {
        try {
            io(ch -> {
                ch.force(false);
                return null;
            }, false);
        } catch (IOException e) {
            throw new UncheckedIOException("fsync " + path + ": " + e.getMessage(), e);
        }
    }

    @Override
    public synchronized void close() {
        closed = true;
        try {
            channel.close();
        } catch (IOException e) {
            throw new UncheckedIOException("close " + path, e);
        }
    }
}
