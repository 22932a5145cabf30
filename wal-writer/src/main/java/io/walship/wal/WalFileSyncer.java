package io.walship.wal;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Syncs the WAL files a group of commits was written to, through {@link WalSync}: one
 * {@code fdatasync} per file. A file seen for the first time (a new cycle file) also gets its
 * directory entry and Chronicle's metadata file (which lists the cycles) synced, once; a file the
 * writer has moved on from is synced a last time (with Chronicle's end-of-file mark) and its
 * descriptor closed. Descriptors stay open while a file is being written, so that a write-back
 * error the kernel records for it is reported to the next sync.
 *
 * <p>Not thread-safe: used under {@link CommitPipeline}'s sync lock (by the sync thread, or a
 * committer leading its own sync). Its channels are {@link Uninterruptible}: an interrupted
 * committer does not close them.
 */
final class WalFileSyncer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(WalFileSyncer.class);

    private final WalLog wal;
    private final WalSync sync;
    private final Map<Path, FileChannel> channels = new HashMap<>();
    /** Files whose directory entry is known durable. */
    private final Set<Path> announced = new HashSet<>();

    /** {@code durableFile}: a file whose directory entry recovery already synced (may be null). */
    WalFileSyncer(WalLog wal, WalSync sync, Path durableFile) {
        this.wal = wal;
        this.sync = sync;
        if (durableFile != null) {
            announced.add(durableFile);
        }
    }

    /** Syncs every file of a group, oldest first; throws on the first failure ("sync of FILE failed: …"). */
    void sync(List<WalAppender.Target> targets) throws IOException {
        for (WalAppender.Target t : targets) {
            try {
                syncOne(t);
            } catch (IOException e) {
                throw new IOException("sync of " + t.file() + " failed: " + e.getMessage(), e);
            }
        }
    }

    private void syncOne(WalAppender.Target t) throws IOException {
        FileChannel ch = channels.get(t.file());
        if (ch == null) {
            try {
                ch = open(t.file());
            } catch (NoSuchFileException e) {
                if (t.sealed()) {
                    LOG.debug("{} is gone (retention) before its final sync", t.file());
                    return;
                }
                throw e;
            }
        }
        sync.force(t.file(), ch, t.end());
        if (announced.add(t.file())) {
            sync.forceDirectory(wal.dir());
            Path meta = wal.metadataFile();
            FileChannel m = channels.get(meta);
            sync.force(meta, m == null ? open(meta) : m, Long.MAX_VALUE);
        }
        if (t.sealed()) {
            channels.remove(t.file());
            announced.remove(t.file());
            ch.close();
        }
    }

    private FileChannel open(Path file) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
        // a committer leading a sync may be interrupted: that must not close the channel (fail-stop)
        Uninterruptible.make(ch);
        channels.put(file, ch);
        return ch;
    }

    @Override
    public void close() {
        for (Map.Entry<Path, FileChannel> e : channels.entrySet()) {
            try {
                e.getValue().close();
            } catch (IOException x) {
                LOG.warn("close {}: {}", e.getKey(), x.getMessage());
            }
        }
        channels.clear();
    }
}
