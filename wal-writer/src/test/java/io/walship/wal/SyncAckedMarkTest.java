package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code marks/sync-acked} is written on the path of every acknowledged semi-sync/sync commit
 * (LeaderNode): after it exists it is updated in place — one positional write of its one
 * fixed-width line — not re-created and renamed over each time (a read, a create, a write and a
 * rename per ack cost ~0.5 ms on ext4 beside the WAL's syncs, most of semi-sync's extra latency:
 * docs/BENCHMARKS.md, "Commit modes"). It still never goes back and reads as before.
 */
class SyncAckedMarkTest {
    @TempDir
    Path tmp;

    @Test
    void theMarkIsUpdatedInPlaceNeverGoesBackAndReadsAsBefore() throws Exception {
        WalMarks marks = new WalMarks(tmp);
        assertEquals(OptionalLong.empty(), marks.syncAcked());
        marks.setSyncAcked(5);
        Path f = tmp.resolve(WalMarks.DIR_NAME).resolve("sync-acked");
        Object inode = Files.getAttribute(f, "unix:ino");
        for (long lsn = 6; lsn <= 300; lsn++) {
            marks.setSyncAcked(lsn);
            assertEquals(inode, Files.getAttribute(f, "unix:ino"),
                    "the same file, updated in place (no rename per ack) at LSN " + lsn);
        }
        marks.setSyncAcked(17); // never backwards
        assertEquals(Lsn.format(300) + "\n", Files.readString(f, StandardCharsets.US_ASCII));
        assertEquals(OptionalLong.of(300), new WalMarks(tmp).syncAcked(), "another reader sees it");
        assertFalse(Files.exists(f.resolveSibling("sync-acked.tmp")));
        // a later writer (the store reopened) goes on from what is there, never below it
        WalMarks again = new WalMarks(tmp);
        again.setSyncAcked(200);
        assertEquals(OptionalLong.of(300), again.syncAcked());
        again.setSyncAcked(301);
        assertEquals(OptionalLong.of(301), new WalMarks(tmp).syncAcked());
    }

    @Test
    void aTornMarkLeftByAPowerLossIsRewrittenWholeByTheNextAck() throws Exception {
        Path f = tmp.resolve(WalMarks.DIR_NAME).resolve("sync-acked");
        Files.createDirectories(f.getParent());
        Files.writeString(f, "00000000000", StandardCharsets.US_ASCII); // cut short, no newline
        WalMarks marks = new WalMarks(tmp);
        marks.setSyncAcked(9);
        assertEquals(Lsn.format(9) + "\n", Files.readString(f, StandardCharsets.US_ASCII));
        // longer garbage than one line: the rewrite leaves nothing of it behind
        Files.writeString(f, "0000000000000001\n0000000000000099\n", StandardCharsets.US_ASCII);
        WalMarks other = new WalMarks(tmp);
        other.setSyncAcked(10);
        assertEquals(Lsn.format(10) + "\n", Files.readString(f, StandardCharsets.US_ASCII));
        other.setSyncAcked(11);
        assertEquals(Lsn.format(11) + "\n", Files.readString(f, StandardCharsets.US_ASCII));
    }

    /** Whether this process has {@code f} open (Linux: /proc/self/fd). */
    private static boolean openHere(Path f) throws Exception {
        Path real = f.toRealPath();
        try (java.util.stream.Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.anyMatch(fd -> {
                try {
                    return Files.readSymbolicLink(fd).equals(real);
                } catch (Exception e) {
                    return false; // closed meanwhile
                }
            });
        }
    }

    @Test
    void aStoreClosesTheMarkItWrote() throws Exception {
        Path dir = tmp.resolve("store");
        Path mark = dir.resolve(WalMarks.DIR_NAME).resolve("sync-acked");
        try (Store s = Store.open(dir)) {
            s.put("k".getBytes(StandardCharsets.UTF_8), "v".getBytes(StandardCharsets.UTF_8));
            s.marks().setSyncAcked(s.lastLsn());
            assertTrue(openHere(mark), "kept open while the store runs");
        }
        assertFalse(openHere(mark), "closed with the store");
        try (Store s = Store.open(dir)) {
            assertEquals(OptionalLong.of(s.lastLsn()), s.marks().syncAcked());
        }
        WalMarks closed = new WalMarks(dir);
        closed.setSyncAcked(1_000);
        assertTrue(openHere(mark));
        closed.close();
        closed.setSyncAcked(1_001); // a commit answered while the store shuts down
        assertEquals(OptionalLong.of(1_001), new WalMarks(dir).syncAcked());
        assertFalse(openHere(mark), "nothing kept open after close");
    }
}
