package io.walship.wal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The page file: page {@code n} at byte {@code n * PAGE_SIZE}, each sealed with its checksum.
 * Thread-safe (positional I/O on one channel).
 */
final class PageFile implements AutoCloseable {
    public static final String FILE_NAME = "pages.dat";
    private final Path path;
    private final FileChannel channel;

    public PageFile(Path dataDir, boolean readOnly) {
        this.path = dataDir.resolve(FILE_NAME);
        try {
            channel = readOnly ? FileChannel.open(path, StandardOpenOption.READ)
                    : FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new UncheckedIOException("open " + path + ": " + e.getMessage(), e);
        }
    }

    public Path path() {
        return path;
    }

    /** Pages physically present in the file. */
    public int pagesOnDisk() {
        try {
            return (int) (channel.size() / PageFormat.PAGE_SIZE);
        } catch (IOException e) {
            throw new UncheckedIOException("size of " + path, e);
        }
    }

    /** Reads and verifies a page; returns it with its checksum field cleared. */
    public byte[] read(int pageNo) {
        byte[] p = new byte[PageFormat.PAGE_SIZE];
        ByteBuffer b = ByteBuffer.wrap(p);
        long pos = (long) pageNo * PageFormat.PAGE_SIZE;
        try {
            while (b.hasRemaining()) {
                int n = channel.read(b, pos + b.position());
                if (n < 0) {
                    throw new IntegrityException("page " + pageNo + " is missing from " + path
                            + " (file has " + pagesOnDisk() + " pages)");
                }
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
            while (b.hasRemaining()) {
                channel.write(b, pos + b.position());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("write page " + pageNo + " of " + path + ": " + e.getMessage(), e);
        }
    }

    /** Writes {@code pages} sealed pages held back to back in {@code buf}, from page {@code firstPageNo} on. Not synced. */
    public void writeSealedRun(int firstPageNo, byte[] buf, int pages) {
        ByteBuffer b = ByteBuffer.wrap(buf, 0, pages * PageFormat.PAGE_SIZE);
        long pos = (long) firstPageNo * PageFormat.PAGE_SIZE;
        try {
            while (b.hasRemaining()) {
                channel.write(b, pos + b.position());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("write pages " + firstPageNo + ".." + (firstPageNo + pages - 1) + " of " + path
                    + ": " + e.getMessage(), e);
        }
    }

    public void sync() {
        try {
            channel.force(false);
        } catch (IOException e) {
            throw new UncheckedIOException("fsync " + path + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            throw new UncheckedIOException("close " + path, e);
        }
    }
}
