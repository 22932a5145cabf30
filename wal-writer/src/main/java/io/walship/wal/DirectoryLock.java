package io.walship.wal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * An exclusive OS lock on a file in a data directory ({@code LOCK} for the store's writer,
 * {@code ship.lock} for its shipper), holding the owner's pid so that the refusal can name it.
 * The OS drops the lock when the process dies, so a crash never leaves a stale lock.
 * Thread-safe (immutable once acquired).
 */
public final class DirectoryLock implements AutoCloseable {
    private final Path path;
    private final FileChannel channel;
    private final FileLock lock;

    private DirectoryLock(Path path, FileChannel channel, FileLock lock) {
        this.path = path;
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Takes the lock or fails with {@link StoreLockedException}: "{@code what} is already held
     * [by process N]".
     */
    public static DirectoryLock acquire(Path file, String what) {
        try {
            FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE);
            FileLock l;
            try {
                l = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                l = null;
            }
            if (l == null) {
                String holder = Files.readString(file, StandardCharsets.US_ASCII).trim();
                ch.close();
                throw new StoreLockedException(what + (holder.isEmpty() ? "" : " by process " + holder));
            }
            // overwrite, then cut: on a full disk the file keeps the block it has
            ByteBuffer pid = ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII));
            int len = pid.remaining();
            while (pid.hasRemaining()) {
                ch.write(pid, pid.position());
            }
            ch.truncate(len);
            return new DirectoryLock(file, ch, l);
        } catch (IOException e) {
            throw new UncheckedIOException("lock " + file + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        try {
            if (lock.isValid()) {
                lock.release();
            }
            channel.close();
        } catch (IOException e) {
            throw new UncheckedIOException("release " + path + ": " + e.getMessage(), e);
        }
    }
}
