package io.walship.wal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.core.time.SetTimeProvider;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.queue.RollCycle;
import net.openhft.chronicle.queue.impl.single.PrecreatedFiles;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Cuts the WAL off right after the last entry recovery keeps, so that no reader — in this
 * process or another, now or after a restart — can ever see what lay beyond, and the next append
 * lands right after that entry. etcd's torn-tail repair, for a Chronicle Queue.
 *
 * <p>Chronicle cannot truncate a queue, and stale bytes past the cut are not harmless where they
 * are: its appender writes after the last document that is complete <i>to Chronicle</i> (an entry
 * that fails our checksum still is), starting from a write position kept in the file header that
 * a power loss may have left anywhere, and its index arrays may point past the cut. So the cycle
 * file holding the last kept entry is rebuilt: its documents up to and including that entry are
 * copied, in order, into a fresh queue file of the same cycle (every kept entry keeps its queue
 * index), which then replaces the original. Later cycle files are set aside. Each step leaves a
 * WAL that opens, and a crash in between only makes the next open repeat the repair:
 * <ol>
 *   <li>copy into {@code DATA/wal.repair/} and sync it;</li>
 *   <li>keep the original as {@code NAME.cq4.broken} (a hard link; {@code .broken-2}, … if taken);</li>
 *   <li>rename every later cycle file to {@code NAME.cq4.broken};</li>
 *   <li>rename the rebuilt file over the original (atomic), sync {@code wal/}, remove the copy's directory.</li>
 * </ol>
 * The {@code .broken} files are what was cut off, for inspection; Chronicle and retention ignore
 * them, the operator deletes them. Not thread-safe; runs while the store is being opened.
 */
final class TornTailRepair {
    private static final Logger LOG = LoggerFactory.getLogger(TornTailRepair.class);
    static final String BROKEN_SUFFIX = ".broken";
    static final String REPAIR_DIR = "wal.repair";

    private TornTailRepair() {
    }

