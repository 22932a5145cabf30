package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Full-page images compressed in the WAL ({@link WalCompression}, docs/FORMAT.md "WAL entry"):
 * the byte layout, round trips, damage, and stores that write, recover and replay such WAL.
 */
class CompressedImagesTest {
    @TempDir
    Path tmp;

    /** Offset of the first change after the golden entry's delta (32-byte header + 13-byte delta). */
    private static final int IMAGE_AT = EntryCodec.HEADER_SIZE + 13;

    private static byte[] randomPage(Random rnd) {
        byte[] p = new byte[PageFormat.PAGE_SIZE];
        rnd.nextBytes(p);
        return p;
    }

    /** A page of a real leaf's shape: a header, cells, a run of zeros between. */
    private static byte[] leafLikePage(Random rnd) {
        byte[] p = new byte[PageFormat.PAGE_SIZE];
        for (int i = 0; i < 1200; i++) {
            p[i] = (byte) ('a' + rnd.nextInt(4));
        }
        for (int i = 3000; i < p.length; i++) {
            p[i] = (byte) (i % 17);
        }
        return p;
    }

    private static List<PageChange> mixed(Random rnd) {
        byte[] empty = new byte[PageFormat.PAGE_SIZE];
        return List.of(
                new PageChange(3, 17, new byte[] {7, 7, 7}, false),
                PageChange.fullPage(4, leafLikePage(rnd)),
                PageChange.fullPage(5, randomPage(rnd)),  // incompressible: stored plain
                PageChange.fullPage(6, empty),            // all hole: nothing to compress
                PageChange.fullPage(7, EntryCodecTest.goldenEntry().changes().get(1).bytes()));
    }

    private static int version(byte[] entry) {
        return PageFormat.getShort(entry, 4) & 0xFFFF;
    }

    private static void resealed(byte[] bytes) {
        EntryCodecTest.resealed(bytes);
    }

    @ParameterizedTest
    @EnumSource(value = WalCompression.class, names = {"LZ4", "ZSTD"})
    void imagesRoundTripSmallerAndMixedWithPlainOnes(WalCompression c) {
        long seed = new SecureRandom().nextLong();
        System.out.println("CompressedImagesTest: seed " + seed);
        List<PageChange> changes = mixed(new Random(seed));
        byte[] plain = EntryCodec.encode(9, 2, 1234, 5, changes, WalCompression.NONE);
        byte[] packed = EntryCodec.encode(9, 2, 1234, 5, changes, c);
        assertEquals(2, version(plain), "without compression the entry stays version 2 (it has a horizon)");
        assertEquals(EntryCodec.COMPRESSED_FORMAT_VERSION, version(packed));
        assertTrue(packed.length < plain.length - 2000, "compressed " + packed.length + " vs plain " + plain.length);
        WalEntry d = EntryCodec.decode(packed);
        assertEquals(5, d.horizon());
        assertEquals(packed.length, d.encodedSize());
        assertEquals(changes.size(), d.changes().size());
        for (int i = 0; i < changes.size(); i++) {
            assertEquals(changes.get(i).pageNo(), d.changes().get(i).pageNo());
            assertEquals(changes.get(i).fullPage(), d.changes().get(i).fullPage());
            assertArrayEquals(changes.get(i).bytes(), d.changes().get(i).bytes(), "change " + i);
        }
        assertEquals(9, EntryCodec.verifyHeader(packed).lsn(), "a shipper's header check reads it without decompressing");
        // the visitor gets each image decompressed, hole and all, as it gets a plain one
        List<byte[]> visited = new ArrayList<>();
        EntryCodec.walk(packed, 0, packed.length, true, new EntryCodec.ChangeVisitor() {
            @Override
            public void fullPage(int pageNo, byte[] src, int off, int holeOff, int holeLen) {
                byte[] p = new byte[PageFormat.PAGE_SIZE];
                System.arraycopy(src, off, p, 0, holeOff);
                System.arraycopy(src, off + holeOff, p, holeOff + holeLen, PageFormat.PAGE_SIZE - holeOff - holeLen);
                visited.add(p);
            }

            @Override
            public void delta(int pageNo, int pageOffset, byte[] src, int off, int len) {
            }
        });
        assertEquals(4, visited.size());
        for (int i = 0; i < 4; i++) {
            assertArrayEquals(changes.get(i + 1).bytes(), visited.get(i));
        }
    }

