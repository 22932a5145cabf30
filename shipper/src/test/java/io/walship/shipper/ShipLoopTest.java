package io.walship.shipper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

import io.walship.archive.ArchiveListing;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ObjectInfo;
import io.walship.archive.ObjectStore;
import io.walship.archive.StorageException;
import io.walship.wal.Store;
import io.walship.wal.StoreLockedException;
import io.walship.wal.WalshipException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The one ship loop's policy: ship every tick, survive any failure and say why, ship once more on close. */
class ShipLoopTest {
    private static final Duration TICK = Duration.ofMillis(50);

    @TempDir
    Path tmp;

    /** A local archive that fails every call while {@link #down} is set. */
    static final class SwitchableStore implements ObjectStore {
        private final ObjectStore inner;
        volatile RuntimeException down;

        SwitchableStore(ObjectStore inner) {
            this.inner = inner;
        }

        private void check() {
            RuntimeException e = down;
            if (e != null) {
                throw e;
            }
        }

        @Override
        public void create(String key, InputStream content) {
            check();
            inner.create(key, content);
        }

        @Override
        public String createReturningEtag(String key, byte[] content) {
            check();
            return inner.createReturningEtag(key, content);
        }

        @Override
        public String replaceIfMatch(String key, String expectedEtag, byte[] content) {
            check();
            return inner.replaceIfMatch(key, expectedEtag, content);
        }

        @Override
        public Optional<Versioned> getVersioned(String key) {
            check();
            return inner.getVersioned(key);
        }

        @Override
        public InputStream get(String key) {
            check();
            return inner.get(key);
        }

        @Override
        public InputStream getRange(String key, long offset, long length) {
            check();
            return inner.getRange(key, offset, length);
        }

        @Override
        public Optional<ObjectInfo> head(String key) {
            check();
            return inner.head(key);
        }

        @Override
        public List<ObjectInfo> list(String prefix, String startAfter) {
            check();
            return inner.list(prefix, startAfter);
        }

        @Override
        public void delete(String key) {
            check();
            inner.delete(key);
        }

        @Override
        public void verifyAccess() {
            check();
            inner.verifyAccess();
        }

        @Override
        public String describe() {
            return inner.describe();
        }

        @Override
        public void close() {
            inner.close();
        }
    }

    /** {@code n} commits of new keys. */
    private static void put(Store store, int n) {
        for (int i = 0; i < n; i++) {
            store.put(("k" + store.lastLsn()).getBytes(StandardCharsets.UTF_8), "v".getBytes(StandardCharsets.UTF_8));
        }
    }

