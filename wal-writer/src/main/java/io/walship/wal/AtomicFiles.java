package io.walship.wal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Crash-safe small-file writes (temp file, fsync, atomic rename, fsync of the directory) and
 * directory creation. Stateless; thread-safe.
 */
public final class AtomicFiles {
    private AtomicFiles() {
    }

    public static void write(Path target, byte[] content) {
        Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer b = ByteBuffer.wrap(content);
                while (b.hasRemaining()) {
                    ch.write(b);
                }
                ch.force(true);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            fsyncDirectory(target.toAbsolutePath().getParent());
        } catch (IOException e) {
            throw new UncheckedIOException("write " + target + ": " + e.getMessage(), e);
        }
    }

    /**
     * Creates {@code dir} and any missing parents, and fsyncs the parent of each directory it
     * created, so the new entries survive a crash.
     */
    public static void createDirectories(Path dir) {
        Path abs = dir.toAbsolutePath();
        java.util.ArrayDeque<Path> missing = new java.util.ArrayDeque<>();
        for (Path p = abs; p != null && !Files.isDirectory(p); p = p.getParent()) {
            missing.push(p);
        }
        try {
            while (!missing.isEmpty()) {
                Path p = missing.pop();
                Files.createDirectories(p);
                if (p.getParent() != null) {
                    fsyncDirectory(p.getParent());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("create " + dir + ": " + e.getMessage(), e);
        }
    }

    public static void fsyncDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            Uninterruptible.make(ch); // a WAL sync may run on a committer's thread, which may be interrupted
            ch.force(true);
        } catch (IOException e) {
            // Some file systems cannot open directories for sync; the rename is still atomic.
            if (!e.getMessage().contains("Is a directory")) {
                throw e;
            }
        }
    }
}
