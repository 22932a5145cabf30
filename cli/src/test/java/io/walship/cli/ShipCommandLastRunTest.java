package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ArchiveListing;
import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.Segment;
import io.walship.shipper.ArchiveSpliceException;
import io.walship.shipper.ShipLoop;
import io.walship.shipper.WalShipper;
import io.walship.wal.Store;
import io.walship.wal.WalEntry;
import io.walship.wal.WalReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code walship ship --interval}: SIGTERM ends the wait and closing the loop ships a last time.
 * When that last run meets another history in the archive (here another store's segment after
 * this store's), the command must end with the splice refusal (exit 3), not exit 0 as if all went
 * well.
 */
class ShipCommandLastRunTest {
    @TempDir
    Path tmp;

    private static void write(Store s, String prefix, int n) {
        for (int i = 0; i < n; i++) {
            s.put((prefix + i).getBytes(StandardCharsets.UTF_8), "v".getBytes(StandardCharsets.UTF_8));
        }
    }

    @Test
    void aSpliceMetByTheLastRunOnShutdownIsExit3() throws Exception {
        Path a = tmp.resolve("a");
        Path c = tmp.resolve("c");
        try (Store s = Store.open(a)) {
            write(s, "a", 10);
        }
        try (Store s = Store.open(c)) {
            write(s, "c", 20);
        }
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            Shutdown shutdown = Shutdown.manual();
            ShipLoop loop = new ShipLoop(a, archive, WalShipper.Options.defaults(), Duration.ofHours(1), ShipLoop.Listener.NONE);
            Thread t = new Thread(() -> {
                try {
                    ShipCommand.runUntilShutdown(loop, shutdown);
                } catch (ArchiveSpliceException e) {
                    throw e;
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            java.util.concurrent.atomic.AtomicReference<Throwable> ended = new java.util.concurrent.atomic.AtomicReference<>();
            t.setUncaughtExceptionHandler((th, e) -> ended.set(e));
            t.start();
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (ArchiveListing.of(archive).lastArchivedLsn(1) < 10) { // the first run, at start, ships a
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("the first run never shipped");
                }
                java.util.concurrent.locks.LockSupport.parkNanos(10_000_000L);
            }
            // another store's entries 11..15 land in the archive after this store's 1..10
            long idc;
            try (Store s = Store.open(c)) {
                idc = s.systemId();
            }
            Segment.Builder b = new Segment.Builder(idc, 1, Codec.ZSTD);
            try (WalReader r = WalReader.open(c)) {
                r.seek(11);
                WalEntry e;
                while ((e = r.next()) != null && e.lsn() <= 15) {
                    b.add(e.lsn(), e.commitTimeMicros(), r.lastEntryBytes());
                }
            }
            archive.create(new ArchiveLayout.SegmentName(1, 11, 15).key(), new ByteArrayInputStream(b.build()));
            try (Store s = Store.open(a)) {
                write(s, "a-more", 10);
            }

            shutdown.request(); // SIGTERM
            t.join(60_000);
            assertTrue(!t.isAlive(), "the command ended");
            assertTrue(loop.stopped(), "the last run met the splice: " + loop.status().lastError());
            assertTrue(ended.get() instanceof ArchiveSpliceException, "ended with " + ended.get());
            assertEquals(15, ArchiveListing.of(archive).lastArchivedLsn(1), "nothing shipped onto the other history");
        }
    }
}
