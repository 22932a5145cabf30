package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StoreTest {
    @TempDir
    Path tmp;

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String s(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    @Test
    void closeCheckpointsEvenWhenTheClosingThreadIsInterrupted() {
        Path dir = tmp.resolve("interrupted");
        long last;
        Store s = Store.open(dir);
        for (int i = 0; i < 200; i++) {
            s.put(("k" + i).getBytes(), ("v" + i).getBytes(), Durability.ASYNC);
        }
        last = s.put("last".getBytes(), "1".getBytes());
        Thread.currentThread().interrupt();
        s.close();
        assertTrue(Thread.interrupted(), "the interrupt is kept for the caller");
        assertEquals(last, ControlFile.read(dir).checkpointLsn(), "the final checkpoint covered everything");
    }

    @Test
    void putGetDeleteScanAndLsns() {
        try (Store store = Store.open(tmp.resolve("d"))) {
            assertEquals(1, store.lastLsn(), "LSN 1 is the store's creation");
            long l1 = store.put(b("b"), b("2"));
            long l2 = store.put(b("a"), b("1"));
            assertEquals(l1 + 1, l2);
            assertEquals("1", s(store.get(b("a"))));
            assertEquals(l2, store.read(b("a")).lsn());
            long l3 = store.write(new WriteBatch().put(b("c"), b("3")).delete(b("b")));
            assertEquals(l2 + 1, l3);
            assertNull(store.get(b("b")));
            assertEquals(l3, store.delete(b("missing")), "a delete that changes nothing writes no entry");
            List<String> keys = new ArrayList<>();
            long at = store.scan(null, null, (k, v) -> keys.add(s(k)));
            assertEquals(List.of("a", "c"), keys);
            assertEquals(l3, at);
            assertTrue(store.durableLsn() >= l3);
        }
    }

    @Test
    void contentSurvivesCloseAndReopen() {
        Path d = tmp.resolve("d");
        StateDigest before;
        try (Store store = Store.open(d)) {
            for (int i = 0; i < 2_000; i++) {
                store.put(b("key" + i), b("value" + i), Durability.ASYNC);
            }
            before = store.digest();
        }
        try (Store store = Store.open(d)) {
            assertEquals(before, store.digest());
            assertEquals("value1999", s(store.get(b("key1999"))));
        }
    }

    @Test
    void commitTimesComeFromTheOptionsClockAndNeverGoBack() {
        TestClock clock = new TestClock(java.time.Instant.parse("2026-03-01T10:00:00Z"));
        Path d = tmp.resolve("d");
        long t0 = 1_772_359_200_000_000L;
        try (Store store = Store.open(d, StoreOptions.defaults().withClock(clock))) {
            long a = store.put(b("a"), b("1"));
            clock.advance(Duration.ofSeconds(-5)); // a clock stepping back
            long c = store.put(b("c"), b("3"));
            clock.advance(Duration.ofSeconds(10));
            long e = store.put(b("e"), b("5"));
            try (WalReader r = store.walReader()) {
                r.seek(a);
                assertEquals(t0, r.next().commitTimeMicros());
                assertEquals(t0, r.next().commitTimeMicros(), "commit time never decreases (LSN " + c + ")");
                assertEquals(t0 + 5_000_000, r.next().commitTimeMicros(), "LSN " + e);
            }
        }
    }

    @Test
    void cacheSizeIsGivenInBytesAndParsedFromText() {
        assertEquals(256L << 20, StoreOptions.defaults().cacheBytes());
        assertEquals(65_536, StoreOptions.defaults().poolPages());
        StoreOptions o = StoreOptions.defaults().withCacheSize("512MiB");
        assertEquals(512L << 20, o.cacheBytes());
        assertEquals(131_072, o.poolPages());
        assertEquals(128L << 20, o.snapshotByteLimit(), "snapshots default to a quarter of the cache");
        assertEquals(64, StoreOptions.defaults().withCacheSize("256KiB").poolPages());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> StoreOptions.defaults().withCacheSize("100KiB"));
        assertTrue(e.getMessage().contains("'100KiB' is below the minimum of 256 KiB"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> StoreOptions.defaults().withCacheSize("lots"));
        try (Store store = Store.open(tmp.resolve("d"), StoreOptions.defaults().withCacheSize("1MiB"))) {
            assertEquals(256, store.stats().poolCapacityPages());
            assertEquals(1L << 20, store.stats().poolCapacityBytes());
        }
    }

    @Test
    void recoveryRedoesFromTheCheckpoint() {
        Path d = tmp.resolve("d");
        // a cache of 64 pages, far below the store: recovery and reads evict as they go
        Store store = Store.open(d, StoreOptions.defaults().withPoolPages(64));
        TreeMap<String, String> model = new TreeMap<>();
        Random rnd = new Random(1);
        for (int i = 0; i < 6_000; i++) {
            String k = "k" + rnd.nextInt(10_000);
            if (i == 3_000) {
                store.checkpoint();
            }
            if (rnd.nextInt(5) == 0) {
                store.delete(b(k), Durability.ASYNC);
                model.remove(k);
            } else {
                String v = "v" + i + "x".repeat(rnd.nextInt(100));
                store.put(b(k), b(v), Durability.ASYNC);
                model.put(k, v);
            }
        }
        long last = store.lastLsn();
        long checkpoint = store.checkpointLsn();
        assertTrue(checkpoint > 1 && checkpoint < last);
        StateDigest digest = store.digest();
        store.abandonForTesting();

        try (Store reopened = Store.open(d, StoreOptions.defaults().withPoolPages(64))) {
            assertTrue(reopened.pageCountForTesting() > 64, "store of " + reopened.pageCountForTesting() + " pages");
            assertTrue(reopened.stats().poolPages() <= 64, "cache " + reopened.stats().poolPages());
            assertEquals(last, reopened.lastLsn());
            assertEquals(digest, reopened.digest());
            model.forEach((k, v) -> assertEquals(v, s(reopened.get(b(k)))));
        }
    }

    @Test
    void secondWriterIsRefused() {
        Path d = tmp.resolve("d");
        try (Store store = Store.open(d)) {
            StoreLockedException e = assertThrows(StoreLockedException.class, () -> Store.open(d));
            assertTrue(e.getMessage().contains("already open for writing"), e.getMessage());
        }
    }

    @Test
    void groupCommitSharesSyncsAcrossThreads() throws Exception {
        try (Store store = Store.open(tmp.resolve("d"))) {
            long syncsBefore = store.stats().walSyncs();
            int threads = 16;
            int perThread = 300;
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int id = t;
                fs.add(pool.submit(() -> {
                    for (int i = 0; i < perThread; i++) {
                        store.put(b("t" + id + "-" + i), new byte[100]);
                    }
                }));
            }
            for (Future<?> f : fs) {
                f.get();
            }
            pool.shutdown();
            long syncs = store.stats().walSyncs() - syncsBefore;
            long commits = (long) threads * perThread;
            assertTrue(syncs < commits / 2, "expected shared syncs, got " + syncs + " for " + commits + " commits");
            assertEquals(store.lastLsn(), store.durableLsn());
        }
    }

    @Test
    void walEntriesForSmallPutsAreCompact() {
        try (Store store = Store.open(tmp.resolve("d"))) {
            Random rnd = new Random(3);
            for (int i = 0; i < 20_000; i++) {
                byte[] v = new byte[100];
                rnd.nextBytes(v);
                store.put(b(String.format("user:%08d", rnd.nextInt(1_000_000))), v, Durability.ASYNC);
            }
            StoreStats before = store.stats();
            for (int i = 0; i < 5_000; i++) {
                byte[] v = new byte[100];
                rnd.nextBytes(v);
                store.put(b(String.format("user:%08d", rnd.nextInt(1_000_000))), v, Durability.ASYNC);
            }
            StoreStats after = store.stats();
            store.durableLsn();
            double perCommit = (double) (after.walBytes() - before.walBytes()) / (after.commits() - before.commits());
            assertTrue(perCommit < 1024, "WAL bytes per 100-byte put: " + perCommit);
        }
    }

    @Test
    void snapshotPlusLaterEntriesGivesByteIdenticalPages() throws Exception {
        Path leaderDir = tmp.resolve("leader");
        Path followerDir = tmp.resolve("follower");
        try (Store leader = Store.open(leaderDir)) {
            Random rnd = new Random(9);
            for (int i = 0; i < 3_000; i++) {
                leader.put(b("k" + rnd.nextInt(2_000)), b("v" + i), Durability.ASYNC);
            }
            leader.checkpoint();
            SnapshotLoader.Info info;
            try (Snapshot snap = leader.snapshot()) {
                // writers go on while the image is read
                for (int i = 0; i < 2_000; i++) {
                    leader.put(b("k" + rnd.nextInt(2_000)), b("w" + i), Durability.ASYNC);
                    leader.delete(b("k" + rnd.nextInt(2_000)), Durability.ASYNC);
                }
                try (InputStream in = snap.openStream()) {
                    info = SnapshotLoader.load(in, followerDir);
                }
                assertEquals(snap.lsn(), info.lsn());
            }
            for (int i = 0; i < 1_000; i++) {
                leader.put(b("k" + rnd.nextInt(2_000)), b("x" + i), Durability.ASYNC);
            }
            try (Store follower = Store.open(followerDir);
                 WalReader reader = leader.walReader()) {
                assertEquals(info.lsn(), follower.lastLsn());
                reader.seek(info.lsn() + 1);
                WalEntry e;
                while ((e = reader.poll(Duration.ofMillis(200))) != null) {
                    follower.apply(e, Durability.ASYNC);
                }
                assertEquals(leader.lastLsn(), follower.lastLsn());
                assertEquals(leader.digest(), follower.digest());
                int pages = leader.pageCountForTesting();
                assertEquals(pages, follower.pageCountForTesting());
                for (int p = 0; p < pages; p++) {
                    assertArrayEquals(leader.pageForTesting(p), follower.pageForTesting(p), "page " + p);
                }
            }
        }
    }

    @Test
    void snapshotImageCorruptionIsRefused() throws Exception {
        byte[] image;
        try (Store store = Store.open(tmp.resolve("d"))) {
            store.put(b("a"), b("1"));
            try (Snapshot snap = store.snapshot(); InputStream in = snap.openStream()) {
                image = in.readAllBytes();
                assertEquals(snap.imageSize(), image.length);
            }
        }
        byte[] bad = image.clone();
        bad[Snapshot.HEADER_SIZE + PageFormat.PAGE_SIZE + 100] ^= 1;
        IntegrityException e = assertThrows(IntegrityException.class,
                () -> SnapshotLoader.load(new java.io.ByteArrayInputStream(bad), tmp.resolve("x")));
        assertTrue(e.getMessage().contains("page 1"), e.getMessage());
        byte[] cut = java.util.Arrays.copyOf(image, image.length - 5);
        assertThrows(IntegrityException.class,
                () -> SnapshotLoader.load(new java.io.ByteArrayInputStream(cut), tmp.resolve("y")));
    }

    @Test
    void archiveLagBoundRefusesWritesUntilTheArchiveCatchesUp() {
        StoreOptions opts = StoreOptions.defaults().withCheckpoint(64L << 20, Duration.ofMillis(400))
                .withArchiveLag(64 << 10, StoreOptions.ArchiveLagPolicy.REFUSE_WRITES);
        try (Store store = Store.open(tmp.resolve("d"), opts)) {
            for (int i = 0; i < 2_000; i++) {
                store.put(b("k" + i), new byte[100], Durability.ASYNC);
            }
            awaitTicks(store, 2);
            assertEquals(0, store.stats().archiveLagBytes(), "no archived mark: archiving has not started, no bound");
            store.put(b("still"), b("accepted"));
            store.marks().setArchived(1);
            WalshipException[] refused = new WalshipException[1];
            Poll.until(Duration.ofSeconds(10), () -> {
                try {
                    store.put(b("more"), b("x" + System.nanoTime()));
                    return false;
                } catch (WalshipException e) {
                    refused[0] = e;
                    return true;
                }
            }, () -> "writes were never refused; lag " + store.stats().archiveLagBytes());
            assertTrue(refused[0].getMessage().contains("the archive is"), refused[0].getMessage());
            assertTrue(store.stats().archiveLagBytes() > 64 << 10);
            store.marks().setArchived(store.lastLsn());
            Poll.until(Duration.ofSeconds(10), () -> store.stats().archiveLagBytes() < 64 << 10,
                    () -> "lag " + store.stats().archiveLagBytes());
            store.put(b("after"), b("caught up")); // accepted again
        }
    }

    /** Waits until the checkpointer's background thread has completed {@code n} more ticks. */
    static void awaitTicks(Store store, int n) {
        long target = store.checkpointerForTesting().ticksForTesting() + n;
        Poll.until(Duration.ofSeconds(30), () -> store.checkpointerForTesting().ticksForTesting() >= target,
                () -> "the checkpointer did not tick");
    }

    @Test
    void replayFromNothingMatchesTheStore() {
        Path d = tmp.resolve("d");
        StateDigest digest;
        try (Store store = Store.open(d)) {
            Random rnd = new Random(5);
            for (int i = 0; i < 4_000; i++) {
                store.put(b("k" + rnd.nextInt(1_000)), b("v" + i), Durability.ASYNC);
                if (i % 1_000 == 0) {
                    store.checkpoint();
                }
            }
            digest = store.digest();
        }
        PageImage image = PageImage.replayWal(d);
        assertEquals(digest, image.digest());
    }

    /**
     * {@link Store.Read#pageLsn}: the highest LSN among the pages a lookup touched. After a commit
     * to one leaf, a read of a key on another leaf depends on no commit after the fill, while a
     * read of the changed key (or an absent key on its leaf) depends on that commit — what a
     * leader's reads wait for (docs/ARCHITECTURE.md, "Commit modes").
     */
    @Test
    void aReadSaysWhichCommitsThePagesItTouchedCarry() {
        try (Store s = Store.open(tmp.resolve("s"))) {
            WriteBatch fill = new WriteBatch();
            for (int i = 0; i < 200; i++) {
                fill.put(b(String.format("k%03d", i)), new byte[1000]);
            }
            long filled = s.write(fill);
            long changed = s.put(b("k199"), b("new"));
            assertEquals(filled + 1, changed);
            Store.Read far = s.read(b("k000"));
            assertEquals(changed, far.lsn(), "the state read");
            assertTrue(far.pageLsn() <= filled, "k000's leaf was not touched by " + changed + ": " + far.pageLsn());
            assertEquals(changed, s.read(b("k199")).pageLsn());
            Store.Read absent = s.read(b("k1990"));
            assertEquals(null, absent.value());
            assertEquals(changed, absent.pageLsn(), "an absent key's leaf is what says it is absent");
        }
    }
    /**
     * review11 (round 2): every lookup reads the meta page (the root's address), and a commit that
     * allocates a page (a split) changes it (the page count or the free list): a read of a key on
     * a leaf that commit never touched still depends on it. Conservative — such a read waits for
     * that commit on a leader — and what docs/ARCHITECTURE.md ("Commit modes") now says.
     */
    @Test
    void aCommitThatSplitsANodeIsOneEveryReadDependsOn() {
        try (Store s = Store.open(tmp.resolve("s"))) {
            WriteBatch fill = new WriteBatch();
            for (int i = 0; i < 200; i++) {
                fill.put(b(String.format("k%03d", i)), new byte[1000]);
            }
            long filled = s.write(fill);
            int pages = s.pageCountForTesting();
            long split = -1;
            for (int i = 0; i < 10 && s.pageCountForTesting() == pages; i++) {
                split = s.put(b(String.format("k199%d", i)), new byte[1000]); // appends to the last leaf until it splits
            }
            assertTrue(s.pageCountForTesting() > pages, "no split after 10 puts of 1 KB into one leaf");
            assertTrue(split > filled);
            assertEquals(split, s.read(b("k000")).pageLsn(), "k000's leaf was not touched, the meta page was");
        }
    }
}
