package io.walship.shipper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

import io.walship.archive.LocalObjectStore;
import io.walship.archive.ObjectStore;
import io.walship.wal.Store;
import io.walship.wal.WalReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A long-lived shipper (a leader's or the scheduler's ship loop) must not leave something behind
 * per run. It used to start fresh compress and upload threads for every run; each thread that died
 * after touching Chronicle left an entry in Chronicle's thread-local registry, which every later
 * queue open walks, so each run made every later one slower and the heap larger, without bound.
 */
class ShipThreadsTest {
    private static final int RUNS = 300;

    @TempDir
    Path tmp;

    @Test
    void runsThatUploadLeaveNothingBehindForLaterQueueOpens() {
        Path data = tmp.resolve("data");
        try (Store store = Store.open(data); ObjectStore archive = new LocalObjectStore(tmp.resolve("archive"));
             WalShipper shipper = new WalShipper(data, archive, WalShipper.Options.defaults())) {
            for (int i = 0; i < 20; i++) { // warm up
                commitAndShip(store, shipper, i);
            }
            long before = leastOpenCost(data);
            for (int i = 20; i < 20 + RUNS; i++) {
                commitAndShip(store, shipper, i);
            }
            long after = leastOpenCost(data);
            System.out.println("opening the WAL allocated " + before + " bytes before " + RUNS + " uploading runs, "
                    + after + " after");
            // it grew by about 0.9 KiB per run (over 250 KiB here) when each run had threads of its own
            assertTrue(after - before < (96 << 10), "opening the WAL allocated " + before + " bytes before "
                    + RUNS + " uploading runs and " + after + " after: the runs left something behind");
        }
    }

    @Test
    void theShippersThreadsEndWithIt() throws Exception {
        Path data = tmp.resolve("data");
        try (Store store = Store.open(data); ObjectStore archive = new LocalObjectStore(tmp.resolve("archive"))) {
            try (WalShipper shipper = new WalShipper(data, archive, WalShipper.Options.defaults())) {
                for (int i = 0; i < 5; i++) {
                    commitAndShip(store, shipper, i);
                }
                assertTrue(shipThreads() >= 1, "the upload thread lives between runs");
            }
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (shipThreads() > 0 && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            assertEquals(0, shipThreads(), "the shipper's threads end when it is closed");
        }
    }

    private static void commitAndShip(Store store, WalShipper shipper, int i) {
        store.put(("k" + i).getBytes(StandardCharsets.UTF_8), new byte[10]);
        assertEquals(1, shipper.shipOnce(() -> null).segments());
    }

    /** Bytes the caller's thread allocates to open the WAL, the least of three, after a full GC. */
    private static long leastOpenCost(Path data) {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long tid = Thread.currentThread().getId();
        System.gc(); // entries of collected queues are dropped at a GC; those of dead threads are not
        long least = Long.MAX_VALUE;
        for (int i = 0; i < 3; i++) {
            long b = mx.getThreadAllocatedBytes(tid);
            try (WalReader r = WalReader.open(data)) {
                r.firstAvailableLsn();
            }
            least = Math.min(least, mx.getThreadAllocatedBytes(tid) - b);
        }
        return least;
    }

    private static long shipThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && t.getName().startsWith("walship-ship-")).count();
    }
}
