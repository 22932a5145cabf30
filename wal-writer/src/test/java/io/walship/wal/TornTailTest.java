package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The end of the WAL (defect 7): past the durable point, everything from the first entry that is
 * unreadable (or unreachable) on is a torn tail, cut off for good — by the recovered writer, by a
 * reader in another process, after any number of reopens; at or before it, the store refuses.
 */
class TornTailTest {
    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Writes {@code n} commits and stops the store as a crash would, its WAL synced (durable point = last). */
    private static long writeAndAbandon(Path dir, int n) {
        Store store = Store.open(dir);
        for (int i = 0; i < n; i++) {
            store.put(b("k" + i), b("value-" + i));
        }
        long last = store.lastLsn();
        store.abandonForTesting();
        return last;
    }

    private static byte[] torn(byte[] entry) {
        byte[] t = entry.clone();
        Arrays.fill(t, t.length / 2, t.length, (byte) 0); // the second half never reached the disk
        return t;
    }

    @Test
    void aTornGroupIsCutOffAndNoReaderEverSeesItsStaleEntries() {
        Path dir = tmp.resolve("d");
        long last = writeAndAbandon(dir, 50);
        byte[][] stale = WalSurgery.continuation(dir, tmp.resolve("copy"), 4, "stale");
        // power loss in the middle of a group's sync: n+1 torn, n+2.. made it to the disk
        WalSurgery.appendRaw(dir, torn(stale[0]), stale[1], stale[2], stale[3]);
        assertEquals(last, WalSurgery.durablePoint(dir));

        try (WalReader shipper = WalReader.open(dir)) { // another process, started before the restart
            shipper.seek(1);
            long seen = 0;
            WalEntry e;
            while ((e = shipper.next()) != null) {
                seen = e.lsn();
            }
            assertEquals(last, seen, "a reader stops at the durable point");

            List<byte[]> written = new ArrayList<>();
            try (Store store = Store.open(dir)) {
                assertEquals(last, store.lastLsn(), "everything after the torn entry is discarded");
                assertEquals(1, WalSurgery.files(dir.resolve(WalLog.DIR_NAME), TornTailRepair.BROKEN_SUFFIX).size(),
                        "a copy of what was cut off is kept");
                for (int i = 0; i < 3; i++) {
                    assertEquals(last + 1 + i, store.put(b("new" + i), b("fresh-" + i)), "the LSNs are reused");
                }
                try (WalReader own = store.walReader()) {
                    own.seek(last + 1);
                    for (int i = 0; i < 3; i++) {
                        own.next();
                        written.add(own.lastEntryBytes());
                    }
                }
            }
            for (int i = 0; i < 3; i++) {
                WalEntry next = shipper.poll(Duration.ofSeconds(10));
                assertNotNull(next, "the reader follows the recovered writer");
                assertEquals(last + 1 + i, next.lsn());
                assertArrayEquals(written.get(i), shipper.lastEntryBytes(), "the reader sees the new entry, not a stale one");
                assertFalse(Arrays.equals(stale[1 + i], shipper.lastEntryBytes()));
            }
            assertNull(shipper.next());
        }
        try (Store reopened = Store.open(dir)) {
            assertEquals(last + 3, reopened.lastLsn());
            assertArrayEquals(b("fresh-2"), reopened.get(b("new2")));
            assertNull(reopened.get(b("stale1")), "no stale entry was ever applied");
            assertEquals(reopened.digest(), PageImage.replayWal(dir).digest());
        }
    }

    @Test
    void documentsPastAHoleAreCutOffSoNewEntriesStayReachable() {
        Path dir = tmp.resolve("d");
        long last = writeAndAbandon(dir, 30);
        byte[][] stale = WalSurgery.continuation(dir, tmp.resolve("copy"), 3, "stale");
        WalSurgery.appendRaw(dir, stale);
        // the page holding n+1's header was lost: Chronicle sees the WAL end there, n+2.. lie beyond
        WalLog.Located first = WalSurgery.locate(dir, last + 1);
        WalSurgery.zero(first.file(), first.start() - 4, 4);

        try (Store store = Store.open(dir)) {
            assertEquals(last, store.lastLsn());
            for (int i = 0; i < 5; i++) {
                store.put(b("new" + i), b("fresh-" + i));
            }
        }
        try (Store reopened = Store.open(dir)) {
            assertEquals(last + 5, reopened.lastLsn(), "acknowledged entries written after the hole are reachable");
            for (int i = 0; i < 5; i++) {
                assertArrayEquals(b("fresh-" + i), reopened.get(b("new" + i)));
            }
            assertEquals(reopened.digest(), PageImage.replayWal(dir).digest());
        }
    }

