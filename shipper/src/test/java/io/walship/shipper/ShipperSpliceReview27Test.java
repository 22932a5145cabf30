package io.walship.shipper;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;

import io.walship.archive.ArchiveListing;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.wal.Store;
import io.walship.wal.StoreOptions;
import io.walship.wal.TestStores;
import net.openhft.chronicle.core.time.SetTimeProvider;
import net.openhft.chronicle.queue.rollcycles.TestRollCycles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of branch cyclerace: WalLog.toStart now takes an oldest cycle file Chronicle cannot open
 * for one retention deleted, so checkSameHistory finds the archive's last entry "no longer in the
 * local WAL", checks the system id only, and the run ships another history onto the archive's.
 */
class ShipperSpliceReview27Test {
    @TempDir
    Path tmp;

    private final SetTimeProvider clock = new SetTimeProvider(Instant.parse("2026-12-05T08:50:00Z"));
    private final StoreOptions opts = StoreOptions.defaults().withRollCycle(TestRollCycles.TEST_SECONDLY);

    private static void write(Store store, String prefix, int n) {
        for (int i = 0; i < n; i++) {
            store.put((prefix + i).getBytes(StandardCharsets.UTF_8), (prefix + "-value-" + i).getBytes(StandardCharsets.UTF_8));
        }
    }

    private static void copyTree(Path from, Path to) {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else if (!p.getFileName().toString().endsWith(".lock")) {
                    Files.copy(p, t);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static List<Path> cycleFiles(Path data) throws IOException {
        try (Stream<Path> s = Files.list(data.resolve("wal"))) {
            return s.filter(p -> p.toString().endsWith(".cq4")).sorted().toList();
        }
    }

    @Test
    void aRewrittenHistoryWhoseOldestWalFileIsUnreadableIsNotShippedOntoTheArchivedOne() throws Exception {
        Path a = tmp.resolve("a");
        Path b = tmp.resolve("b");
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            long k;
            try (Store store = TestStores.open(a, opts, clock)) {
                write(store, "a", 20);
                k = store.lastLsn();
            }
            copyTree(a, b);
            long n;
            try (Store store = TestStores.open(a, opts, clock)) {
                write(store, "a-more", 30);
                n = store.lastLsn();
            }
            try (WalShipper shipper = new WalShipper(a, archive, WalShipper.Options.defaults())) {
                assertEquals(n, shipper.shipOnce().archivedUpTo());
            }
            // B: A's store as it was at K, rewritten with other content up to N in the same WAL file,
            // then on in the next one (N+1 starts it)
            try (Store store = TestStores.open(b, opts, clock)) {
                assertEquals(k, store.lastLsn());
                write(store, "b", (int) (n - k));
                assertEquals(n, store.lastLsn());
                clock.advanceMillis(1_100);
                write(store, "b-next", 10);
            }
            List<Path> files = cycleFiles(b);
            assertEquals(2, files.size(), "two WAL files: " + files);
            // the oldest WAL file, holding LSN N of history B, is there but damaged (its header word)
            try (FileChannel ch = FileChannel.open(files.get(0), StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap(new byte[4]), 0);
            }
            long archivedBefore = ArchiveListing.of(archive).lastArchivedLsn(1);
            WalShipper.Result r = null;
            try (WalShipper shipper = new WalShipper(b, archive, WalShipper.Options.defaults())) {
                r = shipper.shipOnce();
            } catch (RuntimeException refused) {
                System.out.println("refused: " + refused);
            }
            // first the splice (cyclerace: B's LSNs N+1.. go onto A's archive), then the silence (main:
            // the run "succeeds" shipping nothing, the WAL looking empty): it should be refused
            assertEquals(archivedBefore, ArchiveListing.of(archive).lastArchivedLsn(1),
                    "history B's entries were shipped onto history A's archive (a splice): " + r);
            assertEquals(null, r, "a WAL file that is there and cannot be read passed for a run that succeeded");
        }
    }
}
