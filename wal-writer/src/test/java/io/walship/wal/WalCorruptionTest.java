package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.queue.RollCycles;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Torn tails (past the durable point) are cut off; corruption at or before it refuses to open, naming the LSN. */
public class WalCorruptionTest {
    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Writes {@code n} commits and leaves the store as a crash would (no checkpoint since creation). */
    private static long writeAndAbandon(Path dir, int n) {
        Store store = Store.open(dir);
        for (int i = 0; i < n; i++) {
            store.put(b("k" + i), b("value-" + i));
        }
        long last = store.lastLsn();
        store.abandonForTesting();
        return last;
    }

    private static void appendRaw(Path dir, byte[] document) {
        try (SingleChronicleQueue q = SingleChronicleQueueBuilder.binary(dir.resolve(WalLog.DIR_NAME).toFile())
                .rollCycle(RollCycles.FAST_HOURLY).build();
             ExcerptAppender a = q.createAppender()) {
            a.writeBytes(Bytes.wrapForRead(document));
        }
    }

    @Test
    void tornLastEntryIsCutOff() {
        Path dir = tmp.resolve("d");
        long last = writeAndAbandon(dir, 50);
        byte[] full = EntryCodec.encode(last + 1, 1, 1L, List.of(new PageChange(1, 40, new byte[300], false)));
        appendRaw(dir, Arrays.copyOf(full, full.length / 2)); // a write cut short by power loss

        try (Store store = Store.open(dir)) {
            assertEquals(last, store.lastLsn(), "the torn entry was never acknowledged");
            assertEquals(last + 1, store.put(b("after"), b("crash")), "its LSN is reused");
            assertEquals("value-49", new String(store.get(b("k49")), StandardCharsets.UTF_8));
        }
        // a reader from the start sees a continuous log: the torn entry is gone from the WAL
        PageImage image = PageImage.replayWal(dir);
        assertEquals(last + 1, image.lsn());
    }

    @Test
    void corruptEntryInTheMiddleRefusesToOpenAndNamesTheLsn() throws Exception {
        Path dir = tmp.resolve("d");
        writeAndAbandon(dir, 100);
        long victim = 50;
        flipByteInEntry(dir, victim);

        IntegrityException e = assertThrows(IntegrityException.class, () -> Store.open(dir));
        assertTrue(e.getMessage().contains(Lsn.format(victim)), e.getMessage());
        try (WalReader r = WalReader.open(dir)) {
            r.seek(1);
            IntegrityException e2 = assertThrows(IntegrityException.class, () -> {
                while (r.next() != null) {
                    // read up to the bad entry
                }
            });
            assertTrue(e2.getMessage().contains(Lsn.format(victim)), e2.getMessage());
        }
        // nothing was changed by the refused open: the lock is free, the data is as it was
        assertThrows(IntegrityException.class, () -> Store.open(dir));
    }

    @Test
    void aGapPastTheDurablePointIsTheEndOfTheWal() {
        Path dir = tmp.resolve("d");
        long last = writeAndAbandon(dir, 20);
        byte[] skip = EntryCodec.encode(last + 2, 1, 1L, List.of(new PageChange(1, 40, new byte[3], false)));
        appendRaw(dir, skip);
        try (Store store = Store.open(dir)) {
            assertEquals(last, store.lastLsn(), "an entry after a gap past the durable point was never acknowledged");
        }
    }

    @Test
    void aGapAtOrBeforeTheDurablePointRefusesToOpen() {
        Path dir = tmp.resolve("d");
        long last = writeAndAbandon(dir, 20);
        byte[] skip = EntryCodec.encode(last + 2, 1, 1L, List.of(new PageChange(1, 40, new byte[3], false)));
        appendRaw(dir, skip);
        WalSurgery.setDurablePoint(dir, last + 2);
        IntegrityException e = assertThrows(IntegrityException.class, () -> Store.open(dir));
        assertTrue(e.getMessage().contains("LSN " + Lsn.format(last + 1)) && e.getMessage().contains("a gap"),
                e.getMessage());
    }

    /** Finds the entry's header in the queue file and flips one byte of its page data. */
    public static void flipByteInEntry(Path dir, long lsn) throws Exception {
        byte[] header = ByteBuffer.allocate(16).putInt(EntryCodec.MAGIC).putShort((short) EntryCodec.FORMAT_VERSION)
                .putShort((short) 0).putLong(lsn).array();
        try (Stream<Path> files = Files.list(dir.resolve(WalLog.DIR_NAME))) {
            for (Path f : files.filter(p -> p.toString().endsWith(".cq4")).toList()) {
                byte[] data = Files.readAllBytes(f);
                for (int i = 0; i + header.length < data.length; i++) {
                    if (Arrays.equals(data, i, i + header.length, header, 0, header.length)) {
                        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
                            int at = i + EntryCodec.HEADER_SIZE + 6;
                            ch.write(ByteBuffer.wrap(new byte[] {(byte) (data[at] ^ 0x55)}), at);
                        }
                        return;
                    }
                }
            }
        }
        throw new AssertionError("entry " + lsn + " not found");
    }
}
