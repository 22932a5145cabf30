package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import org.junit.jupiter.api.Test;

class BTreeTest {
    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void randomOperationsMatchASortedMap() {
        MemPages pages = new MemPages();
        BTree tree = new BTree(pages);
        TreeMap<String, byte[]> model = new TreeMap<>();
        Random rnd = new Random(42);
        for (int i = 0; i < 30_000; i++) {
            String k = "k" + rnd.nextInt(5_000);
            int op = rnd.nextInt(10);
            if (op < 7) {
                byte[] v = new byte[rnd.nextInt(i % 100 == 0 ? BTree.MAX_VALUE : 150)];
                rnd.nextBytes(v);
                tree.put(b(k), v);
                model.put(k, v);
            } else {
                assertEquals(model.remove(k) != null, tree.delete(b(k)));
            }
        }
        for (Map.Entry<String, byte[]> e : model.entrySet()) {
            assertArrayEquals(e.getValue(), tree.get(b(e.getKey())), e.getKey());
        }
        List<String> scanned = new ArrayList<>();
        tree.scan(null, null, (k, v) -> {
            scanned.add(new String(k, StandardCharsets.UTF_8));
            assertArrayEquals(model.get(new String(k, StandardCharsets.UTF_8)), v);
            return true;
        });
        assertEquals(new ArrayList<>(model.keySet()), scanned);
        assertTrue(MetaPage.pageCount(pages.read(0)) > 50, "the tree must have split into many pages");
    }

    @Test
    void rangeScanIsHalfOpenAndOrdered() {
        BTree tree = new BTree(new MemPages());
        for (int i = 0; i < 2_000; i++) {
            tree.put(b(String.format("key%05d", i)), b("v" + i));
        }
        List<String> got = new ArrayList<>();
        tree.scan(b("key00100"), b("key00105"), (k, v) -> got.add(new String(k, StandardCharsets.UTF_8)));
        assertEquals(List.of("key00100", "key00101", "key00102", "key00103", "key00104"), got);
        got.clear();
        tree.scan(b("key019995"), null, (k, v) -> got.add(new String(k, StandardCharsets.UTF_8)));
        assertEquals(List.of(), got);
    }

    @Test
    void unsignedKeyOrder() {
        BTree tree = new BTree(new MemPages());
        tree.put(new byte[] {(byte) 0x80}, b("high"));
        tree.put(new byte[] {0x01}, b("low"));
        List<byte[]> keys = new ArrayList<>();
        tree.scan(null, null, (k, v) -> keys.add(k));
        assertArrayEquals(new byte[] {0x01}, keys.get(0));
    }

    @Test
    void maximumSizedCellsSplitCleanly() {
        BTree tree = new BTree(new MemPages());
        TreeMap<String, byte[]> model = new TreeMap<>();
        Random rnd = new Random(7);
        for (int i = 0; i < 3_000; i++) {
            char[] kc = new char[BTree.MAX_KEY];
            Arrays.fill(kc, (char) ('a' + rnd.nextInt(26)));
            String k = new String(kc, 0, BTree.MAX_KEY - 6) + String.format("%06d", rnd.nextInt(1_000_000));
            byte[] v = new byte[BTree.MAX_VALUE];
            rnd.nextBytes(v);
            tree.put(b(k), v);
            model.put(k, v);
        }
        model.forEach((k, v) -> assertArrayEquals(v, tree.get(b(k))));
    }

