package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.Test;

/**
 * The buffer pool's page number → frame table: against {@link HashMap} on random operations, and
 * the probe-chain cases of linear probing with backward-shift deletion one by one.
 */
class FrameTableTest {
    private static BufferPool.Frame frame(int pageNo) {
        return new BufferPool.Frame(pageNo, null);
    }

    @Test
    void matchesAHashMapOnRandomOperations() {
        long seed = Long.getLong("walship.seed", System.nanoTime());
        System.out.println("FrameTableTest seed " + seed + " (-Dwalship.seed=" + seed + " repeats it)");
        Random rnd = new Random(seed);
        FrameTable table = new FrameTable();
        Map<Integer, BufferPool.Frame> oracle = new HashMap<>();
        for (int round = 0; round < 40; round++) {
            // key ranges from dense (long probe chains, many hits) to any int (negative, MIN_VALUE, MAX_VALUE)
            int range = switch (round % 4) {
                case 0 -> 64;
                case 1 -> 4_096;
                case 2 -> 1 << 20;
                default -> 0;
            };
            // phases that grow the table and phases that shrink it
            int putPercent = round % 3 == 2 ? 20 : 65;
            int ops = 1 + rnd.nextInt(20_000);
            for (int op = 0; op < ops; op++) {
                int key = range == 0 ? anyInt(rnd) : rnd.nextInt(range);
                int what = rnd.nextInt(100);
                String at = "seed " + seed + " round " + round + " op " + op + " key " + key;
                if (what < putPercent) {
                    BufferPool.Frame f = frame(key);
                    assertSame(oracle.put(key, f), table.put(key, f), at);
                } else if (what < putPercent + 25) {
                    assertSame(oracle.remove(key), table.remove(key), at);
                } else {
                    assertSame(oracle.get(key), table.get(key), at);
                }
                assertEquals(oracle.size(), table.size(), at);
            }
            String at = "seed " + seed + " after round " + round;
            table.checkInvariants();
            for (Map.Entry<Integer, BufferPool.Frame> e : oracle.entrySet()) {
                assertSame(e.getValue(), table.get(e.getKey()), at);
            }
            assertTrue(table.capacity() <= Math.max(FrameTable.MIN_CAPACITY, 8 * table.size()),
                    at + ": capacity " + table.capacity() + " for " + table.size());
        }
        for (Integer key : new ArrayList<>(oracle.keySet())) {
            assertSame(oracle.remove(key), table.remove(key), "seed " + seed);
        }
        assertEquals(0, table.size());
        assertEquals(FrameTable.MIN_CAPACITY, table.capacity(), "back to its smallest when empty");
        table.checkInvariants();
    }

    private static int anyInt(Random rnd) {
        return switch (rnd.nextInt(8)) {
            case 0 -> Integer.MIN_VALUE + rnd.nextInt(4);
            case 1 -> Integer.MAX_VALUE - rnd.nextInt(4);
            case 2 -> rnd.nextInt(8) - 4;
            default -> rnd.nextInt();
        };
    }

    /** {@code n} distinct keys whose home slot in a table of {@code capacity} is {@code home}. */
    private static List<Integer> keysAt(int home, int capacity, int n, int from) {
        List<Integer> keys = new ArrayList<>();
        for (int k = from; keys.size() < n; k++) {
            if (FrameTable.home(k, capacity) == home) {
                keys.add(k);
            }
        }
        return keys;
    }

    @Test
    void aChainThatWrapsAroundTheEndIsShiftedBackAcrossIt() {
        FrameTable table = new FrameTable();
        int cap = FrameTable.MIN_CAPACITY;
        int last = cap - 1;
        // three keys at home `last` take slots last, 0, 1; one at home 0 is pushed to 2 and one at
        // home 1 to 3
        List<Integer> atLast = keysAt(last, cap, 3, 0);
        int atZero = keysAt(0, cap, 1, 0).get(0);
        int atOne = keysAt(1, cap, 1, 0).get(0);
        for (int k : atLast) {
            table.put(k, frame(k));
        }
        BufferPool.Frame zeroFrame = frame(atZero);
        table.put(atZero, zeroFrame);
        table.put(atOne, frame(atOne));
        assertEquals(cap, table.capacity(), "no growth: the slots are the ones computed");
        assertEquals(last, table.slot(atLast.get(0)));
        assertEquals(0, table.slot(atLast.get(1)));
        assertEquals(1, table.slot(atLast.get(2)));
        assertEquals(2, table.slot(atZero));
        assertEquals(3, table.slot(atOne));

        // removing the head at the very end: everything behind it moves back one slot, across the end
        assertEquals(atLast.get(0), table.remove(atLast.get(0)).pageNo);
        assertEquals(last, table.slot(atLast.get(1)));
        assertEquals(0, table.slot(atLast.get(2)));
        assertEquals(1, table.slot(atZero));
        assertEquals(2, table.slot(atOne));
        assertEquals(-1, table.slot(atLast.get(0)));
        table.checkInvariants();

        // removing the entry now at slot 0 (home `last`): the one at home 0 moves to 0, the one at
        // home 1 to 1, slot 2 is free again
        assertEquals(atLast.get(2), table.remove(atLast.get(2)).pageNo);
        assertEquals(last, table.slot(atLast.get(1)));
        assertEquals(0, table.slot(atZero));
        assertEquals(1, table.slot(atOne));
        table.checkInvariants();
        assertEquals(3, table.size());
        assertNull(table.get(atLast.get(0)));
        assertNull(table.get(atLast.get(2)));
        assertSame(zeroFrame, table.get(atZero), "the moved entry is still the frame put there");
        assertEquals(atOne, table.get(atOne).pageNo);
    }

