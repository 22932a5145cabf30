package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A transaction's bookkeeping of the pages it touches, below and above the number it finds by a
 * scan (then through an index): reads see its own changes, seal logs the changed pages in the
 * order first touched, rollback puts bytes, dirty flags and LSNs back and forgets added pages.
 */
class PageTxnTest {
    private static final int PAGES = 60;

    @TempDir
    Path tmp;
    private PageFile file;
    private BufferPool pool;

    @BeforeEach
    void pages() {
        file = BufferPoolTest.leaves(tmp, PAGES, p -> 10);
        pool = new BufferPool(file, 1_000);
    }

    @AfterEach
    void close() {
        file.close();
    }

    /** Touches {@code count} pages in a scrambled order, writing each twice; returns the order. */
    private static List<Integer> touch(PageTxn txn, int count) {
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int p = (i * 7) % count + 1;
            order.add(p);
            txn.write(p)[200] = (byte) (p + 1);
        }
        for (int p : order) {
            assertEquals((byte) (p + 1), txn.read(p)[200], "page " + p + " read back in the transaction");
            assertSame(txn.write(p), txn.read(p));
            txn.write(p)[201] = (byte) p;
        }
        return order;
    }

    @Test
    void fewPagesSealInTheOrderFirstTouched() {
        sealsInOrder(5);
    }

    @Test
    void manyPagesSealInTheOrderFirstTouched() {
        sealsInOrder(40);
    }

    private void sealsInOrder(int count) {
        PageTxn txn = new PageTxn(pool, List.of());
        List<Integer> order = touch(txn, count);
        txn.read(count + 5); // read only: not logged
        byte[] unchanged = txn.write(count + 6);
        assertFalse(txn.isEmpty());
        List<PageChange> changes = txn.seal(99, 0);
        List<Integer> logged = new ArrayList<>();
        for (PageChange c : changes) {
            if (logged.isEmpty() || logged.get(logged.size() - 1) != c.pageNo()) {
                logged.add(c.pageNo());
            }
        }
        assertEquals(order, logged, "changed pages in the order first touched; the unchanged one left out");
        assertEquals(count, pool.stats().dirtyPages());
        assertEquals(10, PageFormat.lsn(unchanged));
        assertEquals(99, PageFormat.lsn(pool.frame(order.get(0)).data));
    }

    @Test
    void anUnchangedTransactionIsEmpty() {
        PageTxn txn = new PageTxn(pool, List.of());
        for (int p = 1; p <= 30; p++) {
            txn.write(p);
        }
        assertTrue(txn.isEmpty());
        txn.release();
    }

    @Test
    void fewPagesRollBack() {
        rollsBack(5);
    }

    @Test
    void manyPagesRollBack() {
        rollsBack(40);
    }

    private void rollsBack(int count) {
        // one page dirty before the transaction, with its own LSN
        PageTxn first = new PageTxn(pool, List.of());
        first.write(1)[300] = 1;
        first.seal(50, 0);
        byte[] page1 = pool.frame(1).data.clone();

        PageTxn txn = new PageTxn(pool, List.of());
        touch(txn, count);
        int added = txn.addNewPage(PAGES + 3, PageFormat.TYPE_LEAF);
        txn.write(added)[500] = 5;
        assertEquals(count + 1, pool.size());
        txn.seal(60, 0);
        assertEquals(count + 1, pool.stats().dirtyPages());
        txn.rollback();

        assertArrayEquals(page1, pool.frame(1).data);
        BufferPool.Frame f1 = pool.frame(1);
        assertTrue(f1.dirty);
        assertEquals(50, f1.lsn);
        for (int p = 2; p <= count; p++) {
            BufferPool.Frame f = pool.frame(p);
            assertFalse(f.dirty, "page " + p);
            assertArrayEquals(file.read(p), f.data, "page " + p);
        }
        assertEquals(1, pool.stats().dirtyPages());
        assertEquals(count, pool.size(), "the added page left the pool");
        for (int p = 1; p <= count; p++) {
            assertEquals(0, pool.frame(p).pins, "page " + p + " unpinned once");
        }
    }
}
