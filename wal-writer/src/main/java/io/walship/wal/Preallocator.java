package io.walship.wal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;

import net.openhft.posix.PosixAPI;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The default {@link WalSpace}: writes zeros over the blocks of the range that still read as
 * zeros, which allocates them and never changes data (PostgreSQL zero-fills its WAL segments for
 * what we take to be the same reason, {@code wal_init_zero}). Blocks claimed with {@code
 * fallocate(2)} instead are <i>unwritten</i> extents on ext4 and XFS, whose conversion to written
 * is metadata: the likely cost is a journal handle for the first store into each page of the
 * mapping after a sync, and a journal commit in each {@code fdatasync} (not traced here: the jbd2
 * tracepoints count nothing in this VM). Measured: at 16 durable committers 37,900 against 27,800
 * commits/s, medians of seven alternating runs on ext4 (docs/BENCHMARKS.md, "Zero-filled WAL
 * space"). {@code -Dwalship.wal.preallocate=fallocate}
 * uses {@code fallocate} (mode 0) through Chronicle's POSIX binding, with one descriptor per file
 * kept while it is written, falling back to zeros where it is not supported. The channel that
 * writes the zeros is {@link Uninterruptible} where possible: a lone committer claims space on its
 * own thread ({@link CommitPipeline}). Used under the append lock only; not thread-safe.
 */
final class Preallocator implements WalSpace {
    private static final Logger LOG = LoggerFactory.getLogger(Preallocator.class);
    /** {@code zeros} (the default) or {@code fallocate}. */
    static final String MODE_PROPERTY = "walship.wal.preallocate";
    private static final int O_RDWR = 2;
    private static final int ENOSYS = 38;
    private static final int EOPNOTSUPP = 95;
    private static final int BLOCK = 4096;
    /** Bytes read, checked and written per step of {@link #writeZeros}: a multiple of {@link #BLOCK}. */
    private static final int CHUNK = 256 << 10;

    private final Map<Path, Integer> descriptors = new HashMap<>();
    private boolean fallocate = "fallocate".equals(System.getProperty(MODE_PROPERTY, "zeros"));
    /** {@link #writeZeros}'s buffers, made on first use (512 KiB of direct memory per store). */
    private ByteBuffer read;
    private ByteBuffer zeros;

    @Override
    public void reserve(Path file, long from, long to) throws IOException {
        if (to <= from) {
            return;
        }
        if (fallocate) {
            Integer fd = descriptor(file);
            if (fd != null) {
                PosixAPI posix = PosixAPI.posix();
                if (posix.fallocate(fd, 0, from, to - from) == 0) {
                    return;
                }
                int errno = posix.lastError();
                if (errno != ENOSYS && errno != EOPNOTSUPP) {
                    release(file); // a retry may be on a new file of this name: it opens its own descriptor
                    throw new IOException("fallocate " + file + " [" + from + ", " + to + "): " + posix.strerror(errno)
                            + " (errno " + errno + ")");
                }
                LOG.info("fallocate is not supported for {} ({}); reserving WAL space by writing zeros", file,
                        posix.strerror(errno));
                fallocate = false;
            }
        }
        writeZeros(file, from, to);
    }

    private Integer descriptor(Path file) {
        Integer fd = descriptors.get(file);
        if (fd != null) {
            return fd;
        }
        try {
            int opened = PosixAPI.posix().open(file.toString(), O_RDWR, 0);
            if (opened < 0) {
                return null; // e.g. the file does not exist yet: the zero writes create it
            }
            descriptors.put(file, opened);
            return opened;
        } catch (RuntimeException | LinkageError e) {
            LOG.info("no native fallocate ({}); reserving WAL space by writing zeros", e.toString());
            fallocate = false;
            return null;
        }
    }

    /**
     * Allocates by writing zeros over every block of the range that reads as zeros (holes included):
     * one read of up to {@value #CHUNK} bytes, then one write per zero block in it (a read and a
     * write per 4 KiB block were ~6 % of the writer thread's CPU). The writes stay one block each on
     * purpose: a 256 KiB write of zeros made the page cache hold the WAL in large folios, and each
     * sync then wrote back a whole folio for the few hundred bytes a group added to it — about 5.5×
     * the bytes written to the disk per commit (docs/BENCHMARKS.md, "WAL space claimed a chunk at a
     * time").
     */
    private void writeZeros(Path file, long from, long to) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            Uninterruptible.make(ch);
            long size = ch.size();
            if (read == null) {
                read = ByteBuffer.allocateDirect(CHUNK);
                zeros = ByteBuffer.allocateDirect(BLOCK); // never written to: stays zero; compared and written a block at most
            }
            for (long chunk = from; chunk < to; ) {
                long chunkEnd = Math.min(to, chunk - chunk % BLOCK + CHUNK); // chunks end on block boundaries
                int got = 0; // bytes of the chunk read; past them the file ends (reads as zeros)
                if (chunk < size) {
                    read.clear().limit((int) (Math.min(chunkEnd, size) - chunk));
                    while (read.hasRemaining() && ch.read(read, chunk + read.position()) >= 0) {
                        // fill the chunk (a short read at the end of the file leaves the rest as zeros)
                    }
                    got = read.position();
                }
                long run = -1; // start of the current run of zero blocks, or -1
                for (long block = chunk; block < chunkEnd; ) {
                    long blockEnd = Math.min(chunkEnd, block - block % BLOCK + BLOCK);
                    if (readsAsZeros((int) (block - chunk), (int) (Math.min(blockEnd - chunk, got)))) {
                        run = run < 0 ? block : run;
                    } else {
                        if (run >= 0) {
                            fillZeros(ch, run, block);
                        }
                        // this block holds data, left alone: allocated up to the end of the file, but the
                        // part of it past that end (the file ends inside it) is still to be claimed
                        long eof = chunk + got;
                        run = blockEnd > eof ? eof : -1;
                    }
                    block = blockEnd;
                }
                if (run >= 0) {
                    fillZeros(ch, run, chunkEnd);
                }
                chunk = chunkEnd;
            }
        }
    }

    /** Whether the bytes {@code [from, to)} of the chunk just read are all zero (none read: yes). */
    private boolean readsAsZeros(int from, int to) {
        if (to <= from) {
            return true;
        }
        return read.slice(from, to - from).mismatch(zeros.clear().slice(0, to - from)) < 0;
    }

    private void fillZeros(FileChannel ch, long from, long to) throws IOException {
        for (long at = from; at < to; ) {
            long end = Math.min(to, at - at % BLOCK + BLOCK); // one block per write: small folios (above)
            zeros.clear().limit((int) (end - at));
            while (zeros.hasRemaining()) {
                ch.write(zeros, at + zeros.position());
            }
            at = end;
        }
    }

    @Override
    public void release(Path file) {
        Integer fd = descriptors.remove(file);
        if (fd != null) {
            PosixAPI.posix().close(fd);
        }
    }

    @Override
    public void close() {
        for (Integer fd : descriptors.values()) {
            PosixAPI.posix().close(fd);
        }
        descriptors.clear();
    }
}
