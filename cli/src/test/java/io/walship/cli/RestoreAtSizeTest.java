package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.walship.wal.ChildJvm;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A restore in bounded memory, in its own process: a store about 50 MB on disk (48,000 rows of
 * 1,000 random base64 bytes, a base backup, then 20,000 single-row updates of random rows, the WAL
 * in 16 MiB segments) is restored by {@code walship restore} with {@code -Xmx96m} and a 4 MiB page
 * pool, ten times smaller than the store, and holds exactly the source's content. Before the
 * restore wrote pages back as the pool evicted them and kept segments undecoded and bounded in
 * bytes, the same restore needed the whole store and several decoded segments in the heap.
 */
class RestoreAtSizeTest {
    @TempDir
    Path tmp;

    @Test
    void restoresAStoreTenTimesItsPoolWithASmallHeap() throws Exception {
        long seed = 13;
        System.out.println("RestoreAtSizeTest seed " + seed);
        StringWriter built = new StringWriter();
        RestoreMemoryBench.DataSet d = RestoreMemoryBench.build(tmp,
                RestoreMemoryBench.generated(48_000, 1000, 20_000, seed), new PrintWriter(built));
        assertTrue(d.pageFileBytes() > 10L * (4 << 20), "the store (" + d.pageFileBytes() + " bytes) is ten pools or more");

        Path target = tmp.resolve("restored");
        Path log = tmp.resolve("restore.log");
        Process p = ChildJvm.start(Main.class, List.of("-Xmx96m"), List.of("restore", "--archive", d.archiveUri(),
                "--target", target.toString(), "--cache-size", "4MiB"), log);
        assertTrue(p.waitFor(600, TimeUnit.SECONDS), "restore did not finish in 600 s");
        String err = Files.readString(log);
        assertFalse(err.contains("OutOfMemoryError"), err);
        assertEquals(0, p.exitValue(), err);

        StateDigest got;
        try (Store s = Store.open(target)) {
            got = s.digest();
        }
        assertEquals(d.digest().lsn(), got.lsn(), "restored to the source's last LSN");
        assertEquals(d.digest().sha256(), got.sha256(), "restored content equals the source's");
        assertEquals(48_000L, got.pairs());
    }
}
