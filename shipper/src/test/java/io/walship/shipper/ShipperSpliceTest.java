package io.walship.shipper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;

import io.walship.archive.ArchiveListing;
import io.walship.archive.LostAnswerStore;
import io.walship.archive.ObjectInfo;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.wal.Lsn;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import io.walship.wal.StoreOptions;
import io.walship.wal.TestStores;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import net.openhft.chronicle.core.time.SetTimeProvider;
import net.openhft.chronicle.queue.rollcycles.TestRollCycles;

/**
 * Defect 5 of issue 9, the archive half: the shipper never splices two histories into one
 * timeline. The archive holds LSNs 1..N of history A; a copy of the same store taken at K &lt; N
 * (a WAL rebuilt to K after a power loss) is rewritten with other content. Shipping it must be
 * refused, naming both histories, and a ship loop must stop for good.
 */
class ShipperSpliceTest {
    @TempDir
    Path tmp;

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

    private static List<String> keys(ObjectStore archive) {
        return archive.list("", null).stream().map(ObjectInfo::key).toList();
    }

    /** History A in {@code a} shipped up to N; {@code b} is A's store as it was at K, then rewritten. */
    private long historyAShippedAndBRewritten(Path a, Path b, ObjectStore archive, int bWrites) {
        long k;
        try (Store store = Store.open(a)) {
            write(store, "a", 20);
            k = store.lastLsn();
        }
        copyTree(a, b);
        long n;
        try (Store store = Store.open(a)) {
            write(store, "a-more", 30);
            n = store.lastLsn();
        }
        try (WalShipper shipper = new WalShipper(a, archive, WalShipper.Options.defaults())) {
            assertEquals(n, shipper.shipOnce().archivedUpTo());
        }
        try (Store store = Store.open(b)) {
            assertEquals(k, store.lastLsn());
            write(store, "b", bWrites);
        }
        return n;
    }

