package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
}