    private static void await(BooleanSupplier done, String what, Supplier<Object> state) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!done.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, () -> "waited 20 s for " + what + ": " + state.get());
            Thread.sleep(10);
        }
    }

    /** A fenced leader (its gate refuses) uploads nothing, not even on close, and says why. */
    @Test
    void aClosedGateShipsNothingAndSaysWhy() throws Exception {
        Path data = tmp.resolve("data");
        java.util.concurrent.atomic.AtomicReference<String> refusal =
                new java.util.concurrent.atomic.AtomicReference<>("the leader lease is held by node-b");
        try (Store store = Store.open(data); ObjectStore archive = new LocalObjectStore(tmp.resolve("archive"))) {
            put(store, 5);
            ShipLoop loop = new ShipLoop(data, archive, WalShipper.Options.defaults(), TICK, ShipLoop.Listener.NONE,
                    refusal::get);
            loop.tick();
            assertTrue(archive.list("", null).isEmpty(), "nothing uploaded while fenced");
            assertEquals(ShipLoop.PAUSED_PREFIX + "the leader lease is held by node-b", loop.status().lastError());
            refusal.set(null);
            loop.tick();
            assertEquals(store.lastLsn(), loop.status().archivedUpTo());
            assertNull(loop.status().lastError());
            long shipped = store.lastLsn();
            refusal.set("the leader lease could not be renewed");
            put(store, 3);
            loop.close(); // the final ship is fenced too
            assertEquals(shipped, ArchiveListing.of(archive).lastArchivedLsn(1));
        }
    }

    /**
     * The gate is asked before every segment, not only before a run: a run that started while the
     * lease was valid (after an outage it can take many segments) stops uploading once it lapses,
     * instead of shipping on to the old timeline after a new leader may have taken over.
     */
    @Test
    void aGateThatClosesDuringARunStopsItBeforeTheNextSegment() throws Exception {
        Path data = tmp.resolve("data");
        try (Store store = Store.open(data); ObjectStore archive = new LocalObjectStore(tmp.resolve("archive"))) {
            for (int i = 0; i < 400; i++) {
                store.put(("k" + i).getBytes(StandardCharsets.UTF_8), new byte[100]);
            }
            // valid until the first segment is in the archive (the lease lapses during the run)
            ShipLoop loop = new ShipLoop(data, archive, new WalShipper.Options(io.walship.archive.Codec.NONE, 4096), TICK,
                    ShipLoop.Listener.NONE, () -> archive.list("wal/", null).isEmpty() ? null : "the lease lapsed");
            loop.tick();
            assertEquals(1, archive.list("wal/", null).size(), archive.list("wal/", null).toString());
            assertTrue(loop.status().lastError().startsWith(ShipLoop.PAUSED_PREFIX + "the lease lapsed"),
                    loop.status().lastError());
            assertTrue(loop.status().archivedUpTo() < store.lastLsn());
            loop.close(); // still refused: nothing more
            assertEquals(1, archive.list("wal/", null).size());
        }
    }

    /** With --segment-max-age a young partial segment waits at each tick, but a graceful stop ships it. */
    @Test
    void aYoungSegmentWaitsButTheLastRunOnCloseShipsIt() throws Exception {
        Path data = tmp.resolve("data");
        try (Store store = Store.open(data); ObjectStore archive = new LocalObjectStore(tmp.resolve("archive"))) {
            put(store, 5);
            ShipLoop loop = new ShipLoop(data, archive, WalShipper.Options.defaults().withSegmentMaxAge(Duration.ofHours(1)),
                    TICK, ShipLoop.Listener.NONE);
            loop.tick(); // a new shipper's first run ships everything: a killed one may have held it for long
            long shipped = store.lastLsn();
            assertEquals(shipped, ArchiveListing.of(archive).lastArchivedLsn(1));
            put(store, 5);
            loop.tick();
            loop.tick();
            assertEquals(shipped, ArchiveListing.of(archive).lastArchivedLsn(1), "a segment younger than its max age waits");
            assertNull(loop.status().lastError());
            assertEquals(store.lastLsn() - shipped, loop.status().lagLsns(), "the status says what waits");
            loop.close();
            assertEquals(store.lastLsn(), ArchiveListing.of(archive).lastArchivedLsn(1), "a graceful stop ships everything");
        }
    }

    @Test
    void shipsEveryTickAndOnceMoreOnClose() throws Exception {
        Path data = tmp.resolve("data");
        List<ShipLoop.Tick> ticks = new CopyOnWriteArrayList<>();
        try (Store store = Store.open(data); ObjectStore archive = new LocalObjectStore(tmp.resolve("archive"))) {
            put(store, 10);
            ShipLoop loop = new ShipLoop(data, archive, WalShipper.Options.defaults(), TICK, new ShipLoop.Listener() {
                @Override
                public void finished(ShipLoop.Tick tick) {
                    ticks.add(tick);
                }
            }).start();
            try {
                await(() -> loop.status().archivedUpTo() == store.lastLsn(), "the first ship", loop::status);
                assertEquals(0, loop.status().lagLsns());
                assertNull(loop.status().lastError());
                assertThrows(StoreLockedException.class, () -> new WalShipper(data, archive, WalShipper.Options.defaults()),
                        "the loop holds ship.lock");
                put(store, 5);
                await(() -> loop.status().archivedUpTo() == store.lastLsn(), "the next tick to ship new commits", loop::status);
            } finally {
                put(store, 3); // committed after the last tick: the final ship on close takes them
                loop.close();
            }
            assertEquals(store.lastLsn(), ArchiveListing.of(archive).lastArchivedLsn(1));
            assertTrue(ticks.stream().allMatch(ShipLoop.Tick::ok), ticks.toString());
            new WalShipper(data, archive, WalShipper.Options.defaults()).close(); // ship.lock released
        }
    }

    @Test
    void aFailedRunIsRecordedWithItsCauseAndRetriedAtTheNextTick() throws Exception {
        Path data = tmp.resolve("data");
        List<ShipLoop.Tick> ticks = new CopyOnWriteArrayList<>();
        try (Store store = Store.open(data);
             SwitchableStore archive = new SwitchableStore(new LocalObjectStore(tmp.resolve("archive")))) {
            put(store, 4);
            try (ShipLoop loop = new ShipLoop(data, archive, WalShipper.Options.defaults(), TICK, new ShipLoop.Listener() {
                @Override
                public void finished(ShipLoop.Tick tick) {
                    ticks.add(tick);
                }
            }).start()) {
                await(() -> loop.status().archivedUpTo() == store.lastLsn(), "the first ship", loop::status);
                long shipped = store.lastLsn();

                archive.down = new StorageException("PUT segment: service unavailable",
                        new IOException("connection reset"));
                put(store, 6);
                await(() -> loop.status().lastError() != null, "a failed tick", loop::status);
                await(() -> loop.status().lagLsns() == 6, "the lag to grow while the archive is down", loop::status);
                ShipLoop.Status failing = loop.status();
                assertEquals(shipped, failing.archivedUpTo(), "archived-up-to never moves past a failed upload");
                assertEquals("PUT segment: service unavailable: caused by IOException: connection reset",
                        failing.lastError());
                assertTrue(failing.lagSeconds() >= 0, failing.toString());

                archive.down = new WalshipException("any other failure"); // one policy for every error
                int before = ticks.size();
                await(() -> ticks.size() > before + 1, "ticks to go on", loop::status);
                assertEquals("any other failure", loop.status().lastError());

                archive.down = null;
                await(() -> loop.status().lastError() == null, "the next tick after the archive is back", loop::status);
                assertEquals(store.lastLsn(), loop.status().archivedUpTo());
                assertEquals(0, loop.status().lagLsns());
            }
            assertTrue(ticks.stream().anyMatch(t -> !t.ok() && t.result() == null), ticks.toString());
            assertEquals(store.lastLsn(), ArchiveListing.of(archive).lastArchivedLsn(1));
        }
    }
}
