package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import net.openhft.chronicle.core.time.SetTimeProvider;
import net.openhft.chronicle.queue.rollcycles.TestRollCycles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Adversarial review of branch ptable: FrameTable, PageTxn's arrays, WalAppender's drain. */
class PtableReviewTest {
    @TempDir
    Path tmp;

    private static BufferPool.Frame frame(int k) {
        return new BufferPool.Frame(k, null);
    }

    /** Few keys, all colliding in a small table, extreme values; invariants after every single op. */
    @Test
    void frameTableInvariantsAfterEveryOperation() {
        for (long seed = 1; seed <= 300; seed++) {
            Random rnd = new Random(seed);
            FrameTable t = new FrameTable();
            Map<Integer, BufferPool.Frame> oracle = new HashMap<>();
            int[] pool = new int[24];
            for (int i = 0; i < pool.length; i++) {
                pool[i] = switch (i % 6) {
                    case 0 -> Integer.MIN_VALUE + i;
                    case 1 -> Integer.MAX_VALUE - i;
                    case 2 -> -i;
                    case 3 -> 0;
                    default -> rnd.nextInt();
                };
            }
            // keys colliding at home 15 / 0 of the minimum table (wrap-around chains)
            List<Integer> hot = new ArrayList<>();
            for (int k = Integer.MIN_VALUE; hot.size() < 12; k += 7919) {
                int h = FrameTable.home(k, FrameTable.MIN_CAPACITY);
                if (h == 15 || h == 0 || h == 14) {
                    hot.add(k);
                }
            }
            for (int op = 0; op < 3000; op++) {
                int key = rnd.nextBoolean() ? pool[rnd.nextInt(pool.length)] : hot.get(rnd.nextInt(hot.size()));
                int w = rnd.nextInt(10);
                String at = "seed " + seed + " op " + op + " key " + key;
                if (w < 5) {
                    BufferPool.Frame f = frame(key);
                    assertSame(oracle.put(key, f), t.put(key, f), at);
                } else if (w < 9) {
                    assertSame(oracle.remove(key), t.remove(key), at);
                } else {
                    assertSame(oracle.get(key), t.get(key), at);
                }
                t.checkInvariants();
                for (Map.Entry<Integer, BufferPool.Frame> e : oracle.entrySet()) {
                    assertSame(e.getValue(), t.get(e.getKey()), at);
                }
            }
        }
    }

    private BufferPool newPool(PageFile file, int pages) {
        for (int p = 0; p < pages; p++) {
            byte[] page = new byte[PageFormat.PAGE_SIZE];
            PageFormat.init(page, PageFormat.TYPE_LEAF);
            PageFormat.setLsn(page, 10);
            file.write(p, page);
        }
        return new BufferPool(file, 1_000);
    }

