package io.walship.wal;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.zip.CRC32C;

/**
 * An incremental snapshot image: the pages of a snapshot whose page LSN is newer than a parent
 * image's LSN (and every page past the parent's page count), each with its page number. Composed
 * onto the parent's pages it gives the snapshot's image byte for byte; docs/FORMAT.md
 * ("Incremental image"). Every commit stamps each page it changes with its LSN ({@code PageTxn.seal},
 * and replay copies those bytes), which is what makes "page LSN ≤ parent LSN" mean "as in the parent".
 *
 * <p>{@link #write} filters a whole snapshot image stream into an incremental one (one pass, one page in
 * memory); {@link #apply} writes one onto a data directory that holds its parent's composition; {@link
 * #imageSha256} hashes a data directory's pages as the full image would be, so that a composed chain is
 * checked against the SHA-256 of the image it stands for. Stateless.
 */
public final class IncrementalImage {
    public static final int MAGIC = 0x57535349; // 'WSSI'
    public static final int FORMAT_VERSION = 1;
    public static final int HEADER_SIZE = 64;
    public static final int TRAILER_SIZE = 16;
    /** The page-number field value that ends the records (no page has this number). */
    public static final int END = 0xFFFFFFFF;

    /** What an incremental image is built on: the parent image's LSN, timeline and page count. */
    public record Parent(long lsn, int timeline, int pageCount) {
    }

    /** An incremental image's header. */
    public record Info(long lsn, int timeline, long systemId, int pageCount, long commitTimeMicros, Parent parent) {
    }

    /** What {@link #write} produced: the full image's header, the pages sent and the bytes written. */
    public record Written(SnapshotLoader.Info image, int pages, long bytes) {
    }

    private IncrementalImage() {
    }