    @ParameterizedTest
    @EnumSource(value = WalCompression.class, names = {"LZ4", "ZSTD"})
    void anEntryWhoseImagesDoNotShrinkIsTheUncompressedEncodingByteForByte(WalCompression c) {
        long seed = new SecureRandom().nextLong();
        System.out.println("CompressedImagesTest: seed " + seed);
        Random rnd = new Random(seed);
        List<PageChange> changes = List.of(new PageChange(1, 0, new byte[] {1}, false),
                PageChange.fullPage(2, randomPage(rnd)));
        byte[] plain = EntryCodec.encode(3, 1, 1, Lsn.NONE, changes, WalCompression.NONE);
        assertArrayEquals(plain, EntryCodec.encode(3, 1, 1, Lsn.NONE, changes, c));
        assertEquals(EntryCodec.FORMAT_VERSION, version(plain));
    }

    // ---- golden files ---------------------------------------------------------------------------

    /**
     * src/test/resources/golden/wal-entry-v3-lz4.bin is the golden entry (EntryCodecTest) with
     * its image LZ4-compressed; wal-entry-v3-zstd.bin the same with horizon 0x20 and Zstandard.
     * The compressed payload may differ between library versions (any valid one decodes), so the
     * encoder is held to the layout around it, the decoder to the whole file.
     */
    @ParameterizedTest
    @EnumSource(value = WalCompression.class, names = {"LZ4", "ZSTD"})
    void goldenCompressedEntriesKeepReading(WalCompression c) throws IOException {
        boolean zstd = c == WalCompression.ZSTD;
        byte[] golden = EntryCodecTest.golden(zstd ? "wal-entry-v3-zstd.bin" : "wal-entry-v3-lz4.bin");
        WalEntry g = EntryCodecTest.goldenEntry();
        long horizon = zstd ? 0x20 : Lsn.NONE;
        int at = IMAGE_AT + (zstd ? 9 : 0);
        assertEquals(3, version(golden), "format version");
        assertEquals(4, golden[at], "kind: compressed full page");
        assertEquals(9, PageFormat.getInt(golden, at + 1), "page number");
        assertEquals(c.codec, golden[at + 9], "codec byte");
        int stored = PageFormat.getShort(golden, at + 10) & 0xFFFF;
        assertEquals(golden.length, at + 16 + stored + 4, "stored length reaches the CRC");

        WalEntry d = EntryCodec.decode(golden);
        assertEquals(0x2A, d.lsn());
        assertEquals(3, d.timeline());
        assertEquals(horizon, d.horizon());
        assertEquals(2, d.changes().size());
        assertArrayEquals(g.changes().get(0).bytes(), d.changes().get(0).bytes());
        assertArrayEquals(g.changes().get(1).bytes(), d.changes().get(1).bytes());

        byte[] now = EntryCodec.encode(g.lsn(), g.timeline(), g.commitTimeMicros(), horizon, g.changes(), c);
        assertArrayEquals(java.util.Arrays.copyOf(golden, at + 10), java.util.Arrays.copyOf(now, at + 10),
                "encoder layout drifted from the documented format");
        // the image CRC depends on the page, not on the library that compressed it
        assertEquals(PageFormat.getInt(golden, at + 12), PageFormat.getInt(now, at + 12), "image CRC");
    }

    // ---- a received entry keeps its bytes -------------------------------------------------------

