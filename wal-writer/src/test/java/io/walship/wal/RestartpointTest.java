package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checkpoint horizons in the WAL and a standby's restartpoints (issue 10, "follower torn
 * pages"): a store fed a leader's entries checkpoints only at a horizon the leader recorded, so a
 * page torn while the standby wrote it is rebuilt by redo from the leader's full-page images.
 */
class RestartpointTest {
    private static final int KEYS = 3_000;

    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String key(int i) {
        return String.format("key%05d", i);
    }

    /** A leader with a base of KEYS keys, checkpointed, and a standby restored from its snapshot. */
    private static final class Pair {
        final Store leader;
        final Path standbyDir;
        final WalReader reader;
        final List<Long> horizonsSeen = new ArrayList<>();

        Pair(Path tmp, StoreOptions leaderOpts) throws IOException {
            leader = Store.open(tmp.resolve("leader"), leaderOpts);
            for (int i = 0; i < KEYS; i += 300) {
                WriteBatch batch = new WriteBatch();
                for (int j = i; j < i + 300; j++) {
                    batch.put(b(key(j)), new byte[120]);
                }
                leader.write(batch, Durability.ASYNC);
            }
            leader.checkpoint();
            // the snapshot is taken past the horizon's carrier: the standby's checkpoint is not a horizon
            leader.put(b("between"), b("the checkpoint and the snapshot"));
            standbyDir = tmp.resolve("standby");
            try (Snapshot snap = leader.snapshot(); InputStream in = snap.openStream()) {
                SnapshotLoader.load(in, standbyDir);
            }
            ControlFile.read(standbyDir).asStandby().write(standbyDir);
            reader = leader.walReader();
            reader.seek(ControlFile.read(standbyDir).checkpointLsn() + 1);
        }

        /** Applies everything the leader has to {@code standby}; returns the entries applied. */
        List<WalEntry> catchUp(Store standby) {
            List<WalEntry> applied = new ArrayList<>();
            WalEntry e;
            while (standby.lastLsn() < leader.lastLsn() && (e = reader.poll(Duration.ofSeconds(10))) != null) {
                standby.apply(e, Durability.ASYNC);
                if (e.horizon() != Lsn.NONE) {
                    horizonsSeen.add(e.horizon());
                }
                applied.add(e);
            }
            assertEquals(leader.lastLsn(), standby.lastLsn());
            return applied;
        }

        /** Rewrites keys [from, to) with a same-length value: small deltas on already-changed pages. */
        void rewrite(int from, int to, String tag) {
            for (int i = from; i < to; i += 7) {
                byte[] v = new byte[120];
                byte[] t = b(tag);
                System.arraycopy(t, 0, v, 0, t.length);
                leader.put(b(key(i)), v, Durability.ASYNC);
            }
        }
    }

    @Test
    void theLeaderRecordsEachHorizonInTheNextEntryItSeals() throws Exception {
        Path dir = tmp.resolve("leader");
        List<Long> checkpointsTaken = new ArrayList<>();
        try (Store leader = Store.open(dir)) {
            for (int round = 0; round < 3; round++) {
                for (int i = 0; i < 50; i++) {
                    leader.put(b("k" + round + "." + i), b("v"), Durability.ASYNC);
                }
                checkpointsTaken.add(leader.checkpoint());
            }
            leader.put(b("after"), b("the last checkpoint"));
        }
        Map<Long, Long> carriers = new LinkedHashMap<>(); // horizon -> LSN of the entry recording it
        try (WalReader r = WalReader.open(dir)) {
            r.seek(1);
            WalEntry e;
            while ((e = r.next()) != null) {
                if (e.horizon() != Lsn.NONE) {
                    assertFalse(carriers.containsKey(e.horizon()), "horizon recorded twice");
                    carriers.put(e.horizon(), e.lsn());
                }
            }
        }
        for (long c : checkpointsTaken) {
            assertEquals(c + 1, carriers.get(c), "horizon " + c + " is recorded by entry " + (c + 1));
        }
        // the final checkpoint at close has no entry after it; a reopened leader records its horizon again
        long closeCheckpoint = ControlFile.read(dir).checkpointLsn();
        try (Store leader = Store.open(dir)) {
            long lsn = leader.put(b("reopened"), b("1"));
            try (WalReader r = WalReader.open(dir)) {
                r.seek(lsn);
                assertEquals(closeCheckpoint, r.next().horizon());
            }
        }
    }

