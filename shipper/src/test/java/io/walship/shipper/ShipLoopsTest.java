package io.walship.shipper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;

import io.walship.archive.ArchiveConfigException;
import io.walship.archive.ArchiveUri;
import io.walship.archive.ForwardingObjectStore;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ObjectInfo;
import io.walship.archive.ObjectStore;
import io.walship.archive.StorageException;
import io.walship.wal.Store;
import io.walship.wal.StoreLockedException;
import io.walship.wal.WalMarks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Several archives at once: each archive's lock and retention mark follow its ID, not its place in
 * the list; a failing or hanging archive holds the WAL (if required) but not the others.
 */
class ShipLoopsTest {
    @TempDir
    Path tmp;

    private static void put(Store store, int n) {
        for (int i = 0; i < n; i++) {
            store.put(("k" + store.lastLsn()).getBytes(StandardCharsets.UTF_8), "v".getBytes(StandardCharsets.UTF_8));
        }
    }

    /** An archive that fails every request (down). */
    private static final class Down extends ForwardingObjectStore {
        Down(ObjectStore inner) {
            super(inner);
        }

        @Override
        public List<ObjectInfo> list(String prefix, String startAfter) {
            throw new StorageException("connection refused (test)");
        }

        @Override
        public void create(String key, InputStream content) {
            throw new StorageException("connection refused (test)");
        }
    }

    /** An archive whose requests hang while {@link #hold} is closed. */
    private static final class Hanging extends ForwardingObjectStore {
        volatile CountDownLatch hold = new CountDownLatch(0);
        final CountDownLatch entered = new CountDownLatch(1);

        Hanging(ObjectStore inner) {
            super(inner);
        }

