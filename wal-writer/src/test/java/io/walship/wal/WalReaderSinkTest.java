package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link WalReader#next(WalReader.Sink)}: the same entries and checks as {@link WalReader#next()}, read in place. */
class WalReaderSinkTest {
    @TempDir
    Path tmp;

    /** Appends entries one after another into one growing array, starting at an odd offset. */
    private static final class Appending implements WalReader.Sink {
        byte[] buf = new byte[16];
        int end = 7;

        @Override
        public byte[] room(int len) {
            if (end + len > buf.length) {
                buf = Arrays.copyOf(buf, Math.max(end + len, buf.length * 2));
            }
            return buf;
        }

        @Override
        public int offset() {
            return end;
        }
    }

    private static void fill(Path dir, int n) {
        try (Store store = Store.open(dir)) {
            for (int i = 0; i < n; i++) {
                store.put(("k" + i).getBytes(StandardCharsets.UTF_8), ("value-" + i).repeat(i % 40 + 1)
                        .getBytes(StandardCharsets.UTF_8));
            }
        }
    }

    @Test
    void readsTheSameEntriesInPlace() {
        Path dir = tmp.resolve("d");
        fill(dir, 300);
        List<byte[]> plain = new ArrayList<>();
        List<WalEntry> headers = new ArrayList<>();
        try (WalReader r = WalReader.open(dir)) {
            r.seek(r.firstAvailableLsn()).headersOnly();
            WalEntry e;
            while ((e = r.next()) != null) {
                plain.add(r.lastEntryBytes());
                headers.add(e);
            }
        }
        assertTrue(plain.size() >= 300, "entries: " + plain.size());
        Appending sink = new Appending();
        try (WalReader r = WalReader.open(dir)) {
            r.seek(r.firstAvailableLsn());
            for (int i = 0; i < plain.size(); i++) {
                WalEntry e = r.next(sink);
                assertEquals(headers.get(i), e);
                assertEquals(plain.get(i).length, e.encodedSize());
                assertArrayEquals(plain.get(i), Arrays.copyOfRange(sink.buf, sink.end, sink.end + e.encodedSize()));
                sink.end += e.encodedSize();
            }
            assertNull(r.next(sink), "the end of the WAL");
        }
    }

    @Test
    void aCorruptEntryIsReportedAsByNext() throws Exception {
        Path dir = tmp.resolve("d");
        fill(dir, 50);
        WalCorruptionTest.flipByteInEntry(dir, 20);
        Appending sink = new Appending();
        try (WalReader r = WalReader.open(dir)) {
            r.seek(1);
            IntegrityException e = assertThrows(IntegrityException.class, () -> {
                // each entry overwrites the one before: only the checks matter here
                for (WalEntry x = r.next(sink); x != null; x = r.next(sink)) {
                    assertTrue(x.lsn() < 20, "read past the corrupt entry: " + x.lsn());
                }
            });
            assertTrue(e.getMessage().contains("LSN " + Lsn.format(20)), e.getMessage());
        }
    }
}
