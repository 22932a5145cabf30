package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import net.openhft.chronicle.core.time.SetTimeProvider;
import net.openhft.chronicle.queue.rollcycles.TestRollCycles;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Stores that were never finished, and the files around them (defect 9): a crash between the
 * first control write and a durable LSN 1 leaves a store that opens (it is created again);
 * retention checks the entry it trusts; the directories a store creates are synced.
 */
class CreationCrashTest {
    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void aCrashRightAfterTheFirstControlWriteLeavesAStoreThatOpens() throws Exception {
        Path dir = tmp.resolve("d");
        Files.createDirectories(dir);
        new ControlFile(0x1234_5678L, 1, 0, 0).write(dir); // the first thing creation writes; then the crash
        try (Store store = Store.open(dir)) {
            assertEquals(1, store.lastLsn(), "LSN 1 (the empty tree) was written at last");
            assertEquals(0x1234_5678L, store.systemId(), "the store keeps the identity it was given");
            assertEquals(2, store.put(b("k"), b("v")));
        }
        try (Store store = Store.open(dir)) {
            assertArrayEquals(b("v"), store.get(b("k")));
            assertEquals(store.digest(), PageImage.replayWal(dir).digest());
        }
    }

    @Test
    void aCrashWhileLsn1WasBeingWrittenLeavesAStoreThatOpens() throws Exception {
        Path model = tmp.resolve("model");
        try (Store s = Store.open(model)) {
            s.put(b("x"), b("y"));
        }
        byte[] lsn1 = WalSurgery.locate(model, 1).bytes();
        // the state of a crash during creation: control, an empty page file, a torn LSN 1
        Path dir = tmp.resolve("d");
        Files.createDirectories(dir);
        new ControlFile(42, 1, 0, 0).write(dir);
        Files.write(dir.resolve(PageFile.FILE_NAME), new byte[0]);
        WalSurgery.appendRaw(dir, Arrays.copyOf(lsn1, lsn1.length - 100));
        try (Store store = Store.open(dir)) {
            assertEquals(1, store.lastLsn());
            store.put(b("k"), b("v"));
        }
        try (Store store = Store.open(dir)) {
            assertArrayEquals(b("v"), store.get(b("k")));
        }
    }

    @Test
    void creatingAStoreSyncsTheDirectoriesItCreatesAndEachNewWalFile() {
        Path dir = tmp.resolve("a").resolve("d");
        TestSync sync = new TestSync();
        SetTimeProvider clock = new SetTimeProvider(java.time.Instant.parse("2026-11-24T10:00:00Z"));
        WalSeams seams = WalSeams.defaults().withSync(sync).withWalTime(clock);
        try (Store store = Store.open(dir, StoreOptions.defaults(), seams)) {
            assertTrue(sync.directories.contains(dir), "the data directory: " + sync.directories);
            assertTrue(sync.directories.contains(dir.resolve(WalLog.DIR_NAME)), "wal/: " + sync.directories);
            long walSyncs = sync.directories.stream().filter(d -> d.endsWith(WalLog.DIR_NAME)).count();
            clock.advanceMillis(3_600_000); // the next commit opens a new cycle file
            store.put(b("k"), b("v"));
            assertEquals(2, WalSurgery.files(dir.resolve(WalLog.DIR_NAME), ".cq4").size());
            assertEquals(0, WalSurgery.files(dir.resolve(WalLog.DIR_NAME), ".precreated").size(),
                    "Chronicle took the file the writer created for the new cycle");
            assertTrue(sync.directories.stream().filter(d -> d.endsWith(WalLog.DIR_NAME)).count() > walSyncs,
                    "the new cycle file's directory entry was synced before the commit was acknowledged");
        }
    }

    @Test
    void retentionDeletesAFileOnlyWhenTheNextFilesFirstEntryIsIntact() throws Exception {
        for (boolean corrupt : new boolean[] {false, true}) {
            Path dir = tmp.resolve("d" + corrupt);
            SetTimeProvider clock = new SetTimeProvider(java.time.Instant.parse("2026-11-24T10:00:00Z"));
            StoreOptions opts = StoreOptions.defaults().withRollCycle(TestRollCycles.TEST_SECONDLY);
            long secondFileStart;
            try (Store store = Store.open(dir, opts, WalSeams.defaults().withWalTime(clock))) {
                for (int i = 0; i < 10; i++) {
                    store.put(b("a" + i), b("v"));
                }
                clock.advanceMillis(1_000);
                secondFileStart = store.lastLsn() + 1;
                for (int i = 0; i < 10; i++) {
                    store.put(b("b" + i), b("v"));
                }
                clock.advanceMillis(1_000);
                store.put(b("c"), b("v"));
            }
            if (corrupt) {
                WalCorruptionTest.flipByteInEntry(dir, secondFileStart);
            }
            try (WalLog log = new WalLog(dir, false, TestRollCycles.TEST_SECONDLY)) {
                int deleted = log.deleteUpTo(1_000);
                assertEquals(corrupt ? 0 : 2, deleted, corrupt ? "the first file is kept: the entry that would prove"
                        + " it may go is corrupt" : "both older files may go");
            }
        }
    }

    /**
     * A WAL with no cycle file yet (a follower bootstrapped from a base backup that stops before any
     * WAL arrives): retention deletes nothing and does not fail. It used to ask Chronicle for the
     * cycles between "none" markers and fail the store's final checkpoint ('file not found' for the
     * lowerCycle).
     */
    @Test
    void retentionOnAnEmptyWalDeletesNothing() throws Exception {
        Path dir = tmp.resolve("empty");
        java.nio.file.Files.createDirectories(dir);
        try (WalLog log = new WalLog(dir, false, TestRollCycles.TEST_SECONDLY)) {
            assertEquals(0, log.deleteUpTo(1_000));
            assertEquals(java.util.List.of(), log.cycleFiles());
        }
    }
}