    @Test
    void anEntryAtItsHomeOrBeforeTheFreedSlotIsNotMoved() {
        FrameTable table = new FrameTable();
        int cap = FrameTable.MIN_CAPACITY;
        // slots 5 and 6: two keys at home 5; slot 7: a key at home 7; slot 8: a key at home 6,
        // pushed past 6 and 7. Removing the first at 5 moves the second home-5 key back to 5,
        // leaves the key at its home 7 where it is, and moves the home-6 key over it to 6.
        List<Integer> five = keysAt(5, cap, 2, 0);
        int seven = keysAt(7, cap, 1, 0).get(0);
        int six = keysAt(6, cap, 1, 0).get(0);
        table.put(five.get(0), frame(five.get(0)));
        table.put(five.get(1), frame(five.get(1)));
        table.put(seven, frame(seven));
        table.put(six, frame(six));
        assertEquals(5, table.slot(five.get(0)));
        assertEquals(6, table.slot(five.get(1)));
        assertEquals(7, table.slot(seven));
        assertEquals(8, table.slot(six));

        table.remove(five.get(0));
        assertEquals(5, table.slot(five.get(1)));
        assertEquals(7, table.slot(seven), "at its home: never moved");
        assertEquals(6, table.slot(six), "moved back to its home over the gap");
        assertEquals(-1, table.slot(five.get(0)));
        table.checkInvariants();

        // removing the entry at its home leaves the rest where they are
        table.remove(seven);
        assertEquals(5, table.slot(five.get(1)));
        assertEquals(6, table.slot(six));
        table.checkInvariants();
    }

    @Test
    void removingTheLastOfAChainOrAMissingKeyChangesNothingElse() {
        FrameTable table = new FrameTable();
        int cap = FrameTable.MIN_CAPACITY;
        List<Integer> three = keysAt(3, cap, 3, 0);
        for (int k : three) {
            table.put(k, frame(k));
        }
        int missingSameHome = keysAt(3, cap, 4, 0).get(3);
        assertNull(table.remove(missingSameHome));
        assertNull(table.remove(keysAt(9, cap, 1, 0).get(0)));
        assertEquals(3, table.size());
        table.remove(three.get(2));
        assertEquals(3, table.slot(three.get(0)));
        assertEquals(4, table.slot(three.get(1)));
        assertEquals(-1, table.slot(three.get(2)));
        table.checkInvariants();
    }

    @Test
    void replacingAFrameKeepsTheSizeAndReturnsTheOldOne() {
        FrameTable table = new FrameTable();
        BufferPool.Frame a = frame(7);
        BufferPool.Frame b = frame(7);
        assertNull(table.put(7, a));
        assertSame(a, table.put(7, b));
        assertEquals(1, table.size());
        assertSame(b, table.get(7));
        assertThrows(NullPointerException.class, () -> table.put(8, null));
    }

    @Test
    void memoryFollowsTheNumberOfFramesNotThePageNumbers() {
        FrameTable table = new FrameTable();
        // a pool's worth of frames spread over a store of 2^31 pages
        Random rnd = new Random(1);
        List<Integer> keys = new ArrayList<>();
        while (keys.size() < 10_000) {
            int k = rnd.nextInt(Integer.MAX_VALUE);
            if (table.put(k, frame(k)) == null) {
                keys.add(k);
            }
        }
        assertTrue(table.capacity() <= 4 * table.size(), "capacity " + table.capacity());
        for (int i = 0; i < keys.size() - 10; i++) {
            table.remove(keys.get(i));
        }
        assertEquals(10, table.size());
        assertTrue(table.capacity() <= 8 * 10 + FrameTable.MIN_CAPACITY, "shrank: " + table.capacity());
        table.checkInvariants();
        for (int i = keys.size() - 10; i < keys.size(); i++) {
            assertEquals(keys.get(i), table.get(keys.get(i)).pageNo);
        }
    }
}
