package io.walship.wal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;

/**
 * Looks at what lies in the WAL's cycle files past the last entry recovery kept, by reading
 * Chronicle's document framing straight from the files: is the rest of the WAL really empty,
 * so that the next append lands right after that entry and every reader stops there too?
 *
 * <p>Chronicle's framing (Chronicle Wire, binary): every document starts on a 4-byte boundary
 * with a 4-byte little-endian header: bit 31 "not complete" (a writer is, or was, in it), bit 30
 * "metadata" (Chronicle's own documents: the file header, index arrays), bits 0..29 the length of
 * the body that follows. A header of 0 is where nothing was written yet; {@code 0xC0000000} marks
 * the end of a cycle file, written when the queue rolls on to the next one. A tailer stops at a
 * 0 header or an unfinished one, and does not leave a file without its end mark; an appender
 * writes after the last complete document it can reach from the file's recorded write position.
 * So the rest is clean only if the chain of documents from the kept entry ends in a 0 header
 * followed by nothing but zero bytes, in the last cycle file (or in files each sealed by an end
 * mark, followed only by Chronicle's metadata). Anything else — an unfinished document, a
 * document recovery did not accept, stray bytes past the end, later files — is a tail to cut off.
 * Stateless; thread-safe.
 */
final class ChronicleTail {
    static final int NOT_COMPLETE = 0x80000000;
    static final int META_DATA = 0x40000000;
    static final int LENGTH_MASK = 0x3FFFFFFF;
    static final int END_OF_FILE = 0xC0000000;
    private static final int ZERO_CHUNK = 1 << 20;

    /**
     * What lies past the kept WAL. {@code end}: where the next document goes (null when the last
     * file is sealed or there is no file); {@code why}: what makes it unclean (null if clean).
     */
    record Verdict(boolean clean, String why, WalLog.End end) {
    }

    private ChronicleTail() {
    }

    /**
     * Walks from {@code startPos} of {@code startFile} (just past the body of the last kept
     * entry), or from the beginning of the first file when {@code startFile} is null.
     */
    static Verdict inspect(List<WalLog.CycleFile> files, Path startFile, long startPos) {
        if (files.isEmpty()) {
            return startFile == null ? new Verdict(true, null, null)
                    : new Verdict(false, "the WAL file " + startFile + " is gone", null);
        }
        int i = 0;
        long pos = 0;
        if (startFile != null) {
            i = indexOf(files, startFile);
            if (i < 0) {
                return new Verdict(false, startFile + " is not among the WAL's cycle files", null);
            }
            pos = align(startPos);
        }
        while (true) {
            WalLog.CycleFile cf = files.get(i);
            try (FileChannel ch = FileChannel.open(cf.path(), StandardOpenOption.READ)) {
                long size = ch.size();
                while (true) {
                    if (pos + 4 > size) {
                        return new Verdict(false, cf.path() + " ends at byte " + size + " inside the WAL", null);
                    }
                    int h = readInt(ch, pos);
                    if (h == 0) {
                        long stray = firstNonZero(ch, pos, size);
                        if (stray >= 0) {
                            return new Verdict(false, "bytes past the end of the WAL in " + cf.path() + " (the WAL ends"
                                    + " at byte " + pos + ", byte " + stray + " is not zero)", null);
                        }
                        if (i < files.size() - 1) {
                            return new Verdict(false, "WAL files after the end of the WAL in " + cf.path() + ": "
                                    + names(files.subList(i + 1, files.size())), null);
                        }
                        return new Verdict(true, null, new WalLog.End(cf.path(), cf.cycle(), pos));
                    }
                    if (h == END_OF_FILE) {
                        break;
                    }
                    if ((h & NOT_COMPLETE) != 0) {
                        return new Verdict(false, "an unfinished document (a write cut short) at byte " + pos + " of "
                                + cf.path(), null);
                    }
                    long next = pos + 4 + (h & LENGTH_MASK);
                    if (next > size) {
                        return new Verdict(false, "a document at byte " + pos + " of " + cf.path()
                                + " runs past the end of the file", null);
                    }
                    if ((h & META_DATA) == 0) {
                        return new Verdict(false, "a WAL document at byte " + pos + " of " + cf.path()
                                + " after the last entry kept", null);
                    }
                    pos = align(next);
                }
            } catch (IOException e) {
                throw new UncheckedIOException("read " + cf.path() + ": " + e.getMessage(), e);
            }
            if (i == files.size() - 1) {
                return new Verdict(true, null, null); // sealed: the next append opens a new cycle file
            }
            i++;
            pos = 0;
        }
    }

    private static int indexOf(List<WalLog.CycleFile> files, Path file) {
        for (int i = 0; i < files.size(); i++) {
            if (files.get(i).path().equals(file)) {
                return i;
            }
        }
        return -1;
    }

    static long align(long pos) {
        return (pos + 3) & ~3L;
    }

    private static int readInt(FileChannel ch, long pos) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining() && ch.read(b, pos + b.position()) >= 0) {
            // fill
        }
        return b.getInt(0);
    }

    /** The offset of the first non-zero byte in [from, to), or -1. Holes read as zeros. */
    private static long firstNonZero(FileChannel ch, long from, long to) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(ZERO_CHUNK);
        byte[] zeros = new byte[ZERO_CHUNK];
        long pos = from;
        while (pos < to) {
            b.clear().limit((int) Math.min(ZERO_CHUNK, to - pos));
            int n = ch.read(b, pos);
            if (n <= 0) {
                return -1;
            }
            int k = Arrays.mismatch(b.array(), 0, n, zeros, 0, n);
            if (k >= 0) {
                return pos + k;
            }
            pos += n;
        }
        return -1;
    }

    private static String names(List<WalLog.CycleFile> files) {
        StringBuilder sb = new StringBuilder();
        for (WalLog.CycleFile f : files) {
            sb.append(sb.length() == 0 ? "" : ", ").append(f.path().getFileName());
        }
        return sb.toString();
    }
}
