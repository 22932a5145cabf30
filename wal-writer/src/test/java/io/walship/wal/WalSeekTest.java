package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Seeking costs a few reads wherever it lands, including one past the last entry. */
class WalSeekTest {
    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void seekingOnePastTheEndReadsAFewEntriesNotTheWholeCycle() {
        Path dir = tmp.resolve("store");
        long last;
        try (Store store = Store.open(dir)) {
            for (int i = 0; i < 3000; i++) {
                store.put(b("k" + i), b("v" + i), Durability.ASYNC);
            }
            last = store.lastLsn();
        }
        try (WalReader r = WalReader.open(dir)) {
            for (long lsn : new long[] {1, 2, last / 2, last, last + 1}) {
                WalLog log = r.log();
                long before = log.seekReads();
                r.seek(lsn);
                long cost = log.seekReads() - before;
                assertTrue(cost <= 3, "seek to " + lsn + " of " + last + " read " + cost + " entries");
                if (lsn <= last) {
                    WalEntry e = r.next();
                    assertNotNull(e, "entry " + lsn);
                    assertEquals(lsn, e.lsn());
                } else {
                    assertNull(r.next(), "nothing past the end");
                }
            }
        }
        // and a reader placed one past the end reads what is appended next
        try (WalReader r = WalReader.open(dir)) {
            r.seek(last + 1);
            try (Store store = Store.open(dir)) {
                store.put(b("next"), b("x"));
                long next = store.lastLsn();
                assertTrue(next > last);
            }
            WalEntry e = r.next();
            assertNotNull(e, "the entry appended after the seek");
            assertEquals(last + 1, e.lsn());
        }
    }
}
