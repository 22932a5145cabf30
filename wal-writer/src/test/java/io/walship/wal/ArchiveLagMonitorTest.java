package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The lag monitor's samples stay bounded while nothing archives, and the lag it reports never errs low. */
class ArchiveLagMonitorTest {

    @TempDir
    Path dir;

    @Test
    void samplesStayBoundedWithoutAnArchiveAndLagErrsOnlyHigh() {
        ArchiveLagMonitor m = new ArchiveLagMonitor(new WalMarks(dir), StoreOptions.defaults());
        long lsn = 0;
        // 64 GiB of WAL in 64 KiB entries with no archive mark: without thinning, 65,536 samples
        for (int i = 0; i < 1 << 20; i++) {
            m.countWalBytes(++lsn, 64 << 10);
            assertTrue(m.samples() <= ArchiveLagMonitor.MAX_SAMPLES + 1, "samples " + m.samples());
        }
        assertTrue(m.samples() > ArchiveLagMonitor.MAX_SAMPLES / 4, "thinning keeps a useful resolution");
        new WalMarks(dir).setArchived(lsn / 2);
        m.update(lsn);
        long exact = (lsn - lsn / 2) * (64L << 10);
        assertTrue(m.lagBytes() >= exact, "never below the true lag: " + m.lagBytes() + " < " + exact);
        assertTrue(m.lagBytes() <= exact + exact / 100, "within 1% of the true lag: " + m.lagBytes());
        assertEquals(lsn - lsn / 2, m.lagLsns());
    }
}