    /**
     * A decoded entry carries the bytes it came from, and {@link EntryCodec#encode(WalEntry)} (what
     * {@link Store#applyAll} appends) gives them back untouched: not a new compression of the
     * pages, which another library build would make differently. No copy when the entry is a
     * whole array (the network and WAL readers' case), a copy of the slice from a segment body
     * (archive catch-up, whose bodies are reused).
     */
    @Test
    void aDecodedEntryGivesBackTheBytesItWasDecodedFrom() {
        WalEntry g = EntryCodecTest.goldenEntry();
        for (WalCompression c : WalCompression.values()) {
            byte[] bytes = EntryCodec.encode(g.lsn(), g.timeline(), g.commitTimeMicros(), Lsn.NONE, g.changes(), c);
            WalEntry d = EntryCodec.decode(bytes);
            assertTrue(d.encoded() == bytes, c + ": the whole array is kept, not copied");
            assertTrue(EntryCodec.encode(d) == bytes, c + ": encode gives the received bytes back");
            byte[] body = new byte[bytes.length + 20];
            System.arraycopy(bytes, 0, body, 7, bytes.length);
            WalEntry slice = EntryCodec.decode(body, 7, bytes.length);
            assertArrayEquals(bytes, slice.encoded(), c + ": a slice is kept as a copy");
            java.util.Arrays.fill(body, (byte) 0x55); // the body is reused for the next segment
            assertArrayEquals(bytes, EntryCodec.encode(slice), c + ": the copy outlives the body");
        }
        // an entry built in memory has no bytes and is encoded; so is a header-only one, which has
        // no changes and must never be appended as its bytes
        assertTrue(g.encoded() == null);
        byte[] plain = EntryCodec.encode(g);
        assertArrayEquals(plain, EntryCodec.encode(g.lsn(), g.timeline(), g.commitTimeMicros(), g.changes()));
        assertTrue(EntryCodec.verifyHeader(plain).encoded() == null, "a header-only entry carries no bytes");
        // bytes that are not the entry's (another size or LSN) are refused
        WalEntry d = EntryCodec.decode(plain);
        assertThrows(IllegalArgumentException.class, () -> new WalEntry(d.lsn() + 1, d.timeline(), d.commitTimeMicros(),
                d.horizon(), d.changes(), d.encodedSize(), d.compression(), d.encoded()));
        assertThrows(IllegalArgumentException.class, () -> new WalEntry(d.lsn(), d.timeline(), d.commitTimeMicros(),
                d.horizon(), d.changes(), d.encodedSize() - 1, d.compression(), d.encoded()));
    }

    // ---- damage ---------------------------------------------------------------------------------

    private static byte[] goldenCompressed(WalCompression c) {
        WalEntry g = EntryCodecTest.goldenEntry();
        return EntryCodec.encode(g.lsn(), g.timeline(), g.commitTimeMicros(), Lsn.NONE, g.changes(), c);
    }

    @ParameterizedTest
    @EnumSource(value = WalCompression.class, names = {"LZ4", "ZSTD"})
    void damagedCompressedBytesAreAnIntegrityErrorNeverAWrongPage(WalCompression c) {
        byte[] good = goldenCompressed(c);
        int payload = IMAGE_AT + 16;
        int stored = PageFormat.getShort(good, IMAGE_AT + 10) & 0xFFFF;
        // flipped payload bytes without a new CRC: the checksum catches them
        byte[] flipped = good.clone();
        flipped[payload + stored / 2] ^= 0x40;
        assertThrows(IntegrityException.class, () -> EntryCodec.decode(flipped));
        // with the CRC recomputed (a writer's bug, or a crafted entry) the codec's check must catch
        // every damage that would change the page: each one either fails or gives the same page
        byte[] page = EntryCodecTest.goldenEntry().changes().get(1).bytes();
        int failures = 0;
        for (int i = 0; i < stored; i++) {
            for (int bit : new int[] {0x01, 0x80}) {
                byte[] bad = good.clone();
                bad[payload + i] ^= (byte) bit;
                resealed(bad);
                try {
                    WalEntry d = EntryCodec.decode(bad);
                    assertArrayEquals(page, d.changes().get(1).bytes(), "damage at payload byte " + i + " gave a wrong page");
                } catch (IntegrityException expected) {
                    failures++;
                }
                assertTrue(walkFailsOrSameAsDecode(bad), "walk and decode disagree at payload byte " + i);
            }
        }
        assertTrue(failures > stored, "damage caught " + failures + " times in " + 2 * stored);
        // truncated payload (stored length cut, CRC recomputed)
        byte[] cut = new byte[good.length - 8];
        System.arraycopy(good, 0, cut, 0, payload + stored - 8);
        PageFormat.putShort(cut, IMAGE_AT + 10, (short) (stored - 8));
        resealed(cut);
        assertThrows(IntegrityException.class, () -> EntryCodec.decode(cut));
    }