    /**
     * Cuts the WAL after queue index {@code lastKeptIndex} (-1: keep nothing, every cycle file is
     * set aside); {@code keptBytes}: how far into its file the kept documents reach (the space the
     * rebuilt file is given before Chronicle writes it). Reads from {@code wal} and closes it; the
     * caller opens the queue again.
     * Returns the {@code .broken} files that hold what was cut off (and the original file).
     */
    static List<Path> cut(Path dataDir, WalLog wal, long lastKeptIndex, long keptBytes, WalSeams seams) {
        WalSync sync = seams.sync();
        RollCycle rc = wal.rollCycle();
        List<WalLog.CycleFile> files = wal.cycleFiles();
        Path original = null;
        Path rebuilt = null;
        int keptCycle = Integer.MIN_VALUE;
        try {
            if (lastKeptIndex >= 0) {
                keptCycle = rc.toCycle(lastKeptIndex);
                original = wal.cycleFile(keptCycle);
                rebuilt = rebuild(dataDir, wal, keptCycle, lastKeptIndex, original.getFileName().toString(), keptBytes,
                        seams);
            }
        } finally {
            wal.close();
        }
        List<Path> broken = new ArrayList<>();
        try {
            if (original != null) {
                Path copy = brokenName(original);
                try {
                    Files.createLink(copy, original);
                } catch (UnsupportedOperationException | IOException e) {
                    Files.copy(original, copy);
                }
                broken.add(copy);
            }
            for (WalLog.CycleFile f : files) {
                if (f.cycle() > keptCycle) {
                    Path b = brokenName(f.path());
                    Files.move(f.path(), b);
                    broken.add(b);
                }
            }
            if (rebuilt != null) {
                Files.move(rebuilt, original, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            }
            sync.forceDirectory(dataDir.resolve(WalLog.DIR_NAME));
            deleteTree(dataDir.resolve(REPAIR_DIR));
            sync.forceDirectory(dataDir);
        } catch (IOException e) {
            throw new UncheckedIOException("cutting the torn tail off the WAL in " + dataDir + ": " + e.getMessage(), e);
        }
        return broken;
    }

    /** Copies cycle {@code cycle}'s documents up to {@code lastIndex} into a fresh file; returns it. */
    private static Path rebuild(Path dataDir, WalLog wal, int cycle, long lastIndex, String fileName, long keptBytes,
                                WalSeams seams) {
        WalSync sync = seams.sync();
        Path tmp = dataDir.resolve(REPAIR_DIR);
        RollCycle rc = wal.rollCycle();
        long cycleStart = (long) cycle * rc.lengthInMillis() + wal.queue().epoch();
        SetTimeProvider time = new SetTimeProvider(Instant.ofEpochMilli(cycleStart + 1));
        try {
            deleteTree(tmp);
            Files.createDirectories(tmp);
            // claim the file's space first (Chronicle takes a pre-created file), so that a full disk
            // is an IOException here and not a SIGBUS in Chronicle's mapped writes
            Path pre = PrecreatedFiles.preCreatedFile(tmp.resolve(fileName).toFile()).toPath();
            Files.createFile(pre);
            try (WalSpace space = seams.space().get()) {
                space.reserve(pre, 0, keptBytes + WalAppender.MARGIN + WalAppender.STEP);
            }
            try (SingleChronicleQueue q = SingleChronicleQueueBuilder.binary(tmp.toFile()).rollCycle(rc)
                    .epoch(wal.queue().epoch()).timeProvider(time).build();
                 ExcerptAppender a = q.createAppender();
                 ExcerptTailer t = wal.tailer()) {
                long first = rc.toIndex(cycle, 0);
                if (!t.moveToIndex(first)) {
                    throw new IntegrityException("cannot cut the WAL's torn tail: queue index " + Long.toHexString(first)
                            + " (the start of " + fileName + ") cannot be read");
                }
                for (long expect = first; expect <= lastIndex; expect++) {
                    WalLog.RawEntry e = WalLog.read(t);
                    if (e == null || e.index() != expect) {
                        throw new IntegrityException("cannot cut the WAL's torn tail: expected queue index "
                                + Long.toHexString(expect) + " in " + fileName + " but found "
                                + (e == null ? "nothing" : Long.toHexString(e.index())));
                    }
                    a.writeBytes(Bytes.wrapForRead(e.bytes()));
                }
                if (a.lastIndexAppended() != lastIndex) {
                    throw new IntegrityException("cannot cut the WAL's torn tail: the rebuilt " + fileName
                            + " ends at queue index " + Long.toHexString(a.lastIndexAppended()) + ", not "
                            + Long.toHexString(lastIndex));
                }
            }
            if (Files.exists(pre)) {
                LOG.warn("rebuilding {}: Chronicle did not take the pre-created file, so its space was not claimed first",
                        fileName);
            }
            Path out = tmp.resolve(fileName);
            if (!Files.exists(out)) {
                throw new IntegrityException("cannot cut the WAL's torn tail: rebuilding " + fileName + " made no such file");
            }
            try (FileChannel ch = FileChannel.open(out, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                sync.force(out, ch, Long.MAX_VALUE);
            }
            sync.forceDirectory(tmp);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("rebuilding " + fileName + " in " + tmp + ": " + e.getMessage(), e);
        } catch (InternalError e) {
            throw new StorageFullException("rebuilding " + fileName + " in " + tmp + " faulted writing the mapped file ("
                    + e.getMessage() + "); is the disk full? The WAL is unchanged; free space and open again", e);
        }
    }

    private static Path brokenName(Path file) {
        Path b = file.resolveSibling(file.getFileName() + BROKEN_SUFFIX);
        for (int n = 2; Files.exists(b); n++) {
            b = file.resolveSibling(file.getFileName() + BROKEN_SUFFIX + "-" + n);
        }
        return b;
    }

    /** Removes a leftover of an interrupted repair. */
    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
