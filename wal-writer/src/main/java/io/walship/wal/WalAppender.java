package io.walship.wal;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.bytes.MappedBytes;
import net.openhft.chronicle.bytes.MappedFile;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.impl.single.PrecreatedFiles;
import net.openhft.chronicle.wire.DocumentContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes encoded entries into the Chronicle Queue, under {@link CommitPipeline}'s append lock (on
 * the writer thread, or a committer's own), and notes which cycle files it wrote to for the sync.
 *
 * <p>Before an entry is written, the bytes it will occupy are claimed on disk ({@link WalSpace}):
 * up to {@link #MARGIN} past the entry (room for Chronicle's index arrays and end-of-file marker),
 * {@link #STEP} at a time. When the entry will open a new cycle file, that file is created first
 * under Chronicle's pre-created name ({@code NAME.precreated}) with its first {@link #STEP}
 * claimed; Chronicle renames it into place when it rolls. The cycle checked is the cycle written
 * to, because the queue's clock is pinned for the append ({@link WalClock}). So a full disk is an
 * {@link StorageFullException} before anything of the entry is written, never a fault half-way.
 *
 * <p>Two kinds of failure: {@link StorageFullException} (nothing written; the caller rolls back
 * and the store goes on) and {@link BrokenAppend} (Chronicle failed while the document was open:
 * the document is rolled back if Chronicle still can, but the queue's state is not trusted any
 * more and the store must stop). Not thread-safe: one thread at a time, under the append lock
 * (which gives each thread that takes it everything its predecessor wrote). Chronicle's own check
 * that an appender stays on the thread that first used it is turned off for this appender
 * ({@code singleThreadedCheckDisabled}): the lock is what keeps it to one thread at a time.
 */
final class WalAppender implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(WalAppender.class);
    /** Disk space is claimed this much at a time. */
    static final long STEP = 1 << 20;
    /** Claimed beyond the end of the entry about to be written. */
    static final long MARGIN = 256 << 10;

    /** A file written to since the last {@link #drain}; {@code sealed}: the writer has moved on to a later file. */
    record Target(Path file, long end, boolean sealed) {
        Target merge(Target o) {
            return new Target(file, Math.max(end, o.end), sealed || o.sealed);
        }
    }

    /** Chronicle failed with the document open; the queue can no longer be trusted. */
    static final class BrokenAppend extends RuntimeException {
        BrokenAppend(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private final WalLog wal;
    private final WalSpace space;
    private final ExcerptAppender appender;
    /** Files written to since the last {@link #drain}, oldest first, but the current file (see {@link #wroteToFile}). */
    private final Map<Path, Target> written = new LinkedHashMap<>();
    /**
     * The current {@link #file} was written to since the last {@link #drain}, up to {@link #end}: its
     * target is made at the drain, once per group, instead of a map merge and two allocations per entry.
     */
    private boolean wroteToFile;
    private Path file;
    private int cycle;
    private long end;
    private long reservedEnd;
    private Path precreated;
    private long precreatedSize;
    /** The last file whose Chronicle channel was made uninterruptible. */
    private Path uninterruptible;

    /** {@code walEnd}: where recovery found the WAL to end (null: unknown, or no file yet). */
    WalAppender(WalLog wal, WalSpace space, WalLog.End walEnd) {
        this.wal = wal;
        this.space = space;
        this.appender = wal.queue().createAppender();
        // used by whichever thread holds the append lock, one at a time: the lock serialises it, not
        // the thread that first touched it (Chronicle's check would refuse the second thread)
        appender.singleThreadedCheckDisabled(true);
        if (walEnd != null) {
            file = walEnd.file();
            cycle = walEnd.cycle();
            end = walEnd.position();
            reservedEnd = end;
        } else {
            cycle = Integer.MIN_VALUE;
        }
        int lastCycle = walEnd != null ? walEnd.cycle() : wal.queue().lastCycle();
        if (lastCycle >= 0 && lastCycle != Integer.MAX_VALUE) {
            wal.clock().notBefore((long) lastCycle * wal.rollCycle().lengthInMillis() + wal.queue().epoch());
        }
    }

    /**
     * Whether an entry appended now would open a new WAL file (a new cycle, or none open yet).
     * Advisory: the clock may cross into the next cycle between this answer and the append.
     */
    boolean opensNewFile() {
        return file == null || wal.cycleNow() != cycle;
    }

    /**
     * Appends one entry.
     *
     * @throws StorageFullException if there is no disk space for it; nothing was written
     * @throws BrokenAppend if Chronicle failed with the document open
     */
    void append(byte[] entry) {
        WalClock clock = wal.clock();
        clock.pin();
        try {
            int now = wal.cycleNow();
            if (now != cycle || file == null) {
                prepareNewFile(now, entry.length);
            } else {
                reserve(file, end + entry.length + MARGIN);
            }
            write(entry, now);
        } finally {
            clock.unpin();
        }
    }

    private void prepareNewFile(int newCycle, int entryLength) {
        Path target = wal.cycleFile(newCycle);
        if (Files.exists(target)) {
            precreated = null; // Chronicle reopens it; its end is unknown here, claimed after the first append
            return;
        }
        Path pre = PrecreatedFiles.preCreatedFile(target.toFile()).toPath();
        long size = roundUp(WalAppender.MARGIN + entryLength + STEP);
        try {
            Files.deleteIfExists(pre);
            Files.createFile(pre);
            try {
                space.reserve(pre, 0, size);
            } finally {
                space.release(pre); // also after a failed claim: a retry makes a new file of this name
            }
        } catch (IOException e) {
            throw full("create the next WAL file " + pre.getFileName() + " (" + size + " bytes)", pre, e);
        }
        precreated = pre;
        precreatedSize = size;
    }

    private void reserve(Path f, long needed) {
        if (needed <= reservedEnd) {
            return;
        }
        long to = roundUp(needed + STEP);
        try {
            space.reserve(f, reservedEnd, to);
        } catch (IOException e) {
            throw full("reserve WAL space in " + f.getFileName() + " [" + reservedEnd + ", " + to + ")", f, e);
        }
        reservedEnd = to;
    }

    private StorageFullException full(String what, Path f, IOException e) {
        String free = "";
        try {
            FileStore store = Files.getFileStore(wal.dir());
            free = "; " + store.getUsableSpace() + " bytes free on " + store;
        } catch (IOException ignored) {
            // the message goes without it
        }
        return new StorageFullException("no space for the WAL: " + what + " failed: " + e.getMessage() + free
                + "; nothing of the commit was written; free space and retry", e);
    }

    private void write(byte[] entry, int now) {
        Path f;
        long e;
        MappedFile mapped;
        try (DocumentContext dc = appender.writingDocument()) {
            try {
                Bytes<?> bytes = dc.wire().bytes();
                bytes.write(entry);
                e = bytes.writePosition();
                mapped = bytes instanceof MappedBytes mb ? mb.mappedFile() : null;
                f = mapped == null ? null : mapped.file().toPath();
            } catch (Throwable t) {
                dc.rollbackOnClose();
                throw t;
            }
        } catch (Throwable t) {
            throw new BrokenAppend("Chronicle failed while appending an entry of " + entry.length + " bytes to "
                    + (file == null ? wal.dir() : file) + ": " + t, t);
        }
        if (f == null) {
            throw new BrokenAppend("the WAL queue is not memory-mapped", null);
        }
        // the same file's Path is the same instance (Chronicle's File caches it): equals compares
        // the path's bytes and has no identity shortcut, so look for the identity first
        if (f != uninterruptible && !f.equals(uninterruptible)) {
            // Chronicle maps the file's next chunks through this channel, on the appending thread,
            // which may be a committer's: an interrupt there would close it (a broken append)
            Uninterruptible.make(mapped.raf().getChannel());
            uninterruptible = f;
        }
        if (f != file && !f.equals(file)) {
            rolled(f, now);
        }
        end = e;
        wroteToFile = true;
    }

    /** The append went to a new file: the old one is complete (Chronicle wrote its end-of-file mark). */
    private void rolled(Path f, int now) {
        if (file != null) {
            written.merge(file, new Target(file, Long.MAX_VALUE, true), Target::merge);
            wroteToFile = false; // covered: the sealed target reaches the file's end
            space.release(file);
        }
        file = f;
        cycle = now;
        if (precreated != null && !Files.exists(precreated)) {
            reservedEnd = precreatedSize; // Chronicle took the pre-created file: its start is claimed
        } else {
            if (precreated != null) {
                LOG.warn("Chronicle created {} without taking the pre-created {}", f, precreated);
                try {
                    Files.deleteIfExists(precreated);
                } catch (IOException e) {
                    LOG.warn("delete {}: {}", precreated, e.getMessage());
                }
            }
            reservedEnd = 0;
        }
        precreated = null;
    }

    /** The files written to since the last call, oldest first (append lock held, when publishing). */
    List<Target> drain() {
        if (wroteToFile) {
            written.merge(file, new Target(file, end, false), Target::merge);
            wroteToFile = false;
        }
        if (written.isEmpty()) {
            return List.of();
        }
        List<Target> out = new ArrayList<>(written.values());
        written.clear();
        return out;
    }

    private static long roundUp(long n) {
        return (n + 4095) & ~4095L;
    }

    @Override
    public void close() {
        try {
            appender.close();
        } finally {
            space.close();
        }
    }
}
