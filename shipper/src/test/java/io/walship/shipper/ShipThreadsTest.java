package io.walship.shipper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

import io.walship.archive.LocalObjectStore;
import io.walship.archive.ObjectStore;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A long-lived shipper (a leader's or the scheduler's ship loop) must not leave something behind
 * per run. It used to start fresh compress and upload threads for every run; each thread that died
 * after touching Chronicle left an entry in Chronicle's thread-local registry, which every later
 * queue open walks, so each run made every later one slower and the heap larger, without bound
 * (measured: opening the WAL allocated about 0.9 KiB more per earlier uploading run). Measuring
 * that allocation here would depend on what other tests left in this JVM, so the test checks the
 * cause: the threads are reused.
 */
class ShipThreadsTest {
    private static final int RUNS = 50;

    @TempDir
    Path tmp;

    @Test
    void runsThatUploadShareOneUploadThread() {
        Path data = tmp.resolve("data");
        java.util.Set<Thread> uploaders = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        try (Store store = Store.open(data); ObjectStore archive = new LocalObjectStore(tmp.resolve("archive"));
             WalShipper shipper = new WalShipper(data, archive, WalShipper.Options.defaults())) {
            for (int i = 0; i < RUNS; i++) {
                store.put(("k" + i).getBytes(StandardCharsets.UTF_8), new byte[10]);
                // the gate is asked on the upload thread, right before each upload
                assertEquals(1, shipper.shipOnce(() -> {
                    uploaders.add(Thread.currentThread());
                    return null;
                }).segments());
            }
        }
        assertEquals(1, uploaders.size(), RUNS + " uploading runs used " + uploaders.size() + " upload threads");
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

    private static long shipThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && t.getName().startsWith("walship-ship-")).count();
    }
}
