package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.BackupManifest;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.wal.ChildJvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A base backup of a stopped store in bounded memory, in its own process: a store about 50 MB on
 * disk (48,000 rows of 1,000 random base64 bytes, then 20,000 single-row updates) is backed up by
 * {@code walship backup --data} with {@code -Xmx40m}, a heap smaller than the store, and the
 * manifest names the source's last LSN and content digest. Before, the backup opened the store with
 * the default 256 MiB page cache and, reading every page twice, filled it: out of memory.
 */
class BackupAtSizeTest {
    @TempDir
    Path tmp;

    @Test
    void backsUpAStoreLargerThanItsHeap() throws Exception {
        long seed = 17;
        System.out.println("BackupAtSizeTest seed " + seed);
        RestoreMemoryBench.DataSet d = RestoreMemoryBench.build(tmp,
                RestoreMemoryBench.generated(48_000, 1000, 20_000, seed), new PrintWriter(new StringWriter()));
        assertTrue(d.pageFileBytes() > (40L << 20), "the store (" + d.pageFileBytes() + " bytes) is larger than the heap");

        String archiveUri = "file://" + tmp.resolve("backups").toAbsolutePath();
        Path log = tmp.resolve("backup.log");
        Process p = ChildJvm.start(Main.class, List.of("-Xmx40m"), List.of("backup", "--data",
                tmp.resolve("source").toString(), "--archive", archiveUri), log);
        assertTrue(p.waitFor(600, TimeUnit.SECONDS), "backup did not finish in 600 s");
        String err = Files.readString(log);
        assertFalse(err.contains("OutOfMemoryError"), err);
        assertEquals(0, p.exitValue(), err);

        ArchiveLayout.BackupName name = new ArchiveLayout.BackupName(1, d.digest().lsn());
        BackupManifest m;
        try (ObjectStore archive = ObjectStores.open(archiveUri); InputStream in = archive.get(name.manifestKey())) {
            m = BackupManifest.read(in, name.manifestKey());
        }
        assertEquals(d.digest().sha256(), m.digestSha256(), "the backup's content digest is the source's");
        assertEquals(d.digest().pairs(), m.digestPairs());
        assertEquals(48_000L, m.digestPairs());
    }
}