    @Test
    void limitsAreEnforcedWithAClearMessage() {
        BTree tree = new BTree(new MemPages());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> tree.put(new byte[BTree.MAX_KEY + 1], b("v")));
        assertEquals("key is 257 bytes; the limit is 256", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> tree.put(b("k"), new byte[BTree.MAX_VALUE + 1]));
        assertEquals("value is 1025 bytes; the limit is 1024", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> tree.put(new byte[0], b("v")));
    }

    @Test
    void sameValuePutIsNoChange() {
        BTree tree = new BTree(new MemPages());
        assertTrue(tree.put(b("a"), b("1")));
        assertFalse(tree.put(b("a"), b("1")));
        assertTrue(tree.put(b("a"), b("22")));
        assertArrayEquals(b("22"), tree.get(b("a")));
        assertTrue(tree.delete(b("a")));
        assertNull(tree.get(b("a")));
        assertFalse(tree.delete(b("a")));
    }

    private static byte[] value(Random rnd, int size) {
        byte[] v = new byte[size];
        rnd.nextBytes(v);
        return v;
    }

    /** Keys of 10 bytes, in order: the shape of a bulk load. */
    private static byte[] seqKey(int i) {
        return b(String.format("k%09d", i));
    }

    @Test
    void sequentialInsertsFillLeaves() {
        for (int size : new int[] {1000, 100}) {
            MemPages pages = new MemPages();
            BTree tree = new BTree(pages);
            Random rnd = new Random(size);
            int n = size == 1000 ? 20_000 : 100_000;
            for (int i = 0; i < n; i++) {
                tree.put(seqKey(i), value(rnd, size));
            }
            PageSpace s = tree.check();
            assertEquals(n, s.pairs());
            // 4 rows of 10 + 1000 bytes (+ 6 of cell header and slot) fill a leaf exactly
            assertTrue(s.leafFill() >= 0.97, size + "-byte values: leaves are " + s.leafFill() + " full, " + s);
            assertTrue(s.pages() <= (size == 1000 ? n / 4 : n / 35) * 1.03, size + "-byte values: " + s);
        }
    }

    @Test
    void deletesMergeNodesAndFreedPagesAreReused() {
        MemPages pages = new MemPages();
        BTree tree = new BTree(pages);
        Random rnd = new Random(3);
        TreeMap<Integer, byte[]> model = new TreeMap<>();
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < 20_000; i++) {
            order.add(i);
        }
        java.util.Collections.shuffle(order, rnd);
        for (int i : order) {
            byte[] v = value(rnd, 100 + rnd.nextInt(900));
            tree.put(seqKey(i), v);
            model.put(i, v);
        }
        PageSpace full = tree.check();
        // delete 90 % at random: the leaves left must be merged, the pages freed
        java.util.Collections.shuffle(order, rnd);
        for (int j = 0; j < 18_000; j++) {
            assertTrue(tree.delete(seqKey(order.get(j))));
            model.remove(order.get(j));
        }
        PageSpace thinned = tree.check();
        assertEquals(model.size(), thinned.pairs());
        assertTrue(thinned.leafPages() <= full.leafPages() / 5, "after deleting 90 %: " + thinned + ", before: " + full);
        assertTrue(thinned.freePages() >= full.usedPages() * 3 / 4, "freed pages: " + thinned);
        assertTrue(thinned.leafFill() >= 0.5, "leaves after deletes: " + thinned);
        // inserting the same again takes the free pages back before the file grows
        for (int j = 0; j < 18_000; j++) {
            byte[] v = value(rnd, 100 + rnd.nextInt(900));
            tree.put(seqKey(order.get(j)), v);
            model.put(order.get(j), v);
        }
        PageSpace again = tree.check();
        assertTrue(again.pages() <= full.pages() * 11 / 10, "refilled: " + again + ", first fill: " + full);
        // delete everything: the tree collapses to one empty root leaf, every other page is free
        for (int i : order) {
            tree.delete(seqKey(i));
        }
        PageSpace empty = tree.check();
        assertEquals(1, empty.leafPages(), empty.toString());
        assertEquals(0, empty.internalPages(), empty.toString());
        assertEquals(empty.pages() - 2, empty.freePages(), empty.toString());
        model.clear();
        tree.scan(null, null, (k, v) -> fail("left over: " + new String(k, StandardCharsets.UTF_8)));
    }

    @Test
    void randomInsertsOfLargeValuesShiftCellsToSiblings() {
        MemPages pages = new MemPages();
        BTree tree = new BTree(pages);
        Random rnd = new Random(1001);
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < 20_000; i++) {
            order.add(i);
        }
        java.util.Collections.shuffle(order, rnd);
        for (int i : order) {
            tree.put(seqKey(i), value(rnd, 1000));
        }
        PageSpace s = tree.check();
        System.out.println("random inserts of 1000-byte values: " + s + ", leaf fill " + s.leafFill());
        // a split leaves two half-full leaves; moving an edge cell to a sibling first keeps the
        // average up (without it: 73 %)
        assertTrue(s.leafFill() >= 0.76, "1000-byte values in random order: leaves are " + s.leafFill() + " full");
    }
}