    @Test
    void aRewrittenHistoryIsNotShippedOntoTheArchivedOne() {
        Path a = tmp.resolve("a");
        Path b = tmp.resolve("b");
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            long n = historyAShippedAndBRewritten(a, b, archive, 60); // B goes past N with other content
            List<String> before = keys(archive);
            long systemId;
            try (Store store = Store.open(b)) {
                systemId = store.systemId();
                assertTrue(store.lastLsn() > n);
            }
            try (WalShipper shipper = new WalShipper(b, archive, WalShipper.Options.defaults())) {
                ArchiveSpliceException e = assertThrows(ArchiveSpliceException.class, shipper::shipOnce);
                String m = e.getMessage();
                assertFalse(m.contains("\n"), "one line: " + m);
                assertTrue(m.contains("archive: system id " + String.format("%016x", systemId) + ", timeline 1, LSN "
                        + Lsn.format(n) + ", entry CRC32C "), m);
                assertTrue(m.contains("this store: system id " + String.format("%016x", systemId) + ", timeline 1, entry at LSN "
                        + Lsn.format(n) + " on timeline 1 has CRC32C "), m);
                assertTrue(m.contains("take a new base backup on a new timeline"), m);
            }
            assertEquals(before, keys(archive), "the archive is unchanged");
            assertEquals(n, ArchiveListing.of(archive).lastArchivedLsn(1));

            // history A itself goes on shipping after a restart of its shipper
            try (Store store = Store.open(a)) {
                write(store, "a-after", 5);
            }
            try (WalShipper shipper = new WalShipper(a, archive, WalShipper.Options.defaults())) {
                assertEquals(n + 5, shipper.shipOnce().archivedUpTo());
            }
        }
    }

    @Test
    void aWalRewoundBelowTheArchiveIsRefusedBeforeItCatchesUp() {
        Path a = tmp.resolve("a");
        Path b = tmp.resolve("b");
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            long n = historyAShippedAndBRewritten(a, b, archive, 3); // B is at K + 3 < N
            try (WalShipper shipper = new WalShipper(b, archive, WalShipper.Options.defaults())) {
                ArchiveSpliceException e = assertThrows(ArchiveSpliceException.class, shipper::shipOnce);
                assertTrue(e.getMessage().contains("LSN " + Lsn.format(n)), e.getMessage());
                assertTrue(e.getMessage().contains("WAL durable only up to LSN "), e.getMessage());
            }
        }
    }

    @Test
    void anotherStoresArchiveIsRefusedBySystemId() {
        Path a = tmp.resolve("a");
        Path c = tmp.resolve("c");
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            long ida;
            long idc;
            try (Store store = Store.open(a)) {
                write(store, "a", 10);
                ida = store.systemId();
            }
            try (WalShipper shipper = new WalShipper(a, archive, WalShipper.Options.defaults())) {
                shipper.shipOnce();
            }
            try (Store store = Store.open(c)) {
                write(store, "c", 40);
                idc = store.systemId();
            }
            assertNotEquals(ida, idc);
            try (WalShipper shipper = new WalShipper(c, archive, WalShipper.Options.defaults())) {
                ArchiveSpliceException e = assertThrows(ArchiveSpliceException.class, shipper::shipOnce);
                assertTrue(e.getMessage().contains("system id " + String.format("%016x", ida)), e.getMessage());
                assertTrue(e.getMessage().contains("system id " + String.format("%016x", idc)), e.getMessage());
            }
        }
    }

    /** In a ship loop (leader --archive, the scheduler) the splice is fatal: it stops, says so, and ships no more. */
    @Test
    void aShipLoopStopsForGoodOnASplice() {
        Path a = tmp.resolve("a");
        Path b = tmp.resolve("b");
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            historyAShippedAndBRewritten(a, b, archive, 60);
            List<String> before = keys(archive);
            List<ShipLoop.Tick> ticks = new java.util.concurrent.CopyOnWriteArrayList<>();
            ShipLoop.Listener l = new ShipLoop.Listener() {
                @Override
                public void finished(ShipLoop.Tick t) {
                    ticks.add(t);
                }
            };
            try (ShipLoop loop = new ShipLoop(b, archive, WalShipper.Options.defaults(), Duration.ofHours(1), l)) {
                loop.tick();
                assertTrue(loop.stopped());
                ShipLoop.Status s = loop.status();
                assertTrue(s.stopped());
                assertTrue(s.lastError().startsWith(ShipLoop.STOPPED_PREFIX), s.lastError());
                assertTrue(s.lastError().contains("take a new base backup on a new timeline"), s.lastError());
                loop.tick();
                assertEquals(1, ticks.size(), "no tick runs after the fatal one");
            }
            assertEquals(1, ticks.size(), "closing does not ship again either");
            assertEquals(before, keys(archive));
        }
    }

    /**
     * After a power loss the durable-point file may lag behind what was durable (the kernel had
     * not written its mapped page back), while the WAL holds everything that was synced and
     * archived. A shipper process that starts before the leader's recovery sees a durable LSN
     * below the archive's end: that is no splice, and must not stop shipping for good.
     */
    @Test
    void aDurablePointLaggingAfterAPowerLossIsNoSplice() throws IOException {
        Path live = tmp.resolve("live");
        Path a = tmp.resolve("a");
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            long k;
            long n;
            try (Store store = Store.open(live)) {
                write(store, "a", 20);
                k = store.lastLsn();
                write(store, "a-more", 30);
                n = store.lastLsn();
                try (WalShipper shipper = new WalShipper(live, archive, WalShipper.Options.defaults())) {
                    assertEquals(n, shipper.shipOnce().archivedUpTo());
                }
                copyTree(live, a); // the disk as a power loss leaves it: the store never closed
            }
            long checkpoint = io.walship.wal.ControlFile.read(a).checkpointLsn();
            assertTrue(checkpoint < n, "no checkpoint at the end: " + checkpoint);
            k = Math.max(k, checkpoint);
            // the file as the disk held it after the power loss: LSN k published in an earlier boot, not clean
            Path point = a.resolve("durable-point");
            java.nio.ByteBuffer old = java.nio.ByteBuffer.wrap(Files.readAllBytes(point));
            java.nio.ByteBuffer f = java.nio.ByteBuffer.allocate(64);
            f.putInt(old.getInt(0)).putShort(old.getShort(4)).putShort((short) 0);
            f.putLong(old.getLong(8)).putLong(old.getLong(16)).putLong(k);
            byte[] otherBoot = new byte[16];
            java.util.Arrays.fill(otherBoot, (byte) 0x11);
            f.put(otherBoot);
            java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
            crc.update(f.array(), 0, 48);
            f.putInt((int) crc.getValue());
            Files.write(point, f.array());

            List<ShipLoop.Tick> ticks = new java.util.concurrent.CopyOnWriteArrayList<>();
            ShipLoop.Listener l = new ShipLoop.Listener() {
                @Override
                public void finished(ShipLoop.Tick t) {
                    ticks.add(t);
                }
            };
            try (ShipLoop loop = new ShipLoop(a, archive, WalShipper.Options.defaults(), Duration.ofHours(1), l)) {
                loop.tick();
                assertFalse(loop.stopped(), "a lagging durable point stopped shipping for good: " + loop.status().lastError());
                assertFalse(ticks.get(0).error() != null && ticks.get(0).error().contains("another history"),
                        ticks.get(0).error());

                // the leader starts: recovery makes the WAL durable again, and shipping goes on
                try (Store store = Store.open(a)) {
                    assertEquals(n, store.lastLsn());
                    write(store, "a-after", 5);
                }
                loop.tick();
                assertFalse(loop.stopped(), loop.status().lastError());
                assertEquals(n + 5, loop.status().archivedUpTo(), String.valueOf(loop.status().lastError()));
            }
        }
    }

    /**
     * A shipper that lives on (the scheduler's ship job) while its data directory is put back to
     * an older copy and written on: the archive's end did not move, so the check it passed before
     * proves nothing about the WAL it now reads. It must still refuse to ship the other history.
     */
    @Test
    void aLongLivedShipperNoticesItsDataDirectoryRewoundUnderIt() throws IOException {
        Path a = tmp.resolve("a");
        Path older = tmp.resolve("a-older");
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            long k;
            try (Store store = Store.open(a)) {
                write(store, "a", 20);
                k = store.lastLsn();
            }
            copyTree(a, older);
            long n;
            try (Store store = Store.open(a)) {
                write(store, "a-more", 30);
                n = store.lastLsn();
            }
            try (WalShipper shipper = new WalShipper(a, archive, WalShipper.Options.defaults())) {
                assertEquals(n, shipper.shipOnce().archivedUpTo());
                List<String> before = keys(archive);

                // the operator puts the data directory back to the older copy; the leader writes on
                Files.move(a, tmp.resolve("a-moved"));
                Files.move(older, a);
                try (Store store = Store.open(a)) {
                    assertEquals(k, store.lastLsn());
                    write(store, "b", 60);
                }
                assertThrows(ArchiveSpliceException.class, shipper::shipOnce);
                assertEquals(before, keys(archive), "the archive is unchanged");
            }
        }
    }

    /** A segment upload whose answer was lost (the retry met its own object) is not a conflict. */
    @Test
    void aLostUploadAnswerIsOurOwnSegment() {
        Path a = tmp.resolve("a");
        try (ObjectStore inner = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            LostAnswerStore archive = new LostAnswerStore(inner, k -> k.startsWith("wal/"));
            try (Store store = Store.open(a)) {
                write(store, "a", 50);
            }
            try (WalShipper shipper = new WalShipper(a, archive, new WalShipper.Options(io.walship.archive.Codec.ZSTD, 4096))) {
                WalShipper.Result r = shipper.shipOnce();
                assertTrue(r.segments() > 1, r.toString());
                assertEquals(r.segments(), archive.lost().size(), "every upload lost its answer");
            }
            assertEquals(List.of(), ArchiveListing.of(inner).gaps(1));
        }
    }

    private final SetTimeProvider clock = new SetTimeProvider(Instant.parse("2026-12-05T08:50:00Z"));

    private final StoreOptions opts = StoreOptions.defaults().withRollCycle(TestRollCycles.TEST_SECONDLY);

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
