package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docs/FORMAT.md "Incremental image": the golden image (a hand-built 3-page snapshot at LSN 9 against a
 * 2-page parent at LSN 5) keeps its bytes; composing incremental images onto their parents gives the
 * full image byte for byte (its SHA-256) for real stores that grow and change; a damaged or misapplied
 * incremental image is refused. Regenerate the golden file with -Dwalship.golden.write=DIR only for a
 * new format version.
 */
class IncrementalImageTest {
    @TempDir
    Path tmp;

    private static byte[] page(byte type, long lsn, int fill) {
        byte[] p = new byte[PageFormat.PAGE_SIZE];
        PageFormat.init(p, type);
        PageFormat.setLsn(p, lsn);
        for (int i = 64; i < 96; i++) {
            p[i] = (byte) (fill + i);
        }
        return PageFormat.sealedCopy(p);
    }

    /** A full snapshot image of {@code pages} (sealed) at {@code lsn}, timeline 1, system id 0x1122334455667788. */
    private static byte[] image(long lsn, byte[]... pages) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(Snapshot.header(lsn, 1, 0x1122334455667788L, pages.length, 1_700_000_000_000_000L + lsn));
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        for (byte[] p : pages) {
            out.writeBytes(p);
            crc.update(p);
        }
        out.writeBytes(Snapshot.trailer(pages.length, (int) crc.getValue()));
        return out.toByteArray();
    }

    private static String sha(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    @Test
    void theGoldenIncrementalImageKeepsItsBytesAndComposesToTheFullImage() throws Exception {
        byte[] p0 = page(PageFormat.TYPE_META, 3, 1);
        byte[] p1old = page(PageFormat.TYPE_LEAF, 4, 2);
        byte[] parent = image(5, p0, p1old);
        byte[] p1 = page(PageFormat.TYPE_LEAF, 7, 3);
        byte[] p2 = page(PageFormat.TYPE_LEAF, 6, 4); // new page, older LSN than... still past the parent's count
        byte[] full = image(9, p0, p1, p2);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        IncrementalImage.Written w = IncrementalImage.write(new ByteArrayInputStream(full),
                new IncrementalImage.Parent(5, 1, 2), out);
        assertEquals(2, w.pages());
        byte[] incr = out.toByteArray();
        assertEquals(w.bytes(), incr.length);
        assertEquals(64 + 2 * (4 + 4096) + 16, incr.length);
        String dir = System.getProperty("walship.golden.write");
        if (dir != null) {
            Files.write(Path.of(dir, "incremental-v1.bin"), incr);
        }
        byte[] golden;
        try (InputStream in = IncrementalImageTest.class.getResourceAsStream("/golden/incremental-v1.bin")) {
            golden = in.readAllBytes();
        }
        assertArrayEquals(golden, incr);

        Path data = tmp.resolve("composed");
        SnapshotLoader.load(new ByteArrayInputStream(parent), data);
        IncrementalImage.Info info = IncrementalImage.apply(new ByteArrayInputStream(golden), data,
                new IncrementalImage.Parent(5, 1, 2));
        assertEquals(9, info.lsn());
        assertEquals(3, info.pageCount());
        assertEquals(sha(full), IncrementalImage.imageSha256(data, 3));
        assertEquals(9, ControlFile.read(data).checkpointLsn());
    }

    @Test
    void aShrunkImageIsCutToItsPageCount() throws Exception {
        byte[] p0 = page(PageFormat.TYPE_META, 3, 1);
        byte[] parent = image(5, p0, page(PageFormat.TYPE_LEAF, 4, 2), page(PageFormat.TYPE_LEAF, 5, 3));
        byte[] full = image(8, page(PageFormat.TYPE_META, 8, 5), page(PageFormat.TYPE_LEAF, 4, 2));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        IncrementalImage.write(new ByteArrayInputStream(full), new IncrementalImage.Parent(5, 1, 3), out);
        Path data = tmp.resolve("shrunk");
        SnapshotLoader.load(new ByteArrayInputStream(parent), data);
        IncrementalImage.apply(new ByteArrayInputStream(out.toByteArray()), data, new IncrementalImage.Parent(5, 1, 3));
        assertEquals(sha(full), IncrementalImage.imageSha256(data, 2));
        assertEquals(2L * PageFormat.PAGE_SIZE, Files.size(data.resolve(PageFile.FILE_NAME)));
    }

    @Test
    void damagedOrMisappliedImagesAreRefused() throws Exception {
        byte[] p0 = page(PageFormat.TYPE_META, 3, 1);
        byte[] parent = image(5, p0, page(PageFormat.TYPE_LEAF, 4, 2));
        byte[] full = image(9, p0, page(PageFormat.TYPE_LEAF, 7, 3), page(PageFormat.TYPE_LEAF, 6, 4));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        IncrementalImage.write(new ByteArrayInputStream(full), new IncrementalImage.Parent(5, 1, 2), out);
        byte[] incr = out.toByteArray();
        // built on another parent than the chain below it
        Path a = tmp.resolve("a");
        SnapshotLoader.load(new ByteArrayInputStream(parent), a);
        IntegrityException e = assertThrows(IntegrityException.class, () -> IncrementalImage.apply(
                new ByteArrayInputStream(incr), a, new IncrementalImage.Parent(4, 1, 2)));
        assertTrue(e.getMessage().contains("built on LSN"), e.getMessage());
        // a flipped bit inside a page
        byte[] flipped = incr.clone();
        flipped[64 + 4 + 100] ^= 1;
        Path b = tmp.resolve("b");
        SnapshotLoader.load(new ByteArrayInputStream(parent), b);
        assertThrows(IntegrityException.class, () -> IncrementalImage.apply(new ByteArrayInputStream(flipped), b,
                new IncrementalImage.Parent(5, 1, 2)));
        // cut short before its trailer
        Path c = tmp.resolve("c");
        SnapshotLoader.load(new ByteArrayInputStream(parent), c);
        byte[] cut = java.util.Arrays.copyOf(incr, incr.length - 16);
        assertThrows(IntegrityException.class, () -> IncrementalImage.apply(new ByteArrayInputStream(cut), c,
                new IncrementalImage.Parent(5, 1, 2)));
        // a page carrying an LSN past the snapshot's is refused when the incremental image is made
        byte[] bad = image(6, p0, page(PageFormat.TYPE_LEAF, 7, 3));
        assertThrows(IntegrityException.class, () -> IncrementalImage.write(new ByteArrayInputStream(bad),
                new IncrementalImage.Parent(5, 1, 2), new ByteArrayOutputStream()));
    }

    /**
     * Real stores: random writes (growing the store, overwriting, deleting, freeing pages), a snapshot after
     * each round, each made incremental to the one before; composing the chain onto the first full image
     * gives each round's full image (its SHA-256) and the store's content. This is the invariant the
     * incremental backup rests on: every change to a page raises its page LSN.
     */
    @Test
    void composedChainsEqualTheFullImagesOfARealStore() throws Exception {
        long seed = 14;
        System.out.println("IncrementalImageTest seed " + seed);
        Random rnd = new Random(seed);
        Path data = tmp.resolve("store");
        Path composed = tmp.resolve("composed-store");
        try (Store store = Store.open(data, StoreOptions.defaults().withPoolPages(64))) {
            IncrementalImage.Parent prev = null;
            int changedTotal = 0;
            for (int round = 0; round < 8; round++) {
                int ops = 50 + rnd.nextInt(300);
                for (int i = 0; i < ops; i++) {
                    WriteBatch b = new WriteBatch();
                    String k = "key-" + rnd.nextInt(round < 3 ? 2000 : 400);
                    if (rnd.nextInt(5) == 0) {
                        b.delete(k.getBytes(StandardCharsets.UTF_8));
                    } else {
                        b.put(k.getBytes(StandardCharsets.UTF_8), ("v" + round + "x".repeat(rnd.nextInt(300)))
                                .getBytes(StandardCharsets.UTF_8));
                    }
                    store.write(b);
                }
                if (round % 3 == 1) {
                    store.checkpoint();
                }
                byte[] full;
                try (Snapshot s = store.snapshot(); InputStream in = s.openStream()) {
                    full = in.readAllBytes();
                }
                SnapshotLoader.Info info = SnapshotLoader.readHeader(new ByteArrayInputStream(full));
                if (prev == null) {
                    SnapshotLoader.load(new ByteArrayInputStream(full), composed);
                } else {
                    ByteArrayOutputStream out = new ByteArrayOutputStream();
                    IncrementalImage.Written w = IncrementalImage.write(new ByteArrayInputStream(full), prev, out);
                    assertTrue(w.pages() <= info.pageCount());
                    changedTotal += w.pages();
                    IncrementalImage.apply(new ByteArrayInputStream(out.toByteArray()), composed, prev);
                }
                assertEquals(sha(full), IncrementalImage.imageSha256(composed, info.pageCount()), "round " + round);
                prev = new IncrementalImage.Parent(info.lsn(), info.timeline(), info.pageCount());
            }
            assertTrue(changedTotal > 0);
        }
        // the composed directory opens as the store it stands for
        StateDigest want;
        try (Store s = Store.open(data)) {
            want = s.digest();
        }
        try (Store s = Store.open(composed)) {
            assertEquals(want.sha256(), s.digest().sha256());
        }
    }
}