    private static boolean walkFailsOrSameAsDecode(byte[] bad) {
        boolean decodes;
        try {
            EntryCodec.decode(bad);
            decodes = true;
        } catch (IntegrityException e) {
            decodes = false;
        }
        try {
            EntryCodec.walk(bad, 0, bad.length, true, EntryCodec.NO_CHANGES);
            return decodes;
        } catch (IntegrityException e) {
            return !decodes;
        }
    }

    @ParameterizedTest
    @EnumSource(value = WalCompression.class, names = {"LZ4", "ZSTD"})
    void anImageThatDecompressesToOtherThanItsSizeIsCorrupt(WalCompression c) {
        byte[] bad = goldenCompressed(c);
        // the golden page has no zero run longer than 1; claim a hole of 100 bytes: the image
        // must then decompress to 3996 bytes, and it gives 4095
        PageFormat.putShort(bad, IMAGE_AT + 7, (short) 100);
        resealed(bad);
        IntegrityException e = assertThrows(IntegrityException.class, () -> EntryCodec.decode(bad));
        assertTrue(e.getMessage().contains("000000000000002A"), e.getMessage());
        assertThrows(IntegrityException.class, () -> EntryCodec.walk(bad, 0, bad.length, false, EntryCodec.NO_CHANGES));
    }

    /**
     * The image CRC covers which page the image is and where its hole goes, not only the bytes the
     * codec gives: an image moved to another page, or its hole moved, under a recomputed entry CRC
     * (a writer's bug, a crafted entry) is an integrity error, never a wrong page applied.
     */
    @ParameterizedTest
    @EnumSource(value = WalCompression.class, names = {"LZ4", "ZSTD"})
    void anImageMovedToAnotherPageOrHoleOffsetIsCorrupt(WalCompression c) {
        byte[] page = leafLikePage(new Random(5));
        byte[] good = EntryCodec.encode(0x41, 1, 5, Lsn.NONE, List.of(PageChange.fullPage(3, page)), c);
        int at = EntryCodec.HEADER_SIZE;
        assertEquals(4, good[at], "a compressed image");
        int holeOff = PageFormat.getShort(good, at + 5) & 0xFFFF;
        for (int delta : new int[] {-100, -1, 1, 100}) {
            byte[] moved = good.clone();
            PageFormat.putShort(moved, at + 5, (short) (holeOff + delta));
            resealed(moved);
            IntegrityException e = assertThrows(IntegrityException.class, () -> EntryCodec.decode(moved), "hole moved " + delta);
            assertTrue(e.getMessage().contains("checksum"), e.getMessage());
            assertThrows(IntegrityException.class, () -> EntryCodec.walk(moved, 0, moved.length, false, EntryCodec.NO_CHANGES));
        }
        for (int other : new int[] {2, 4, 3 + (1 << 20)}) {
            byte[] elsewhere = good.clone();
            PageFormat.putInt(elsewhere, at + 1, other);
            resealed(elsewhere);
            assertThrows(IntegrityException.class, () -> EntryCodec.decode(elsewhere), "page " + other);
        }
        assertArrayEquals(page, EntryCodec.decode(good).changes().get(0).bytes());
    }