    @Test
    void anUnfinishedDocumentLeftByAKillIsCutOff() throws Exception {
        Path dir = tmp.resolve("d");
        long last = writeAndAbandon(dir, 20);
        byte[][] more = WalSurgery.continuation(dir, tmp.resolve("copy"), 1, "more");
        WalSurgery.appendRaw(dir, more[0]);
        // killed while Chronicle was writing it: the header still says "not complete"
        WalLog.Located doc = WalSurgery.locate(dir, last + 1);
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(doc.file(),
                java.nio.file.StandardOpenOption.READ, java.nio.file.StandardOpenOption.WRITE)) {
            java.nio.ByteBuffer h = java.nio.ByteBuffer.allocate(4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            ch.read(h, doc.start() - 4);
            h.putInt(0, h.getInt(0) | ChronicleTail.NOT_COMPLETE).rewind();
            ch.write(h, doc.start() - 4);
        }
        try (Store store = Store.open(dir)) {
            assertEquals(last, store.lastLsn());
            assertEquals(last + 1, store.put(b("x"), b("y")));
        }
        try (Store store = Store.open(dir)) {
            assertEquals(last + 1, store.lastLsn());
            assertArrayEquals(b("y"), store.get(b("x")));
            assertEquals(store.digest(), PageImage.replayWal(dir).digest());
        }
    }

    @Test
    void intactEntriesBeforeTheTearAreKeptAndMadeDurable() {
        Path dir = tmp.resolve("d");
        long last = writeAndAbandon(dir, 20);
        byte[][] more = WalSurgery.continuation(dir, tmp.resolve("copy"), 3, "more");
        WalSurgery.appendRaw(dir, more[0], torn(more[1]), more[2]);
        TestSync sync = new TestSync();
        try (Store store = Store.open(dir, StoreOptions.defaults(), WalSeams.defaults().withSync(sync))) {
            assertEquals(last + 1, store.lastLsn(), "an intact entry past the durable point is kept");
            assertArrayEquals(b("stale-0"), store.get(b("more0")));
            assertEquals(last + 1, store.durableLsn());
            assertEquals(last + 1, WalSurgery.durablePoint(dir), "recovery publishes what it made durable");
            assertTrue(sync.forces.get() > 0 && sync.directories.contains(dir.resolve(WalLog.DIR_NAME)),
                    "recovery synced the WAL it kept");
        }
    }

    @Test
    void aTornEntryAtOrBeforeTheDurablePointRefusesToOpen() {
        Path dir = tmp.resolve("d");
        long last = writeAndAbandon(dir, 20);
        byte[][] more = WalSurgery.continuation(dir, tmp.resolve("copy"), 2, "more");
        WalSurgery.appendRaw(dir, torn(more[0]), more[1]);
        WalSurgery.setDurablePoint(dir, last + 2); // it had been synced: this is damage, not a tear
        IntegrityException e = assertThrows(IntegrityException.class, () -> Store.open(dir));
        assertTrue(e.getMessage().contains("LSN " + Lsn.format(last + 1)) && e.getMessage().contains("durable up to LSN "
                + Lsn.format(last + 2)), e.getMessage());
        assertEquals(0, WalSurgery.files(dir.resolve(WalLog.DIR_NAME), TornTailRepair.BROKEN_SUFFIX).size(),
                "a refused open changes nothing");
    }

    @Test
    void aWalShorterThanItsDurablePointRefusesToOpen() {
        Path dir = tmp.resolve("d");
        long last = writeAndAbandon(dir, 20);
        WalSurgery.setDurablePoint(dir, last + 5);
        IntegrityException e = assertThrows(IntegrityException.class, () -> Store.open(dir));
        assertTrue(e.getMessage().contains("ends at LSN " + Lsn.format(last)), e.getMessage());
    }

    @Test
    void aRepairInterruptedBeforeTheSwapIsDoneAgain() throws Exception {
        Path dir = tmp.resolve("d");
        long last = writeAndAbandon(dir, 20);
        byte[][] stale = WalSurgery.continuation(dir, tmp.resolve("copy"), 2, "stale");
        WalSurgery.appendRaw(dir, torn(stale[0]), stale[1]);
        // a crash left a half-made copy behind
        Files.createDirectories(dir.resolve(TornTailRepair.REPAIR_DIR));
        Files.write(dir.resolve(TornTailRepair.REPAIR_DIR).resolve("junk.cq4"), new byte[100]);
        try (Store store = Store.open(dir)) {
            assertEquals(last, store.lastLsn());
            assertFalse(Files.exists(dir.resolve(TornTailRepair.REPAIR_DIR)));
            store.put(b("x"), b("y"));
        }
        try (Store store = Store.open(dir)) {
            assertEquals(last + 1, store.lastLsn());
        }
    }
}