    @Test
    void aStandbyWritesNoChangedPageBeforeItsFirstHorizonThenCheckpointsOnlyAtHorizons() throws Exception {
        Pair p = new Pair(tmp, StoreOptions.defaults());
        StoreOptions standbyOpts = StoreOptions.defaults().withPoolPages(64)
                .withCheckpoint(1L << 40, Duration.ofMillis(100));
        long restoredAt = ControlFile.read(p.standbyDir).checkpointLsn();
        try (Store standby = Store.open(p.standbyDir, standbyOpts)) {
            assertTrue(standby.standby());
            // entries without a usable horizon: the cache grows rather than write a changed page
            p.rewrite(0, KEYS, "a");
            p.catchUp(standby);
            StoreStats s = standby.stats();
            assertTrue(s.poolPages() > 64, "pages in the cache " + s.poolPages());
            assertEquals(0, s.evictionWrites(), "a standby without a horizon wrote a changed page");
            assertEquals(restoredAt, standby.checkpoint(), "no restartpoint without a horizon past the checkpoint");
            assertEquals(0, standby.stats().checkpointWrites());

            // the leader checkpoints: its next entry records the horizon, and the standby's first
            // restartpoint follows on its own
            long h = p.leader.checkpoint();
            p.rewrite(0, KEYS, "b");
            p.catchUp(standby);
            assertTrue(p.horizonsSeen.contains(h), "horizons seen " + p.horizonsSeen);
            Poll.until(Duration.ofSeconds(30), () -> standby.checkpointLsn() == h,
                    () -> "standby checkpoint " + standby.checkpointLsn() + ", leader horizon " + h);
            assertTrue(standby.checkpointLsn() < standby.lastLsn(), "a horizon, not the apply position");
            // from now on eviction may write changed pages again
            p.rewrite(1, KEYS, "c");
            p.catchUp(standby);
            assertTrue(standby.stats().evictionWrites() > 0, "evictions wrote nothing");
            assertTrue(standby.stats().poolPages() <= 64 + 64 / 16 + 8, "cache " + standby.stats().poolPages());

            // every later restartpoint lands on a horizon the leader recorded
            for (int round = 0; round < 3; round++) {
                p.leader.checkpoint();
                p.rewrite(round, KEYS, "d" + round);
                p.catchUp(standby);
                long c = standby.checkpoint();
                assertTrue(p.horizonsSeen.contains(c), "restartpoint " + c + " is not a horizon " + p.horizonsSeen);
                assertEquals(p.horizonsSeen.get(p.horizonsSeen.size() - 1), c);
                assertTrue(c < standby.lastLsn());
            }
            assertEquals(p.leader.digest(), standby.digest());
        } finally {
            p.reader.close();
            p.leader.close();
        }
    }

    /**
     * Pages torn after a restartpoint (the standby was writing them when it crashed) are rebuilt
     * by redo, because the first change to each after the horizon is a full image; the same tear
     * after a checkpoint at the apply position, as a standby used to take, cannot be repaired.
     */
    @Test
    void tornPagesAfterARestartpointAreRebuiltButNotAfterACheckpointAtTheApplyPosition() throws Exception {
        Pair p = new Pair(tmp, StoreOptions.defaults());
        Path unsafeDir = tmp.resolve("unsafe");
        long horizon;
        long applyPosition;
        try {
            try (Store standby = Store.open(p.standbyDir)) {
                horizon = p.leader.checkpoint();
                p.rewrite(0, KEYS, "first");   // first change to each page after the horizon: full images
                p.catchUp(standby);
                assertEquals(horizon, standby.checkpoint(), "restartpoint at the leader's horizon");
                applyPosition = standby.lastLsn();
                assertTrue(applyPosition > horizon);
            }
            // the same directory as if its checkpoint had been taken at the apply position
            copyTree(p.standbyDir, unsafeDir);
            ControlFile c = ControlFile.read(unsafeDir);
            c.withCheckpoint(applyPosition, c.checkpointTimeMicros()).write(unsafeDir);

            p.rewrite(0, KEYS, "second");      // deltas: these pages changed after the leader's horizon
            Store safe = Store.open(p.standbyDir);
            Store unsafe = Store.open(unsafeDir);
            List<WalEntry> later = p.catchUp(safe);
            for (WalEntry e : later) {
                unsafe.apply(e, Durability.DURABLE);
            }
            Set<Integer> deltaFirst = pagesWhoseFirstChangeIsADelta(later);
            assertFalse(deltaFirst.isEmpty(), "the test needs pages changed by deltas after the apply position");
            safe.abandonForTesting();   // crash: WAL synced, pages not written
            unsafe.abandonForTesting();
            for (int page : deltaFirst) {
                tear(p.standbyDir, page);
                tear(unsafeDir, page);
            }

            try (Store reopened = Store.open(p.standbyDir)) {
                assertEquals(p.leader.lastLsn(), reopened.lastLsn());
                assertEquals(p.leader.digest(), reopened.digest());
                for (int page : deltaFirst) {
                    assertArrayEquals(p.leader.pageForTesting(page), reopened.pageForTesting(page), "page " + page);
                }
            }
            IntegrityException e = assertThrows(IntegrityException.class, () -> Store.open(unsafeDir).close());
            assertTrue(e.getMessage().contains("torn or corrupt page"), e.getMessage());
        } finally {
            p.reader.close();
            p.leader.close();
        }
    }

    /** Pages whose first change in {@code entries} is a delta, not a full image. */
    private static Set<Integer> pagesWhoseFirstChangeIsADelta(List<WalEntry> entries) {
        Set<Integer> seen = new HashSet<>();
        Set<Integer> out = new HashSet<>();
        for (WalEntry e : entries) {
            for (PageChange c : e.changes()) {
                if (seen.add(c.pageNo()) && !c.fullPage()) {
                    out.add(c.pageNo());
                }
            }
        }
        return out;
    }

    /** What a crash in the middle of writing a page leaves: its second half is of another version. */
    private static void tear(Path dir, int page) throws IOException {
        try (FileChannel ch = FileChannel.open(dir.resolve(PageFile.FILE_NAME), StandardOpenOption.WRITE)) {
            byte[] half = new byte[PageFormat.PAGE_SIZE / 2];
            java.util.Arrays.fill(half, (byte) 0x5A);
            ch.write(ByteBuffer.wrap(half), (long) page * PageFormat.PAGE_SIZE + PageFormat.PAGE_SIZE / 2);
        }
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> all = Files.walk(from)) {
            for (Path src : all.toList()) {
                Path dst = to.resolve(from.relativize(src).toString());
                if (Files.isDirectory(src)) {
                    Files.createDirectories(dst);
                } else {
                    try {
                        Files.copy(src, dst);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }
            }
        }
        assertNotNull(ControlFile.read(to));
    }
}