    @Test
    void anUnknownCodecOrACompressedImageInAnOlderVersionIsCorrupt() {
        byte[] unknown = goldenCompressed(WalCompression.LZ4);
        unknown[IMAGE_AT + 9] = 9;
        resealed(unknown);
        IntegrityException e = assertThrows(IntegrityException.class, () -> EntryCodec.decode(unknown));
        assertTrue(e.getMessage().contains("unknown codec 9"), e.getMessage());
        byte[] v1 = goldenCompressed(WalCompression.LZ4);
        v1[5] = 1; // kind 4 is no kind in a version 1 entry
        resealed(v1);
        assertThrows(IntegrityException.class, () -> EntryCodec.decode(v1));
    }

    /**
     * Where a codec's library cannot load (here zstd-jni pointed at a native library that does not
     * exist), reading or writing such images fails saying so, a {@link WalshipException}: never an
     * {@link IntegrityException} ("corrupt", exit 3) for WAL that is fine, nor a bare Error.
     */
    @Test
    void aCodecLibraryThatCannotLoadIsAClearFailureNotCorruption() throws Exception {
        Path out = tmp.resolve("child.out");
        Path err = tmp.resolve("child.err");
        Process p = ChildJvm.startToFile(CodecUnavailableMain.class, CodecUnavailableMain.jvmOptions(), List.of(), out, err);
        assertTrue(p.waitFor(2, java.util.concurrent.TimeUnit.MINUTES), "the child JVM did not finish");
        List<String> lines = java.nio.file.Files.readAllLines(out);
        assertEquals(0, p.exitValue(), lines + " " + java.nio.file.Files.readString(err));
        assertEquals(5, lines.size(), lines.toString());
        for (String line : lines.subList(0, 4)) {
            assertTrue(line.matches("(decode|encode) io\\.walship\\.wal\\.WalshipException the zstd codec \\(zstd-jni\\)"
                    + " cannot be loaded on this host .*"), line);
        }
        assertEquals("lz4 ok", lines.get(4), "LZ4 works without Zstandard");
    }

    /** A caller's bug (a range past the array) propagates as the bug it is, not as a corrupt image. */
    @ParameterizedTest
    @EnumSource(value = WalCompression.class, names = {"LZ4", "ZSTD"})
    void aProgrammingErrorInDecompressingIsNotReportedAsCorruption(WalCompression c) {
        byte[] good = goldenCompressed(c);
        ImageCodecs.Scratch s = ImageCodecs.take();
        try {
            assertThrows(IndexOutOfBoundsException.class, () -> ImageCodecs.decompress(c.codec, s, good,
                    IMAGE_AT + 16, good.length, 9, 0, 1, 0, 0x2A));
        } finally {
            ImageCodecs.give(s);
        }
    }

    // ---- stores ---------------------------------------------------------------------------------

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static final String[] WORDS = {"walship ", "leader  ", "follower", "archive ", "segment ", "restore ",
            "timeline", "horizon "};

    /**
     * Random updates of 100-300-byte values over {@code keys} keys: enough to split leaves and
     * rewrite them. Values are words (text-like, so that LZ4, which has no entropy coding,
     * finds repeats too).
     */
    private static void write(Store s, Random rnd, int n, int keys, String tag) {
        for (int i = 0; i < n; i++) {
            StringBuilder v = new StringBuilder();
            int len = 100 + rnd.nextInt(200);
            while (v.length() < len) {
                v.append(WORDS[rnd.nextInt(WORDS.length)]);
            }
            s.put(b(tag + "-" + rnd.nextInt(keys)), b(v.toString()));
        }
    }

    private static int[] versionsInWal(Path dir, long from) {
        int[] count = new int[4];
        try (WalReader r = WalReader.open(dir)) {
            r.seek(from);
            while (r.next() != null) {
                count[version(r.lastEntryBytes())]++;
            }
        }
        return count;
    }

