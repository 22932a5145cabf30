package io.walship.wal;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32C;

/**
 * Turns a snapshot image ({@link Snapshot#openStream}) into a data directory whose checkpoint is
 * the snapshot's LSN: open it as a {@link Store} and apply the entries after that LSN. Every
 * page checksum, the header and the trailer are verified; a bad image leaves an error naming
 * what is wrong. Stateless.
 */
public final class SnapshotLoader {
    /** What a loaded image describes. */
    public record Info(long lsn, int timeline, long systemId, int pageCount, long commitTimeMicros) {
    }

    /**
     * Pages written per system call: two, not more, because what follows a load (a restore's or a
     * follower's replay, evicting pages one by one) overwrites single pages all over the file, and
     * Linux (6.18, ext4) keeps a file's page cache in folios as large as the writes that made
     * them: a 4 KiB write into a 256 KiB folio cost ~7-9 µs of kernel time against ~2 µs into an
     * 8 KiB one (100,000 random page writes into a 200 MB file: 0.9 s against 0.2 s; in a restore of
     * issue 13's data set, ext4_block_write_begin alone was 9 % of all CPU samples). The load's own
     * extra system calls cost less (~0.07 s per 200 MB). docs/BENCHMARKS.md, "Restore: JVM flags,
     * a class archive, and the page cache's folios".
     */
    private static final int RUN_PAGES = 2;

    private SnapshotLoader() {
    }

    /** Reads just the 64-byte header (the stream is left after it). */
    public static Info readHeader(InputStream in) throws IOException {
        byte[] h = in.readNBytes(Snapshot.HEADER_SIZE);
        if (h.length != Snapshot.HEADER_SIZE) {
            throw new IntegrityException("snapshot image ends inside its header (" + h.length + " bytes)");
        }
        ByteBuffer b = ByteBuffer.wrap(h);
        if (b.getInt() != Snapshot.MAGIC) {
            throw new IntegrityException("not a walship snapshot image (bad magic)");
        }
        CRC32C crc = new CRC32C();
        crc.update(h, 0, Snapshot.HEADER_SIZE - 4);
        if ((int) crc.getValue() != b.getInt(Snapshot.HEADER_SIZE - 4)) {
            throw new IntegrityException("snapshot image header fails its checksum");
        }
        int version = b.getShort() & 0xFFFF;
        if (version != Snapshot.FORMAT_VERSION) {
            throw new FormatVersionException("snapshot image", version, Snapshot.FORMAT_VERSION);
        }
        int pageSize = b.getShort() & 0xFFFF;
        if (pageSize != PageFormat.PAGE_SIZE) {
            throw new FormatVersionException("page size of the snapshot image", pageSize, PageFormat.PAGE_SIZE);
        }
        return new Info(b.getLong(), b.getInt(), b.getLong(), b.getInt(), b.getLong());
    }

    /** Writes the image into {@code dataDir}, which must not already hold a store, and syncs it. */
    public static Info load(InputStream in, Path dataDir) {
        return load(in, dataDir, true);
    }

    /**
     * Writes the image into {@code dataDir}; {@code sync} false leaves the page file unsynced, for
     * a caller that writes more pages and syncs once at the end (a restore).
     */
    public static Info load(InputStream in, Path dataDir, boolean sync) {
        try {
            Files.createDirectories(dataDir);
            if (ControlFile.exists(dataDir) || Files.exists(dataDir.resolve(PageFile.FILE_NAME))) {
                throw new WalshipException(dataDir + " already holds a store; refusing to overwrite it");
            }
            Info info = readHeader(in);
            CRC32C pagesCrc = new CRC32C();
            try (PageFile pf = new PageFile(dataDir, false)) {
                byte[] run = new byte[RUN_PAGES * PageFormat.PAGE_SIZE];
                byte[] check = new byte[PageFormat.PAGE_SIZE];
                int inRun = 0;
                for (int i = 0; i < info.pageCount(); i++) {
                    int off = inRun * PageFormat.PAGE_SIZE;
                    if (in.readNBytes(run, off, PageFormat.PAGE_SIZE) != PageFormat.PAGE_SIZE) {
                        throw new IntegrityException("snapshot image ends at page " + i + " of " + info.pageCount());
                    }
                    pagesCrc.update(run, off, PageFormat.PAGE_SIZE);
                    System.arraycopy(run, off, check, 0, PageFormat.PAGE_SIZE);
                    PageFormat.verifyAndOpen(check, i, "snapshot image");
                    if (++inRun == RUN_PAGES) {
                        pf.writeSealedRun(i + 1 - inRun, run, inRun);
                        inRun = 0;
                    }
                }
                if (inRun > 0) {
                    pf.writeSealedRun(info.pageCount() - inRun, run, inRun);
                }
                byte[] t = in.readNBytes(Snapshot.TRAILER_SIZE);
                if (t.length != Snapshot.TRAILER_SIZE
                        || !java.util.Arrays.equals(t, Snapshot.trailer(info.pageCount(), (int) pagesCrc.getValue()))) {
                    throw new IntegrityException("snapshot image trailer is missing or does not match its pages");
                }
                if (sync) {
                    pf.sync();
                }
            }
            new ControlFile(info.systemId(), info.timeline(), info.lsn(), info.commitTimeMicros()).write(dataDir);
            return info;
        } catch (IOException e) {
            throw new UncheckedIOException("load snapshot into " + dataDir + ": " + e.getMessage(), e);
        }
    }
}