        private void await() {
            if (hold.getCount() > 0) {
                entered.countDown();
            }
            try {
                hold.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        @Override
        public List<ObjectInfo> list(String prefix, String startAfter) {
            await();
            return super.list(prefix, startAfter);
        }

        @Override
        public void create(String key, InputStream content) {
            await();
            super.create(key, content);
        }
    }

    private static void shipAndClose(Path data, List<ShipLoops.Target> targets) {
        ShipLoops.open(data, targets, WalShipper.Options.defaults(), Duration.ofHours(1), t -> ShipLoop.Listener.NONE,
                ShipLoop.Gate.OPEN).close(); // closing ships everything once
    }

    @Test
    void eachArchiveKeepsItsOwnMarkWhateverTheOrder() throws Exception {
        Path data = tmp.resolve("data");
        try (Store store = Store.open(data);
             ObjectStore a = new LocalObjectStore(tmp.resolve("a"));
             ObjectStore b = new LocalObjectStore(tmp.resolve("b"))) {
            String idA = WalShipper.archiveId(a);
            String idB = WalShipper.archiveId(b);
            assertNotEquals(idA, idB);
            WalMarks marks = new WalMarks(data);
            put(store, 20);
            shipAndClose(data, List.of(new ShipLoops.Target(a, true)));
            long first = store.lastLsn();
            assertEquals(first, marks.archived(idA).getAsLong());

            // B added FIRST, and down: it gets a mark of its own at 0, A keeps its own and moves on
            put(store, 10);
            shipAndClose(data, List.of(new ShipLoops.Target(new Down(b), true), new ShipLoops.Target(a, true)));
            assertEquals(store.lastLsn(), marks.archived(idA).getAsLong(), "A shipped although B is down");
            assertEquals(0, marks.archived(idB).getAsLong(), "B holds nothing: its mark keeps all the WAL");
            assertEquals(0, marks.archived().getAsLong(), "retention waits for B");
            assertEquals(Set.of(idA, idB), marks.archivedMarks().keySet());
            assertEquals(java.util.Map.of(idB, 0L), ShipLoops.settleMarks(data, Set.of(idA)),
                    "B's mark, not shipped by a process of A alone, is reported (it holds the WAL)");

            // the order back again, B up: each mark moves to its own archive's end
            put(store, 5);
            shipAndClose(data, List.of(new ShipLoops.Target(a, true), new ShipLoops.Target(b, true)));
            assertEquals(store.lastLsn(), marks.archived(idA).getAsLong());
            assertEquals(store.lastLsn(), marks.archived(idB).getAsLong());
            assertEquals(io.walship.archive.ArchiveListing.of(b).lastArchivedLsn(1), store.lastLsn());
        }
    }

    @Test
    void anOptionalArchiveHasNoMarkAndALegacyMarkGivesWayToPerArchiveMarks() throws Exception {
        Path data = tmp.resolve("data");
        try (Store store = Store.open(data);
             ObjectStore a = new LocalObjectStore(tmp.resolve("a"));
             ObjectStore b = new LocalObjectStore(tmp.resolve("b"))) {
            put(store, 10);
            WalMarks marks = new WalMarks(data);
            marks.setArchived(3); // an older version's single mark
            shipAndClose(data, List.of(new ShipLoops.Target(a, true), new ShipLoops.Target(new Down(b), false)));
            assertTrue(marks.legacyArchived().isEmpty(), "replaced by the per-archive marks");
            assertEquals(Set.of(WalShipper.archiveId(a)), marks.archivedMarks().keySet(),
                    "the optional archive leaves no mark: retention does not wait for it");
            assertEquals(store.lastLsn(), marks.archived().getAsLong());

            // only optional archives: the legacy mark stays (nothing replaces it)
            marks.setArchived(4);
            try (WalShipper s = new WalShipper(data, b, WalShipper.Options.defaults(), false)) {
                s.shipOnce();
            }
            ShipLoops.settleMarks(data, Set.of());
            assertEquals(4, marks.legacyArchived().getAsLong());
        }
    }

    @Test
    void aSecondShipperOfTheSameArchiveIsRefusedAnotherArchiveIsNot() throws Exception {
        Path data = tmp.resolve("data");
        try (Store store = Store.open(data);
             ObjectStore a = new LocalObjectStore(tmp.resolve("a"));
             ObjectStore b = new LocalObjectStore(tmp.resolve("b"))) {
            put(store, 5);
            try (ShipLoops loops = ShipLoops.open(data, List.of(new ShipLoops.Target(a, true)),
                    WalShipper.Options.defaults(), Duration.ofHours(1), t -> ShipLoop.Listener.NONE, ShipLoop.Gate.OPEN)) {
                // the same archive through another URI spelling: the same ID, so the same lock
                ObjectStore a2 = new LocalObjectStore(tmp.resolve("a").resolve("."));
                StoreLockedException e = assertThrows(StoreLockedException.class,
                        () -> new WalShipper(data, a2, WalShipper.Options.defaults()));
                assertTrue(e.getMessage().contains("another shipper is running") && e.getMessage().contains("by process "
                        + ProcessHandle.current().pid()), e.getMessage());
                try (WalShipper other = new WalShipper(data, b, WalShipper.Options.defaults())) {
                    assertEquals(store.lastLsn(), other.shipOnce().archivedUpTo(), "another archive ships beside it");
                }
                assertFalse(loops.loops().isEmpty());
            }
        }
    }

    @Test
    void theSameArchiveTwiceIsRefused() {
        assertThrows(ArchiveConfigException.class, () -> ShipLoops.checkDistinct(List.of("file:///x/a/", "file:///x/a")));
        assertThrows(ArchiveConfigException.class, () -> ShipLoops.checkDistinct(List.of(
                "s3://bkt/p?endpoint=HTTP://Minio.Local:80/", "s3://bkt/p/?endpoint=http://minio.local&region=eu-west-1")));
        ShipLoops.checkDistinct(List.of("s3://bkt/p?endpoint=http://minio.local", "s3://bkt/q?endpoint=http://minio.local",
                "file:///x/a"));
        assertEquals(ArchiveUri.parse("file:///x/a/").id(), ArchiveUri.parse("file:///x//a").id());
        assertEquals(16, ArchiveUri.parse("file:///x/a").id().length());
    }

    @Test
    void aHangingArchiveShowsGrowingOrUnknownLagNeverZeroAndDelaysNoOther() throws Exception {
        Path data = tmp.resolve("data");
        try (Store store = Store.open(data);
             ObjectStore rawA = new LocalObjectStore(tmp.resolve("a"));
             ObjectStore rawB = new LocalObjectStore(tmp.resolve("b"))) {
            Hanging a = new Hanging(rawA);
            Hanging b = new Hanging(rawB);
            b.hold = new CountDownLatch(1); // B hangs from its very first run
            put(store, 5);
            ShipLoops loops = ShipLoops.open(data, List.of(new ShipLoops.Target(a, true), new ShipLoops.Target(b, false)),
                    WalShipper.Options.defaults(), Duration.ofMillis(50), t -> ShipLoop.Listener.NONE, ShipLoop.Gate.OPEN);
            try {
                loops.start();
                ShipLoop la = loops.loops().get(0);
                ShipLoop lb = loops.loops().get(1);
                long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                while (la.status().archivedUpTo() != store.lastLsn()) {
                    assertTrue(System.nanoTime() < deadline, "A never shipped: " + la.status());
                    Thread.onSpinWait();
                }
                assertTrue(b.entered.await(30, java.util.concurrent.TimeUnit.SECONDS));
                lb.refreshLag();
                ShipLoop.Status sb = lb.status();
                assertEquals(-1, sb.archivedUpTo(), "B's first run hangs: nothing known");
                assertEquals(-1, sb.lagLsns(), "unknown, not 0: " + sb);

                // A hangs mid-run now: its lag grows against the local end while the run hangs
                a.hold = new CountDownLatch(1);
                long before = store.lastLsn();
                put(store, 7);
                assertTrue(a.entered.await(30, java.util.concurrent.TimeUnit.SECONDS));
                la.refreshLag();
                assertEquals(7, la.status().lagLsns(), la.status().toString());
                assertEquals(before, la.status().archivedUpTo());
                assertTrue(la.status().lagSeconds() >= 0);
                a.hold.countDown();
                while (la.status().archivedUpTo() != store.lastLsn()) {
                    assertTrue(System.nanoTime() < deadline, "A never caught up: " + la.status());
                    Thread.onSpinWait();
                }
            } finally {
                b.hold.countDown();
                loops.close();
            }
        }
    }

    @Test
    void aRunHangingLongerThanItsBoundCountsAsFailing() throws Exception {
        Path data = tmp.resolve("data");
        try (Store store = Store.open(data); ObjectStore raw = new LocalObjectStore(tmp.resolve("a"))) {
            Hanging a = new Hanging(raw);
            a.hold = new CountDownLatch(1);
            put(store, 3);
            ShipLoop loop = new ShipLoop(data, a, true, WalShipper.Options.defaults(), Duration.ofMillis(10),
                    ShipLoop.Listener.NONE, ShipLoop.Gate.OPEN);
            try {
                loop.start();
                assertTrue(a.entered.await(30, java.util.concurrent.TimeUnit.SECONDS));
                assertFalse(loop.status().failing(), "not yet past its bound");
                long deadline = System.nanoTime() + loop.stuckAfter().plusSeconds(20).toNanos();
                while (!loop.status().failing()) {
                    assertTrue(System.nanoTime() < deadline, "a hanging first run never counted as failing");
                    Thread.sleep(100); // polling with a deadline, not timing
                }
            } finally {
                a.hold.countDown();
                loop.close();
            }
        }
    }
}