    @ParameterizedTest
    @EnumSource(value = WalCompression.class, names = {"LZ4", "ZSTD"})
    void aStoreRecoversByReplayingCompressedImagesAndAReplicaGetsTheSameDigest(WalCompression c) {
        long seed = new SecureRandom().nextLong();
        System.out.println("CompressedImagesTest: seed " + seed);
        Random rnd = new Random(seed);
        Path dir = tmp.resolve("leader");
        Path crashed = tmp.resolve("crashed");
        Path replicaDir = tmp.resolve("replica");
        StoreOptions opts = StoreOptions.defaults().withWalCompression(c);
        StateDigest before;
        long replicaFrom;
        try (Store s = Store.open(dir, opts)) {
            write(s, rnd, 50, 40, "base");
            try (Snapshot snap = s.snapshot(); java.io.InputStream in = snap.openStream()) {
                SnapshotLoader.load(in, replicaDir);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            ControlFile.read(replicaDir).asStandby().write(replicaDir);
            replicaFrom = ControlFile.read(replicaDir).checkpointLsn() + 1;
            for (int round = 0; round < 6; round++) {
                s.checkpoint(); // the first change to each page after it is a full-page image
                write(s, rnd, 100, 400, "k");
            }
            before = s.digest();
            WalSurgery.copyTree(dir, crashed); // every put was durable: what a crash leaves
            // a replica applies the compressed entries and writes its own WAL with them
            List<WalEntry> entries = new ArrayList<>();
            try (WalReader r = s.walReader()) {
                r.seek(replicaFrom);
                WalEntry e;
                while ((e = r.next()) != null) {
                    entries.add(e);
                }
            }
            try (Store replica = Store.open(replicaDir, StoreOptions.defaults())) {
                replica.applyAll(entries, Durability.DURABLE);
                assertEquals(before, replica.digest(), "the replica's state differs from the leader's");
            }
        }
        int[] versions = versionsInWal(crashed, replicaFrom);
        assertTrue(versions[EntryCodec.COMPRESSED_FORMAT_VERSION] > 50, "compressed entries: " + versions[3]);
        try (Store s = Store.open(crashed, StoreOptions.defaults())) {
            assertTrue(s.checkpointLsn() < s.lastLsn(), "recovery had WAL to replay");
            assertEquals(before, s.digest(), "recovery from compressed WAL gave another state");
        }
        // a replica keeps the leader's bytes, compressed images and all, whatever its own option
        try (WalReader leader = WalReader.open(crashed); WalReader replica = WalReader.open(replicaDir)) {
            leader.seek(replicaFrom);
            replica.seek(replicaFrom);
            int n = 0;
            while (leader.next() != null) {
                assertTrue(replica.next() != null, "the replica's WAL ends early");
                assertArrayEquals(leader.lastEntryBytes(), replica.lastEntryBytes(), "entry " + n + " differs");
                n++;
            }
        }
        try (Store replica = Store.open(replicaDir, opts)) {
            assertEquals(before, replica.digest(), "the replica after a restart");
        }
    }

    @Test
    void walWrittenWithEachSettingAcrossRestartsReplaysAsOne() {
        long seed = new SecureRandom().nextLong();
        System.out.println("CompressedImagesTest: seed " + seed);
        Random rnd = new Random(seed);
        Path dir = tmp.resolve("mixed");
        Path crashed = tmp.resolve("crashed");
        StateDigest before;
        WalCompression[] order = {WalCompression.NONE, WalCompression.ZSTD, WalCompression.LZ4, WalCompression.NONE,
                WalCompression.ZSTD};
        for (int round = 0; round < order.length; round++) {
            try (Store s = Store.open(dir, StoreOptions.defaults().withWalCompression(order[round]))) {
                s.checkpoint();
                write(s, rnd, 150, 300, "k");
                if (round == order.length - 1) {
                    WalSurgery.copyTree(dir, crashed);
                }
            }
        }
        try (Store s = Store.open(dir)) {
            before = s.digest();
        }
        int[] versions = versionsInWal(dir, 1);
        assertTrue(versions[1] > 100 && versions[3] > 20, "plain and compressed entries: "
                + java.util.Arrays.toString(versions));
        assertEquals(before, PageImage.replayWal(dir).digest(), "a replay of the mixed WAL from LSN 1 differs");
        try (Store s = Store.open(crashed, StoreOptions.defaults().withWalCompression(WalCompression.LZ4))) {
            assertEquals(before, s.digest(), "recovery of the last round's compressed WAL differs");
        }
    }
}
