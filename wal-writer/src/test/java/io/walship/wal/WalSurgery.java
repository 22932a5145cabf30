package io.walship.wal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.stream.Stream;

import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.queue.RollCycles;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;

/** Test helpers that damage or extend a stopped store's WAL the way crashes and power losses do. */
final class WalSurgery {
    private WalSurgery() {
    }

    /** Appends raw documents to the WAL queue, as a writer that crashed before syncing would have. */
    static void appendRaw(Path dataDir, byte[]... documents) {
        try (SingleChronicleQueue q = SingleChronicleQueueBuilder.binary(dataDir.resolve(WalLog.DIR_NAME).toFile())
                .rollCycle(RollCycles.FAST_HOURLY).build();
             ExcerptAppender a = q.createAppender()) {
            for (byte[] d : documents) {
                a.writeBytes(Bytes.wrapForRead(d));
            }
        }
    }

    /** A valid entry for {@code lsn} that changes a few bytes of page 1 (stale content, never applied). */
    static byte[] entry(long lsn, int fill) {
        byte[] bytes = new byte[64];
        java.util.Arrays.fill(bytes, (byte) fill);
        return EntryCodec.encode(lsn, 1, 1L, List.of(new PageChange(1, 200, bytes, false)));
    }

    /**
     * The raw WAL documents of {@code n} commits made after the store's current end, on a copy of
     * the (stopped) store: what the store would have written next, with its real page changes.
     */
    static byte[][] continuation(Path dataDir, Path scratch, int n, String prefix) {
        copyTree(dataDir, scratch);
        long from;
        try (Store copy = Store.open(scratch)) {
            from = copy.lastLsn() + 1;
            for (int i = 0; i < n; i++) {
                copy.put((prefix + i).getBytes(java.nio.charset.StandardCharsets.UTF_8),
                        ("stale-" + i).getBytes(java.nio.charset.StandardCharsets.UTF_8));
            }
        }
        byte[][] out = new byte[n][];
        try (WalReader r = WalReader.open(scratch)) {
            r.seek(from);
            for (int i = 0; i < n; i++) {
                r.next();
                out[i] = r.lastEntryBytes();
            }
        }
        return out;
    }

    /**
     * Copies a data directory, also while a store writes to it: the lock file and files being
     * replaced ({@code *.tmp}) are left out, and a file that vanishes meanwhile is skipped.
     */
    static void copyTree(Path from, Path to) {
        try {
            Files.walkFileTree(from, new java.nio.file.SimpleFileVisitor<>() {
                @Override
                public java.nio.file.FileVisitResult preVisitDirectory(Path dir,
                        java.nio.file.attribute.BasicFileAttributes attrs) throws IOException {
                    Files.createDirectories(to.resolve(from.relativize(dir).toString()));
                    return java.nio.file.FileVisitResult.CONTINUE;
                }

                @Override
                public java.nio.file.FileVisitResult visitFile(Path p, java.nio.file.attribute.BasicFileAttributes attrs)
                        throws IOException {
                    String name = p.getFileName().toString();
                    if (!name.equals(Store.LOCK_FILE) && !name.endsWith(".tmp")) {
                        try {
                            Files.copy(p, to.resolve(from.relativize(p).toString()));
                        } catch (java.nio.file.NoSuchFileException gone) {
                            // replaced or deleted while copying
                        }
                    }
                    return java.nio.file.FileVisitResult.CONTINUE;
                }

                @Override
                public java.nio.file.FileVisitResult visitFileFailed(Path p, IOException e) throws IOException {
                    if (e instanceof java.nio.file.NoSuchFileException) {
                        return java.nio.file.FileVisitResult.CONTINUE; // listed, then replaced (control.tmp) or deleted
                    }
                    throw e;
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Where the document holding LSN {@code lsn} lies (its body; the header is the 4 bytes before). */
    static WalLog.Located locate(Path dataDir, long lsn) {
        try (WalLog log = new WalLog(dataDir, true, null); ExcerptTailer t = log.tailer()) {
            WalLog.Located d;
            while ((d = WalLog.readLocated(t)) != null) {
                if (d.raw().headerLsn() == lsn) {
                    return d;
                }
            }
        }
        throw new AssertionError("LSN " + lsn + " is not in the WAL of " + dataDir);
    }

    static void zero(Path file, long position, int length) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ByteBuffer z = ByteBuffer.allocate(length);
            while (z.hasRemaining()) {
                ch.write(z, position + z.position());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Overwrites the durable point, as if the writer had published {@code lsn}. */
    static void setDurablePoint(Path dataDir, long lsn) {
        long systemId = ControlFile.read(dataDir).systemId();
        long generation;
        try (DurablePoint p = DurablePoint.openForWriting(dataDir, systemId)) {
            generation = p.generation();
            p.reset(generation, lsn);
        }
    }

    /**
     * Rewrites the durable point as the writer of another boot left it (not closed cleanly), at
     * {@code lsn}: what recovery finds after a power loss and a restart.
     */
    static void durablePointFromAnotherBoot(Path dataDir, long lsn) {
        ControlFile c = ControlFile.read(dataDir);
        long generation;
        try (DurablePoint.Reader r = new DurablePoint.Reader(dataDir)) {
            generation = r.read().map(DurablePoint.Value::generation).orElse(0L);
        }
        byte[] otherBoot = new byte[16];
        java.util.Arrays.fill(otherBoot, (byte) 0x5A);
        try {
            Files.write(dataDir.resolve(DurablePoint.FILE_NAME),
                    DurablePoint.encode(0, c.systemId(), generation, lsn, otherBoot));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static long durablePoint(Path dataDir) {
        try (DurablePoint.Reader r = new DurablePoint.Reader(dataDir)) {
            return r.read().orElseThrow().lsn();
        }
    }

    static List<Path> files(Path dir, String suffix) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(suffix)).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