    /**
     * A transaction that crosses the scan limit mid-way, with added pages before and after the
     * switch, an added page that was already touched, re-touches, and then seal + rollback.
     */
    @Test
    void pageTxnCrossingTheScanLimitSealsAndRollsBackLikeTheMaps() {
        PageFile file = new PageFile(tmp, false);
        try {
            BufferPool pool = newPool(file, 80);
            // page 3 dirty with its own LSN before
            PageTxn first = new PageTxn(pool, List.of());
            first.write(3)[300] = 7;
            first.seal(50, 0);
            byte[] page3 = pool.frame(3).data.clone();

            PageTxn txn = new PageTxn(pool, List.of());
            List<Integer> order = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                int p = 70 - i * 3; // 70, 67, ..., 43
                txn.write(p)[200] = (byte) (i + 1);
                order.add(p);
            }
            txn.addNewPage(100, PageFormat.TYPE_LEAF);
            order.add(100);
            txn.write(3)[400] = 1;
            order.add(3);
            for (int i = 0; i < 10; i++) { // crosses 16 here
                int p = 5 + i;
                txn.write(p)[200] = (byte) (i + 50);
                order.add(p);
                // re-touch every page so far, through whichever lookup is active
                for (int q : order) {
                    assertSame(txn.write(q), txn.read(q), "page " + q);
                }
            }
            txn.addNewPage(101, PageFormat.TYPE_LEAF);
            order.add(101);
            txn.write(101)[600] = 9;
            for (int q : order) {
                assertSame(pool.frame(q).data, txn.read(q), "page " + q + " is the pool's frame");
                assertEquals(1, pool.frame(q).pins, "page " + q + " pinned once");
            }
            List<PageChange> changes = txn.seal(60, 0);
            List<Integer> logged = new ArrayList<>();
            for (PageChange c : changes) {
                if (logged.isEmpty() || logged.get(logged.size() - 1) != c.pageNo()) {
                    logged.add(c.pageNo());
                }
            }
            assertEquals(order, logged);
            assertTrue(changes.stream().filter(c -> c.pageNo() == 100 || c.pageNo() == 101)
                    .allMatch(PageChange::fullPage));
            txn.rollback();
            assertArrayEquals(page3, pool.frame(3).data);
            assertTrue(pool.frame(3).dirty);
            assertEquals(50, pool.frame(3).lsn);
            for (int q : order) {
                if (q >= 100 || q == 3) {
                    continue;
                }
                BufferPool.Frame f = pool.frame(q);
                assertFalse(f.dirty, "page " + q);
                assertArrayEquals(file.read(q), f.data, "page " + q);
                assertEquals(0, f.pins, "page " + q);
            }
            assertEquals(1, pool.stats().dirtyPages());
            assertEquals(0, pool.frame(3).pins);
        } finally {
            file.close();
        }
    }

    /**
     * Drain must hand back every file appended to since the last drain, oldest first, with its
     * end; a roll mid-group seals the old file. Compared with what the per-entry merge gave.
     */
    @Test
    void drainReturnsEveryFileWrittenAcrossRolls() {
        SetTimeProvider clock = new SetTimeProvider(java.time.Instant.parse("2026-11-24T10:00:00Z"));
        try (WalLog wal = new WalLog(tmp, false, TestRollCycles.TEST_SECONDLY, clock);
             WalAppender a = new WalAppender(wal, new Preallocator(), null)) {
            assertEquals(List.of(), a.drain());
            byte[] e = new byte[100];
            a.append(e);
            a.append(e);
            List<WalAppender.Target> d1 = a.drain();
            assertEquals(1, d1.size(), d1.toString());
            assertFalse(d1.get(0).sealed());
            Path f1 = d1.get(0).file();
            assertEquals(List.of(), a.drain(), "nothing written since");

            a.append(e);
            clock.advanceMillis(1_000); // roll mid-group
            a.append(e);
            a.append(e);
            List<WalAppender.Target> d2 = a.drain();
            assertEquals(2, d2.size(), d2.toString());
            assertEquals(f1, d2.get(0).file());
            assertTrue(d2.get(0).sealed());
            assertEquals(Long.MAX_VALUE, d2.get(0).end());
            Path f2 = d2.get(1).file();
            assertFalse(f2.equals(f1));
            assertFalse(d2.get(1).sealed());
            long end2 = d2.get(1).end();

            // roll with nothing appended to the old file since the last drain
            a.append(e);
            List<WalAppender.Target> d3 = a.drain();
            assertEquals(1, d3.size());
            assertTrue(d3.get(0).end() > end2);
            clock.advanceMillis(1_000);
            a.append(e);
            List<WalAppender.Target> d4 = a.drain();
            assertEquals(2, d4.size(), d4.toString());
            assertEquals(f2, d4.get(0).file());
            assertTrue(d4.get(0).sealed());
            assertFalse(d4.get(1).sealed());

            // two rolls in one group
            a.append(e);
            clock.advanceMillis(1_000);
            a.append(e);
            clock.advanceMillis(1_000);
            a.append(e);
            List<WalAppender.Target> d5 = a.drain();
            assertEquals(3, d5.size(), d5.toString());
            assertTrue(d5.get(0).sealed() && d5.get(1).sealed() && !d5.get(2).sealed());
        }
    }
}
