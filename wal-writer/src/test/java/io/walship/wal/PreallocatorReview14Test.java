package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.bytes.MappedBytes;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.queue.RollCycles;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.wire.DocumentContext;
import net.openhft.posix.PosixAPI;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of the chunked {@link Preallocator#reserve}: (1) every block that meets the range is
 * allocated (no hole left), for unaligned ranges over sparse files with scattered data, ranges that
 * start past the end, and ranges across chunk boundaries; (2) zero-filling a live Chronicle cycle
 * file (sparse past its data, header and index arrays in it) over its whole length, from unaligned
 * offsets, changes no byte and every document reads back, also after more appends.
 */
class PreallocatorReview14Test {
    private static final int SEEK_HOLE = 4;

    @TempDir
    Path tmp;

    /** Where the first hole at or after {@code at} begins (the file's size: none). */
    private static long nextHole(Path f, long at) {
        PosixAPI p = PosixAPI.posix();
        int fd = p.open(f.toString(), 0, 0);
        assertTrue(fd >= 0, "open " + f);
        try {
            return p.lseek(fd, at, SEEK_HOLE);
        } finally {
            p.close(fd);
        }
    }

    @Test
    void everyBlockMeetingTheRangeIsAllocatedAndDataIsKept() throws Exception {
        long seed = Long.getLong("walship.test.seed", System.nanoTime());
        System.out.println("PreallocatorReview14Test.everyBlock seed " + seed);
        Random rnd = new Random(seed);
        try (Preallocator p = new Preallocator()) {
            for (int round = 0; round < 40; round++) {
                Path f = tmp.resolve("a" + round);
                int size = rnd.nextInt(2 << 20);
                byte[] before = new byte[size];
                try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
                    raf.setLength(size);
                    for (int k = rnd.nextInt(20); k > 0 && size > 0; k--) {
                        int at = rnd.nextInt(size);
                        int len = Math.min(size - at, 1 + rnd.nextInt(rnd.nextBoolean() ? 8 : 20_000));
                        byte[] d = new byte[len];
                        for (int i = 0; i < len; i++) {
                            d[i] = (byte) (1 + rnd.nextInt(255));
                        }
                        raf.seek(at);
                        raf.write(d);
                        System.arraycopy(d, 0, before, at, len);
                    }
                }
                // unaligned, sometimes past the end, sometimes exactly on a 256 KiB chunk edge
                long from = rnd.nextInt(3) == 0 ? (long) rnd.nextInt(8) * (256 << 10) : rnd.nextInt(3 << 20);
                long to = from + (rnd.nextBoolean() ? rnd.nextInt(1 << 20) : (long) (1 + rnd.nextInt(6)) * (256 << 10) + rnd.nextInt(3));
                p.reserve(f, from, to);
                String where = "seed " + seed + " round " + round + " size " + size + " [" + from + ", " + to + ")";
                byte[] after = Files.readAllBytes(f);
                for (int i = 0; i < size; i++) {
                    if (after[i] != before[i]) {
                        throw new AssertionError(where + ": byte " + i + " changed from " + before[i] + " to " + after[i]);
                    }
                }
                for (int i = size; i < after.length; i++) {
                    assertEquals(0, after[i], where + ": byte " + i);
                }
                long fileSize = after.length;
                // every block meeting [from, to) that lies within the file holds no hole
                for (long b = from - from % 4096; b < to && b < fileSize; b += 4096) {
                    long start = Math.max(b, from);
                    long h = nextHole(f, start);
                    assertTrue(h >= Math.min(Math.min(b + 4096, to), fileSize),
                            where + ": a hole at " + h + " in block " + b + " (file " + fileSize + " bytes)");
                }
            }
        }
    }

    @Test
    void zeroFillingALiveChronicleFileChangesNoByte() throws Exception {
        long seed = Long.getLong("walship.test.seed", System.nanoTime());
        System.out.println("PreallocatorReview14Test.chronicle seed " + seed);
        Random rnd = new Random(seed);
        Path dir = tmp.resolve("q");
        List<byte[]> docs = new ArrayList<>();
        try (SingleChronicleQueue q = SingleChronicleQueueBuilder.binary(dir.toFile()).rollCycle(RollCycles.FAST_DAILY)
                .blockSize(1 << 20).build();
             ExcerptAppender a = q.createAppender();
             Preallocator p = new Preallocator()) {
            Path file = null;
            for (int round = 0; round < 6; round++) {
                for (int k = 200 + rnd.nextInt(400); k > 0; k--) {
                    byte[] d = new byte[1 + rnd.nextInt(rnd.nextBoolean() ? 40 : 3000)];
                    rnd.nextBytes(d);
                    d[0] = 1; // never an all-zero document
                    try (DocumentContext dc = a.writingDocument()) {
                        dc.wire().bytes().write(d);
                        if (file == null && dc.wire().bytes() instanceof MappedBytes mb) {
                            file = mb.mappedFile().file().toPath();
                        }
                    }
                    docs.add(d);
                }
                byte[] before = Files.readAllBytes(file);
                // the whole file and more, from an unaligned start: header, index arrays, documents
                long from = rnd.nextInt(4096);
                long to = before.length + rnd.nextInt(3 << 20);
                p.reserve(file, from, to);
                p.release(file);
                byte[] after = Files.readAllBytes(file);
                assertTrue(after.length >= before.length, "seed " + seed);
                byte[] prefix = java.util.Arrays.copyOf(after, before.length);
                assertArrayEquals(before, prefix, "seed " + seed + " round " + round + ": the Chronicle file changed");
            }
            try (ExcerptTailer t = q.createTailer()) {
                for (int i = 0; i < docs.size(); i++) {
                    try (DocumentContext dc = t.readingDocument()) {
                        assertTrue(dc.isPresent(), "seed " + seed + ": document " + i + " of " + docs.size() + " is missing");
                        Bytes<?> b = dc.wire().bytes();
                        byte[] got = new byte[(int) b.readRemaining()];
                        b.read(got);
                        assertArrayEquals(docs.get(i), got, "seed " + seed + ": document " + i);
                    }
                }
                try (DocumentContext dc = t.readingDocument()) {
                    assertTrue(!dc.isPresent(), "seed " + seed + ": no document past the last");
                }
            }
        }
    }
}