    static byte[] header(long lsn, int timeline, long systemId, int pageCount, long commitTimeMicros, Parent parent) {
        ByteBuffer b = ByteBuffer.allocate(HEADER_SIZE);
        b.putInt(MAGIC).putShort((short) FORMAT_VERSION).putShort((short) PageFormat.PAGE_SIZE);
        b.putLong(lsn).putInt(timeline).putLong(systemId).putInt(pageCount).putLong(commitTimeMicros);
        b.putLong(parent.lsn()).putInt(parent.timeline()).putInt(parent.pageCount());
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, HEADER_SIZE - 4);
        b.putInt(HEADER_SIZE - 4, (int) crc.getValue());
        return b.array();
    }

    static byte[] trailer(int pages, int recordsCrc) {
        ByteBuffer b = ByteBuffer.allocate(TRAILER_SIZE);
        b.putInt(END).putInt(pages).putInt(recordsCrc);
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, 12);
        b.putInt((int) crc.getValue());
        return b.array();
    }

    /**
     * Reads a whole snapshot image ({@link Snapshot#openStream}) from {@code fullImage} and writes to
     * {@code out} the incremental image against {@code parent}. The full image is checked as it
     * passes (page checksums, trailer, nothing after it), and no page may carry an LSN past the image's.
     *
     * @throws IntegrityException if the full image is damaged, or is older than the parent
     */
    public static Written write(InputStream fullImage, Parent parent, OutputStream out) throws IOException {
        SnapshotLoader.Info info = SnapshotLoader.readHeader(fullImage);
        if (info.lsn() < parent.lsn()) {
            throw new IntegrityException("snapshot at LSN " + Lsn.format(info.lsn()) + " is older than the parent"
                    + " backup at LSN " + Lsn.format(parent.lsn()) + " it would be incremental to");
        }
        byte[] h = header(info.lsn(), info.timeline(), info.systemId(), info.pageCount(), info.commitTimeMicros(), parent);
        out.write(h);
        long bytes = h.length;
        CRC32C pagesCrc = new CRC32C();
        CRC32C recordsCrc = new CRC32C();
        byte[] page = new byte[PageFormat.PAGE_SIZE];
        byte[] no = new byte[4];
        int sent = 0;
        for (int i = 0; i < info.pageCount(); i++) {
            if (fullImage.readNBytes(page, 0, page.length) != page.length) {
                throw new IntegrityException("snapshot image ends at page " + i + " of " + info.pageCount());
            }
            pagesCrc.update(page);
            if (PageFormat.getInt(page, PageFormat.OFF_CRC) != PageFormat.checksum(page)) {
                throw new IntegrityException("page " + i + " of the snapshot image fails its checksum");
            }
            long pageLsn = PageFormat.lsn(page);
            if (pageLsn > info.lsn()) {
                throw new IntegrityException("page " + i + " of the snapshot at LSN " + Lsn.format(info.lsn())
                        + " carries the later LSN " + Lsn.format(pageLsn));
            }
            if (i >= parent.pageCount() || pageLsn > parent.lsn()) {
                ByteBuffer.wrap(no).putInt(i);
                recordsCrc.update(no);
                recordsCrc.update(page);
                out.write(no);
                out.write(page);
                bytes += 4 + page.length;
                sent++;
            }
        }
        byte[] t = fullImage.readNBytes(Snapshot.TRAILER_SIZE);
        if (t.length != Snapshot.TRAILER_SIZE
                || !java.util.Arrays.equals(t, Snapshot.trailer(info.pageCount(), (int) pagesCrc.getValue()))) {
            throw new IntegrityException("snapshot image trailer is missing or does not match its pages");
        }
        if (fullImage.read() != -1) {
            throw new IntegrityException("snapshot image has bytes after its trailer");
        }
        byte[] tr = trailer(sent, (int) recordsCrc.getValue());
        out.write(tr);
        bytes += tr.length;
        return new Written(info, sent, bytes);
    }

    /** Reads and checks the 64-byte header (the stream is left after it). */
    public static Info readHeader(InputStream in) throws IOException {
        byte[] h = in.readNBytes(HEADER_SIZE);
        if (h.length != HEADER_SIZE) {
            throw new IntegrityException("incremental image ends inside its header (" + h.length + " bytes)");
        }
        ByteBuffer b = ByteBuffer.wrap(h);
        if (b.getInt() != MAGIC) {
            throw new IntegrityException("not a walship incremental image (bad magic)");
        }
        CRC32C crc = new CRC32C();
        crc.update(h, 0, HEADER_SIZE - 4);
        if ((int) crc.getValue() != b.getInt(HEADER_SIZE - 4)) {
            throw new IntegrityException("incremental image header fails its checksum");
        }
        int version = b.getShort() & 0xFFFF;
        if (version != FORMAT_VERSION) {
            throw new FormatVersionException("incremental image", version, FORMAT_VERSION);
        }
        int pageSize = b.getShort() & 0xFFFF;
        if (pageSize != PageFormat.PAGE_SIZE) {
            throw new FormatVersionException("page size of the incremental image", pageSize, PageFormat.PAGE_SIZE);
        }
        long lsn = b.getLong();
        int timeline = b.getInt();
        long systemId = b.getLong();
        int pageCount = b.getInt();
        long commit = b.getLong();
        Parent parent = new Parent(b.getLong(), b.getInt(), b.getInt());
        if (pageCount < 0 || parent.pageCount() < 0 || parent.lsn() > lsn) {
            throw new IntegrityException("incremental image header has an invalid page count or parent LSN");
        }
        return new Info(lsn, timeline, systemId, pageCount, commit, parent);
    }

    /**
     * Writes an incremental image onto {@code dataDir}, which holds the composition of its parent
     * chain (its control file at the parent's LSN, {@code parent.pageCount()} pages), and moves the
     * control file to the image's LSN. The page file is not synced.
     *
     * @throws IntegrityException if the image is damaged or built on another parent than {@code parent}
     */
    public static Info apply(InputStream in, Path dataDir, Parent parent) {
        try {
            Info info = readHeader(in);
            ControlFile control = ControlFile.read(dataDir);
            if (!info.parent().equals(parent) || control.checkpointLsn() != parent.lsn()
                    || control.timeline() != parent.timeline()) {
                throw new IntegrityException("incremental image is built on LSN " + Lsn.format(info.parent().lsn())
                        + " timeline " + info.parent().timeline() + " (" + info.parent().pageCount() + " pages), but"
                        + " the chain below it ends at LSN " + Lsn.format(control.checkpointLsn()) + " timeline "
                        + control.timeline() + " (" + parent.pageCount() + " pages)");
            }
            if (info.systemId() != control.systemId()) {
                throw new IntegrityException(String.format("incremental image is of store %016x, its parent of %016x",
                        info.systemId(), control.systemId()));
            }
            DataInputStream data = new DataInputStream(in);
            CRC32C recordsCrc = new CRC32C();
            byte[] page = new byte[PageFormat.PAGE_SIZE];
            byte[] check = new byte[PageFormat.PAGE_SIZE];
            byte[] no = new byte[4];
            int count = 0;
            int grown = 0;
            long prev = -1;
            try (PageFile pf = new PageFile(dataDir, false)) {
                while (true) {
                    int pageNo = data.readInt();
                    if (pageNo == END) {
                        break;
                    }
                    if (pageNo < 0 || pageNo <= prev || pageNo >= info.pageCount()) {
                        throw new IntegrityException("incremental image holds page " + Integer.toUnsignedString(pageNo)
                                + " out of order or past its " + info.pageCount() + " pages");
                    }
                    data.readFully(page);
                    ByteBuffer.wrap(no).putInt(pageNo);
                    recordsCrc.update(no);
                    recordsCrc.update(page);
                    System.arraycopy(page, 0, check, 0, page.length);
                    PageFormat.verifyAndOpen(check, pageNo, "incremental image");
                    if (PageFormat.lsn(check) > info.lsn()) {
                        throw new IntegrityException("page " + pageNo + " of the incremental image at LSN "
                                + Lsn.format(info.lsn()) + " carries the later LSN " + Lsn.format(PageFormat.lsn(check)));
                    }
                    pf.writeSealed(pageNo, page);
                    prev = pageNo;
                    count++;
                    if (pageNo >= parent.pageCount()) {
                        grown++;
                    }
                }
                byte[] rest = new byte[TRAILER_SIZE - 4];
                data.readFully(rest);
                ByteBuffer r = ByteBuffer.wrap(rest);
                byte[] expect = trailer(count, (int) recordsCrc.getValue());
                byte[] got = ByteBuffer.allocate(TRAILER_SIZE).putInt(END).put(rest).array();
                if (!java.util.Arrays.equals(expect, got)) {
                    throw new IntegrityException("incremental image trailer does not match its " + count + " pages (it says "
                            + r.getInt(0) + ")");
                }
                int mustGrow = Math.max(0, info.pageCount() - parent.pageCount());
                if (grown != mustGrow) {
                    throw new IntegrityException("incremental image grows the store from " + parent.pageCount() + " to "
                            + info.pageCount() + " pages but holds " + grown + " of the " + mustGrow + " new ones");
                }
                if (pf.pagesOnDisk() > info.pageCount()) {
                    pf.truncate(info.pageCount());
                }
            }
            new ControlFile(info.systemId(), info.timeline(), info.lsn(), info.commitTimeMicros()).write(dataDir);
            return info;
        } catch (EOFException e) {
            throw new IntegrityException("incremental image ends before its trailer");
        } catch (IOException e) {
            throw new UncheckedIOException("apply incremental image to " + dataDir + ": " + e.getMessage(), e);
        }
    }

    /**
     * The SHA-256 (lower-case hex) of the snapshot image that the data directory's first {@code pageCount}
     * pages and its control file's LSN, timeline, system id and time describe: what {@link
     * Snapshot#openStream} of that state yields. For a directory composed from a chain, it must equal
     * the SHA-256 of the full image the chain's last backup stands for.
     */
    public static String imageSha256(Path dataDir, int pageCount) {
        ControlFile c = ControlFile.read(dataDir);
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        sha.update(Snapshot.header(c.checkpointLsn(), c.timeline(), c.systemId(), pageCount, c.checkpointTimeMicros()));
        CRC32C crc = new CRC32C();
        Path file = dataDir.resolve(PageFile.FILE_NAME);
        long want = (long) pageCount * PageFormat.PAGE_SIZE;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            if (ch.size() < want) {
                throw new IntegrityException(file + " holds " + ch.size() / PageFormat.PAGE_SIZE + " pages, the image "
                        + pageCount);
            }
            ByteBuffer buf = ByteBuffer.allocate(64 * PageFormat.PAGE_SIZE);
            long pos = 0;
            while (pos < want) {
                buf.clear();
                buf.limit((int) Math.min(buf.capacity(), want - pos));
                while (buf.hasRemaining()) {
                    if (ch.read(buf, pos + buf.position()) < 0) {
                        throw new EOFException(file.toString());
                    }
                }
                sha.update(buf.array(), 0, buf.limit());
                crc.update(buf.array(), 0, buf.limit());
                pos += buf.limit();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("read " + file + ": " + e.getMessage(), e);
        }
        sha.update(Snapshot.trailer(pageCount, (int) crc.getValue()));
        return HexFormat.of().formatHex(sha.digest());
    }
}
