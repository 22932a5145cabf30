package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Snapshots are bounded and describe only durable state (issue 9, defects 3 and 5). */
class SnapshotBoundTest {
    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static void fill(Store store, int keys) {
        for (int i = 0; i < keys; i += 200) {
            WriteBatch batch = new WriteBatch();
            for (int j = i; j < i + 200; j++) {
                batch.put(b(String.format("key%05d", j)), new byte[150]);
            }
            store.write(batch, Durability.ASYNC);
        }
    }

    /** Rewrites one key in each of many leaves, so that a snapshot must keep their before-images. */
    private static void touchManyPages(Store store, int keys) {
        for (int i = 0; i < keys; i += 20) {
            store.put(b(String.format("key%05d", i)), b("changed " + i), Durability.ASYNC);
        }
    }

    @Test
    void aSnapshotPastItsByteBoundIsAbandonedWithItsMemoryReleased() throws Exception {
        StoreOptions opts = StoreOptions.defaults().withSnapshotLimits(64 << 10, Duration.ofHours(1));
        try (Store store = Store.open(tmp.resolve("d"), opts)) {
            fill(store, 4_000);
            Snapshot snap = store.snapshot();
            try (InputStream in = snap.openStream()) {
                in.readNBytes(Snapshot.HEADER_SIZE + PageFormat.PAGE_SIZE); // the reader starts, then stalls
                assertEquals(1, store.stats().snapshotsOpen());
                touchManyPages(store, 4_000); // far more than 16 pages' worth of before-images
                StoreStats stats = store.stats();
                assertEquals(0, stats.snapshotsOpen(), "the store no longer feeds it");
                assertEquals(0, stats.snapshotBytes(), "its before-images are released");
                assertEquals(1, stats.snapshotsAbandoned());
                assertEquals(0, snap.preservedBytes());
                assertTrue(snap.isAbandoned());
                SnapshotAbandonedException e = assertThrows(SnapshotAbandonedException.class, in::readAllBytes);
                assertEquals(snap.lsn(), e.lsn());
                assertTrue(e.getMessage().contains("snapshot at LSN " + Lsn.format(snap.lsn())), e.getMessage());
                assertTrue(e.getMessage().contains("over the limit of 64 KiB"), e.getMessage());
                assertTrue(e.getMessage().contains("it held 68 KiB of before-images"), e.getMessage());
            } finally {
                snap.close();
            }
            // writers went on all along; a new snapshot works
            try (Snapshot again = store.snapshot(); InputStream in = again.openStream()) {
                assertEquals(again.imageSize(), in.readAllBytes().length);
            }
        }
    }

    @Test
    void aStalledSnapshotIsAbandonedAfterItsMaxAge() throws Exception {
        TestClock clock = new TestClock(Instant.parse("2026-01-01T00:00:00Z"));
        StoreOptions opts = StoreOptions.defaults().withClock(clock).withCheckpoint(64L << 20, Duration.ofMillis(200))
                .withSnapshotLimits(0, Duration.ofMinutes(10));
        try (Store store = Store.open(tmp.resolve("d"), opts)) {
            fill(store, 1_000);
            try (Snapshot snap = store.snapshot()) {
                touchManyPages(store, 1_000);
                assertTrue(snap.preservedBytes() > 0);
                clock.advance(Duration.ofMinutes(9));
                assertTrue(snap.pages().read(0).length > 0, "within its age it reads");
                clock.advance(Duration.ofMinutes(2));
                // nobody reads it: the checkpointer's tick gives it up
                Poll.until(Duration.ofSeconds(30), () -> store.stats().snapshotsAbandoned() == 1,
                        () -> "abandoned: " + store.stats().snapshotsAbandoned());
                assertEquals(0, store.stats().snapshotBytes());
                SnapshotAbandonedException e = assertThrows(SnapshotAbandonedException.class,
                        () -> snap.pages().read(0));
                assertTrue(e.getMessage().contains("it was open for PT11M, over the limit of PT10M"), e.getMessage());
                assertTrue(e.getMessage().contains(Lsn.format(snap.lsn())), e.getMessage());
            }
        }
    }

    /** Defect 5, engine half: a snapshot never describes a state a crash could take back. */
    @Test
    void aSnapshotDescribesOnlyDurableState() {
        StoreOptions opts = StoreOptions.defaults().withAsyncFlushMillis(600_000);
        try (Store store = Store.open(tmp.resolve("d"), opts)) {
            store.put(b("durable"), b("1"));
            for (int i = 0; i < 100; i++) {
                store.put(b("async" + i), b("v"), Durability.ASYNC);
            }
            long last = store.lastLsn();
            assertTrue(store.durableLsn() < last, "async commits are not synced yet");
            try (Snapshot snap = store.snapshot()) {
                assertEquals(last, snap.lsn());
                assertTrue(snap.lsn() <= store.durableLsn(),
                        "snapshot at " + snap.lsn() + " but durable only to " + store.durableLsn());
            }
            StateDigest d = store.digest();
            assertTrue(d.lsn() <= store.durableLsn());
        }
    }
}
