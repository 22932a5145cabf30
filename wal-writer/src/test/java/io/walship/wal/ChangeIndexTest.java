package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

/**
 * A restore applies entries from the index its check recorded ({@link ChangeIndex}), not by
 * parsing them again: the index must hand out exactly the changes {@link EntryCodec#walk} does,
 * for plain, LZ4 and zstd images, deltas and horizons, at any offset of a shared array.
 */
class ChangeIndexTest {
    /** One change as a visitor saw it, with a full page rebuilt from its hole. */
    record Seen(int pageNo, boolean full, int pageOffset, byte[] bytes) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Seen s && s.pageNo == pageNo && s.full == full && s.pageOffset == pageOffset
                    && Arrays.equals(s.bytes, bytes);
        }

        @Override
        public int hashCode() {
            return pageNo;
        }

        @Override
        public String toString() {
            return (full ? "full " : "delta ") + pageNo + "@" + pageOffset + "/" + bytes.length;
        }
    }

    static EntryCodec.ChangeVisitor collector(List<Seen> into) {
        return new EntryCodec.ChangeVisitor() {
            @Override
            public void fullPage(int pageNo, byte[] src, int off, int holeOff, int holeLen) {
                byte[] page = new byte[PageFormat.PAGE_SIZE];
                System.arraycopy(src, off, page, 0, holeOff);
                System.arraycopy(src, off + holeOff, page, holeOff + holeLen, PageFormat.PAGE_SIZE - holeOff - holeLen);
                into.add(new Seen(pageNo, true, 0, page));
            }

            @Override
            public void delta(int pageNo, int pageOffset, byte[] src, int off, int len) {
                into.add(new Seen(pageNo, false, pageOffset, Arrays.copyOfRange(src, off, off + len)));
            }
        };
    }

    static PageChange change(SplittableRandom r) {
        int page = r.nextInt(1 << 20);
        if (r.nextInt(3) == 0) {
            byte[] b = new byte[1 + r.nextInt(200)];
            r.nextBytes(b);
            return new PageChange(page, r.nextInt(PageFormat.PAGE_SIZE - b.length + 1), b, false);
        }
        // a page of runs (compressible) with a zero hole somewhere, or random bytes (stored plain)
        byte[] img = new byte[PageFormat.PAGE_SIZE];
        if (r.nextBoolean()) {
            for (int i = 0; i < img.length; i++) {
                img[i] = (byte) (i / (1 + r.nextInt(64)));
            }
        } else {
            r.nextBytes(img);
        }
        int hole = r.nextInt(PageFormat.PAGE_SIZE);
        Arrays.fill(img, hole, Math.min(img.length, hole + r.nextInt(3000)), (byte) 0);
        return PageChange.fullPage(page, img);
    }

    @Test
    void replaysExactlyWhatTheCheckWalked() {
        // fixed by default (repeatable); -Dwalship.test.seed=N tries another
        long seed = Long.getLong("walship.test.seed", 20261203L);
        System.out.println("ChangeIndexTest seed " + seed);
        SplittableRandom r = new SplittableRandom(seed);
        ByteBuffer body = ByteBuffer.allocate(8 << 20);
        List<int[]> where = new ArrayList<>();
        long lsn = 1000;
        int compressed = 0;
        for (int n = 0; n < 400; n++) {
            List<PageChange> changes = new ArrayList<>();
            for (int c = r.nextInt(7); c > 0; c--) {
                changes.add(change(r));
            }
            WalCompression codec = WalCompression.values()[r.nextInt(3)];
            long horizon = r.nextInt(4) == 0 ? lsn - 1 - r.nextInt(100) : Lsn.NONE;
            byte[] e = EntryCodec.encode(lsn, 1 + r.nextInt(3), 1_000_000L * lsn + r.nextInt(1000), horizon, changes, codec);
            if (e.length > 5 && (e[5] & 0xFF) == EntryCodec.COMPRESSED_FORMAT_VERSION) {
                compressed++;
            }
            body.position(body.position() + r.nextInt(8)); // entries at any offset
            body.putInt(e.length);
            where.add(new int[] {body.position(), e.length});
            body.put(e);
            lsn++;
        }
        byte[] data = body.array();
        long bound = 0;
        for (int[] w : where) {
            bound += ChangeIndex.changeBound(data, w[0], w[1]);
        }
        ChangeIndex index = new ChangeIndex(data, where.size(), (int) bound);
        for (int[] w : where) {
            index.add(w[0], w[1]);
        }
        assertEquals(where.size(), index.entries());
        // sized from the headers, it never grew: the bound is exact for sound entries
        assertEquals(bound, index.changeCount(), "seed " + seed);
        assertEquals(ChangeIndex.bytesFor(where.size(), bound), index.bytes());
        index.trim();
        assertEquals(ChangeIndex.bytesFor(where.size(), bound), index.bytes());
        for (int i = 0; i < where.size(); i++) {
            int[] w = where.get(i);
            List<Seen> walked = new ArrayList<>();
            WalEntry e = EntryCodec.walk(data, w[0], w[1], true, collector(walked));
            List<Seen> replayed = new ArrayList<>();
            index.replay(i, collector(replayed));
            assertEquals(walked, replayed, "entry " + i + " (seed " + seed + ")");
            assertEquals(e.lsn(), index.lsn(i));
            assertEquals(e.timeline(), index.timeline(i));
            assertEquals(e.commitTimeMicros(), index.commitTimeMicros(i));
            assertEquals(w[1], index.length(i));
        }
        // the data set held compressed images of both codecs and plain ones (else the test says little)
        if (compressed < 50) {
            throw new AssertionError("only " + compressed + " entries with compressed images (seed " + seed + ")");
        }
    }

    @Test
    void aDamagedCompressedImageIsRefusedWhenIndexed() {
        byte[] img = new byte[PageFormat.PAGE_SIZE];
        for (int i = 0; i < img.length; i++) {
            img[i] = (byte) (i / 16);
        }
        for (WalCompression c : List.of(WalCompression.LZ4, WalCompression.ZSTD)) {
            byte[] e = EntryCodec.encode(7, 1, 123, Lsn.NONE, List.of(PageChange.fullPage(3, img)), c);
            assertEquals(EntryCodec.COMPRESSED_FORMAT_VERSION, e[5]);
            // the image CRC (after kind, page, hole, codec, stored length) changed, the entry CRC made good again
            int imageCrcAt = EntryCodec.HEADER_SIZE + 1 + 4 + 2 + 2 + 1 + 2;
            e[imageCrcAt] ^= 1;
            java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
            crc.update(e, 0, e.length - 4);
            PageFormat.putInt(e, e.length - 4, (int) crc.getValue());
            ChangeIndex index = new ChangeIndex(e, 1, 1);
            IntegrityException x = assertThrows(IntegrityException.class, () -> index.add(0, e.length));
            assertEquals(true, x.getMessage().contains("fails its checksum"), x.getMessage());
        }
    }

    @Test
    void aReplayReadsTheArrayNotACopy() {
        // an index hands out the array's bytes where the entry holds them, and keeps no copy of
        // them: a later change to the array (a reused segment body) is seen, so a consumer must be
        // done before the body is reused (SegmentPrefetcher.Decoded#changes refuses after that)
        byte[] img = new byte[PageFormat.PAGE_SIZE];
        Arrays.fill(img, (byte) 5);
        byte[] e = EntryCodec.encode(9, 1, 1, Lsn.NONE, List.of(PageChange.fullPage(2, img),
                new PageChange(3, 100, new byte[] {7, 7, 7}, false)), WalCompression.NONE);
        ChangeIndex index = new ChangeIndex(e, 1, ChangeIndex.changeBound(e, 0, e.length));
        index.add(0, e.length);
        List<Seen> seen = new ArrayList<>();
        index.replay(0, collector(seen));
        assertArrayEquals(img, seen.get(0).bytes());
        assertArrayEquals(new byte[] {7, 7, 7}, seen.get(1).bytes());
        // change the bytes in the array: the image's first byte and the delta's last
        int imageAt = EntryCodec.HEADER_SIZE + 9;
        e[imageAt] = 42;
        int deltaLast = e.length - 4 - 1;
        e[deltaLast] = 43;
        seen.clear();
        index.replay(0, collector(seen));
        assertEquals(42, seen.get(0).bytes()[0]);
        assertEquals(43, seen.get(1).bytes()[2]);
        assertEquals(e.length, index.length(0));
    }

    @Test
    void anIndexOfOneByteDeltasTakesLessThanItsBody() {
        // one int per change and two per entry: 4 bytes for a delta record of 10 (kind, page,
        // offset, length, one byte), never the 16 per change and 28 per entry it was
        SplittableRandom r = new SplittableRandom(7);
        List<PageChange> changes = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            changes.add(new PageChange(1 + r.nextInt(1000), r.nextInt(PageFormat.PAGE_SIZE), new byte[] {1}, false));
        }
        ByteBuffer body = ByteBuffer.allocate(1 << 20);
        List<int[]> where = new ArrayList<>();
        for (long lsn = 1; lsn <= 500; lsn++) {
            byte[] e = EntryCodec.encode(lsn, 1, lsn, Lsn.NONE, changes, WalCompression.NONE);
            if (body.remaining() < e.length + 4) {
                break;
            }
            body.putInt(e.length);
            where.add(new int[] {body.position(), e.length});
            body.put(e);
        }
        byte[] data = Arrays.copyOf(body.array(), body.position());
        int bound = 0;
        for (int[] w : where) {
            bound += ChangeIndex.changeBound(data, w[0], w[1]);
        }
        ChangeIndex index = new ChangeIndex(data, where.size(), bound);
        for (int[] w : where) {
            index.add(w[0], w[1]);
        }
        index.trim();
        assertEquals(100L * where.size(), index.changeCount());
        long bytes = index.bytes();
        System.out.println("index of " + data.length + " body bytes: " + bytes + " bytes");
        if (bytes * 10 > data.length * 41L / 10) {
            throw new AssertionError("an index of " + bytes + " bytes for a " + data.length + "-byte body of one-byte deltas");
        }
    }

    @Test
    void anIndexSizedTooSmallGrowsAndTrims() {
        byte[] img = new byte[PageFormat.PAGE_SIZE];
        List<int[]> where = new ArrayList<>();
        ByteBuffer body = ByteBuffer.allocate(1 << 20);
        for (long lsn = 1; lsn <= 20; lsn++) {
            byte[] e = EntryCodec.encode(lsn, 1, lsn, lsn > 1 ? lsn - 1 : Lsn.NONE,
                    List.of(PageChange.fullPage((int) lsn, img), PageChange.fullPage((int) lsn + 100, img)),
                    WalCompression.NONE);
            body.putInt(e.length);
            where.add(new int[] {body.position(), e.length});
            body.put(e);
        }
        ChangeIndex index = new ChangeIndex(body.array(), 1, 1);
        for (int[] w : where) {
            index.add(w[0], w[1]);
        }
        index.trim();
        assertEquals(40, index.changeCount());
        assertEquals(ChangeIndex.bytesFor(20, 40), index.bytes());
        for (int i = 0; i < 20; i++) {
            assertEquals(where.get(i)[1], index.length(i));
            assertEquals(i + 1, index.lsn(i));
        }
    }
}
