package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import io.walship.wal.Durability;
import io.walship.wal.Store;
import io.walship.wal.WalCompression;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The write benchmark measures only its measured commits, however much it warms up first. */
class WriteBenchTest {
    @TempDir
    Path dir;

    @Test
    void warmUpRunsAreNotMeasuredButHappen() {
        WriteBench.Workload w = new WriteBench.Workload(16, 100, 0, false, WalCompression.NONE);
        Path data = dir.resolve("store");
        WriteBench.Result r = WriteBench.store(data, 2, 300, 100, 200, w, Durability.DURABLE);
        assertEquals(300, r.commits(), "only the measured commits are counted");
        assertTrue(r.commitsPerSync() >= 1.0, "durable commits sync: " + r.commitsPerSync());
        try (Store s = Store.open(data)) {
            // async warm-up (100) + warm-up like the run (200) + measured (300): random new keys each
            assertEquals(600, countKeys(s), "every warm-up commit was made");
        }
    }

    private static long countKeys(Store s) {
        long[] n = {0};
        s.scan(new byte[0], null, (k, v) -> {
            n[0]++;
            return true;
        });
        return n[0];
    }
}
