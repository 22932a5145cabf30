package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The buffer pool's rules, on a real page file (see the class comment of {@link BufferPool}). */
class BufferPoolTest {
    private static final int PAGES = 200;

    @TempDir
    Path tmp;
    private PageFile file;

    /** Records what the pool asked of the WAL, and may refuse dirty writes. */
    private static final class Recorder implements BufferPool.WriteBack {
        final List<Long> awaited = new ArrayList<>();
        boolean mayWrite = true;
        int overCapacityCalls;

        @Override
        public boolean mayWriteDirty() {
            return mayWrite;
        }

        @Override
        public void awaitDurable(long lsn) {
            awaited.add(lsn);
        }

        @Override
        public void overCapacity(int pages, int capacity) {
            overCapacityCalls++;
        }
    }

    /** A page file in {@code dir} of {@code pages} empty leaves, page p with LSN {@code lsnOf(p)}. */
    static PageFile leaves(Path dir, int pages, java.util.function.IntToLongFunction lsnOf) {
        PageFile f = new PageFile(dir, false);
        for (int p = 0; p < pages; p++) {
            byte[] page = new byte[PageFormat.PAGE_SIZE];
            PageFormat.init(page, PageFormat.TYPE_LEAF);
            PageFormat.setLsn(page, lsnOf.applyAsLong(p));
            f.write(p, page);
        }
        return f;
    }

    @BeforeEach
    void pages() {
        file = leaves(tmp, PAGES, p -> p);
    }

    @AfterEach
    void close() {
        file.close();
    }

    private static BufferPool.Frame change(BufferPool pool, int pageNo, long lsn) {
        BufferPool.Frame f = pool.frame(pageNo);
        PageFormat.setLsn(f.data, lsn);
        f.data[100] = (byte) lsn;
        pool.markDirty(f, lsn);
        return f;
    }

    @Test
    void cleanFramesLeaveFirstAndDirtyOnesOnlyAfterTheWalIsDurableUpToTheirLsn() {
        BufferPool pool = new BufferPool(file, 64);
        Recorder wal = new Recorder();
        for (int p = 0; p < 10; p++) {
            change(pool, p, 1_000 + p);
        }
        for (int p = 10; p < 100; p++) {
            pool.frame(p);
        }
        pool.evictToCapacity(wal);
        assertEquals(64, pool.size());
        assertEquals(10, pool.stats().dirtyPages(), "only clean frames had to go");
        assertTrue(wal.awaited.isEmpty());

        // fill with dirty frames only
        for (int p = 100; p < 200; p++) {
            change(pool, p, 2_000 + p);
        }
        pool.evictToCapacity(wal);
        assertTrue(pool.size() <= 64, "pool " + pool.size());
        assertFalse(wal.awaited.isEmpty());
        long written = pool.stats().evictionWrites();
        assertTrue(written > 0);
        // one batch of the oldest dirty frames (pages 0-9, then 100-139), after one WAL wait up to
        // the highest LSN among them
        assertEquals(List.of(2_139L), wal.awaited);
        assertEquals(50, written);
        byte[] onDisk = file.read(0);
        assertEquals(1_000, PageFormat.lsn(onDisk), "page 0 written with its change");
        assertEquals((byte) 1_000, onDisk[100]);
    }

    @Test
    void aStandbyThatMayNotWriteKeepsItsDirtyFramesAndSaysSo() {
        BufferPool pool = new BufferPool(file, 64);
        Recorder wal = new Recorder();
        wal.mayWrite = false;
        for (int p = 0; p < 100; p++) {
            change(pool, p, 500 + p);
        }
        pool.frame(150); // a clean frame: it may go
        pool.evictToCapacity(wal);
        assertEquals(100, pool.size(), "only the clean frame left");
        assertEquals(0, pool.stats().evictionWrites());
        assertEquals(1, wal.overCapacityCalls);
        assertEquals(PAGES - 1, PageFormat.lsn(file.read(PAGES - 1)), "nothing written");
        assertEquals(0, PageFormat.lsn(file.read(0)));
    }

    @Test
    void pinnedFramesStayAndAFrameIsCleanOnlyOnceWritten() {
        BufferPool pool = new BufferPool(file, 64);
        Recorder wal = new Recorder();
        BufferPool.Frame held = change(pool, 7, 77);
        pool.pin(held);
        for (int p = 10; p < 150; p++) {
            change(pool, p, 100 + p);
        }
        pool.evictToCapacity(wal);
        assertTrue(pool.frame(7) == held, "a pinned frame was evicted");
        assertTrue(held.dirty, "not written: still dirty");
        pool.unpin(held);
        assertThrows(IllegalStateException.class, () -> pool.unpin(held));

        int[] dirty = pool.dirtyPages();
        assertTrue(dirty.length > 0);
        for (int i = 1; i < dirty.length; i++) {
            assertTrue(dirty[i - 1] < dirty[i], "ascending");
        }
        int n = pool.writeDirty(dirty, 0, dirty.length, wal);
        assertEquals(dirty.length, n);
        assertEquals(0, pool.stats().dirtyPages());
        assertFalse(held.dirty);
        assertArrayEquals(held.data, file.read(7), "clean means these bytes are on disk");
        assertEquals(n, pool.stats().checkpointWrites());
    }

    @Test
    void readersKeepThePoolAtItsCapacityAndEvictionNeedsTheStoreLock() {
        BufferPool pool = new BufferPool(file, 64);
        ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
        pool.requireLock(lock);
        Recorder wal = new Recorder();
        lock.readLock().lock();
        try {
            for (int p = 0; p < PAGES; p++) {
                assertEquals(p, PageFormat.lsn(pool.read(p, wal)));
                assertTrue(pool.size() <= 64);
            }
        } finally {
            lock.readLock().unlock();
        }
        BufferPool.Stats s = pool.stats();
        assertEquals(PAGES, s.misses());
        assertEquals(PAGES - 64, s.evictions());
        pool.frame(0);
        assertEquals(1, pool.stats().misses() - s.misses(), "page 0 was evicted, so a miss");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> pool.evictToCapacity(wal));
        assertTrue(e.getMessage().contains("without the store's lock"), e.getMessage());
    }
}
