package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.scheduler.JobScheduler;
import io.walship.scheduler.SchedulerConfig;
import io.walship.shipper.ShipLoop;
import io.walship.shipper.WalShipper;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The scheduler's ship job meets an archive that holds another store's history: shipping stops
 * for good (no retry every interval), and the scheduler's status says so with the reason. (In the
 * cli module, whose test classpath keeps S3Proxy's Prometheus exporter away from the scheduler's.)
 */
class ShipStoppedStatusTest {
    @TempDir
    Path tmp;

    @Test
    void aSpliceStopsTheShipJobAndShowsInTheStatus() throws Exception {
        Path a = tmp.resolve("a");
        Path c = tmp.resolve("c");
        String archive = "file://" + tmp.resolve("archive");
        for (Path d : List.of(a, c)) {
            try (Store store = Store.open(d)) {
                for (int i = 0; i < (d == a ? 5 : 9); i++) {
                    store.put(("k" + i).getBytes(StandardCharsets.UTF_8), d.toString().getBytes(StandardCharsets.UTF_8));
                }
            }
        }
        try (ObjectStore s = ObjectStores.open(archive);
             WalShipper shipper = new WalShipper(a, s, WalShipper.Options.defaults())) {
            shipper.shipOnce();
        }
        SchedulerConfig cfg = SchedulerConfig.parse("databases:\n  - name: c\n    data: " + c + "\n    archive: " + archive
                + "\n    jobs:\n      ship: {interval: 50ms}\n", "test");
        try (JobScheduler s = JobScheduler.start(cfg, tmp.resolve("scratch"))) {
            long deadline = System.nanoTime() + 30_000_000_000L;
            Map<?, ?> db;
            do {
                db = (Map<?, ?>) ((List<?>) s.status().get("databases")).get(0);
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("shipping never stopped: " + db);
                }
                java.util.concurrent.locks.LockSupport.parkNanos(20_000_000L);
            } while (!Boolean.TRUE.equals(db.get("shippingStopped")) || shipJob(db).get("lastError") == null);
            // (the loop publishes its stop, then the scheduler's listener records the run: poll for both)
            String error = (String) db.get("shippingLastError");
            assertTrue(error.startsWith(ShipLoop.STOPPED_PREFIX), error);
            // c is another store: the advice is an archive of its own, not a new timeline of c
            assertTrue(error.contains("give this store an archive prefix of its own"), error);
            Map<?, ?> ship = shipJob(db);
            assertNull(ship.get("nextFire"), "no next run is announced: " + ship);
            assertEquals(error, ship.get("lastError"));
        }
    }

    private static Map<?, ?> shipJob(Map<?, ?> db) {
        return ((List<?>) db.get("jobs")).stream().map(j -> (Map<?, ?>) j)
                .filter(j -> "ship".equals(j.get("job"))).findFirst().orElseThrow();
    }
}
