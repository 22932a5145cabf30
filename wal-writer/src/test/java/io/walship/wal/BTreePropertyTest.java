package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;

/**
 * Random puts, deletes and gets against a {@link TreeMap}, with the tree's structure
 * ({@link BTree#check}: order, separators, depth, leaf chain, every page in the tree or on the
 * free list exactly once) checked as it grows and shrinks. Each try is one seed (jqwik prints the
 * failing one); phases alternate insert-heavy and delete-heavy so merges, refills, root collapses
 * and page reuse all happen, with keys and values of every size up to the limits.
 */
class BTreePropertyTest {
    @Property(tries = 60)
    void matchesASortedMapThroughGrowthAndShrinkage(@ForAll long seed) {
        Random rnd = new Random(seed);
        MemPages pages = new MemPages();
        BTree tree = new BTree(pages);
        TreeMap<byte[], byte[]> model = new TreeMap<>(Arrays::compareUnsigned);
        int keySpace = 200 + rnd.nextInt(3000);
        int maxValue = rnd.nextBoolean() ? BTree.MAX_VALUE : 1 + rnd.nextInt(200);
        List<byte[]> keys = new ArrayList<>();
        for (int i = 0; i < keySpace; i++) {
            byte[] k = new byte[1 + rnd.nextInt(rnd.nextInt(10) == 0 ? BTree.MAX_KEY : 16)];
            rnd.nextBytes(k);
            keys.add(k);
        }
        for (int phase = 0; phase < 6; phase++) {
            int putShare = phase % 2 == 0 ? 8 : 2; // out of 10
            int ops = 500 + rnd.nextInt(3000);
            for (int i = 0; i < ops; i++) {
                byte[] k = keys.get(rnd.nextInt(keySpace));
                int op = rnd.nextInt(10);
                if (op < putShare) {
                    byte[] v = new byte[rnd.nextInt(maxValue + 1)];
                    rnd.nextBytes(v);
                    byte[] old = model.put(k, v);
                    assertEquals(old == null || !Arrays.equals(old, v), tree.put(k, v));
                } else if (op < 9) {
                    assertEquals(model.remove(k) != null, tree.delete(k));
                } else {
                    byte[] want = model.get(k);
                    byte[] got = tree.get(k);
                    if (want == null) {
                        assertEquals(null, got);
                    } else {
                        assertArrayEquals(want, got);
                    }
                }
            }
            PageSpace s = tree.check();
            assertEquals(model.size(), s.pairs(), "seed " + seed + " phase " + phase);
            List<byte[]> scanned = new ArrayList<>();
            tree.scan(null, null, (k, v) -> {
                scanned.add(k);
                assertArrayEquals(model.get(k), v);
                return true;
            });
            int i = 0;
            for (Map.Entry<byte[], byte[]> e : model.entrySet()) {
                assertArrayEquals(e.getKey(), scanned.get(i++));
            }
        }
    }
}
