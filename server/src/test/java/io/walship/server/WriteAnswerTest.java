package io.walship.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import io.walship.protocol.Json;
import io.walship.protocol.WriteResponse;
import io.walship.wal.Lsn;

/**
 * A write's answer, made without Jackson, is byte for byte what Jackson wrote for a
 * {@link WriteResponse} (plus the line end), and its LSN what {@link Lsn#format} writes: the
 * {@code Walship-LSN} header and the body of every PUT, DELETE and batch come from it.
 */
class WriteAnswerTest {
    private static void same(long lsn) {
        WriteAnswer a = new WriteAnswer(lsn);
        byte[] jackson = (Json.write(new WriteResponse(Lsn.format(lsn))) + "\n").getBytes(StandardCharsets.UTF_8);
        assertArrayEquals(jackson, a.body, () -> "LSN " + lsn + ": " + new String(a.body, StandardCharsets.UTF_8));
        assertEquals(Lsn.format(lsn), a.lsn, () -> "LSN " + lsn);
    }

    @Test
    void edgesAreWrittenAsJacksonAndLsnFormatWriteThem() {
        for (long lsn : new long[] {0, 1, 9, 10, 15, 16, 42, 0xABCDEFL, 0xFFFFFFFFL, 0x100000000L,
                Long.MAX_VALUE, Long.MIN_VALUE, -1, -2, 0x0123456789ABCDEFL, 0xFEDCBA9876543210L}) {
            same(lsn);
        }
        for (int shift = 0; shift < 64; shift++) {
            same(1L << shift);
            same((1L << shift) - 1);
        }
    }

    @Test
    void randomLsnsAreWrittenAsJacksonAndLsnFormatWriteThem() {
        long seed = System.nanoTime();
        System.out.println("WriteAnswerTest seed " + seed);
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < 20_000; i++) {
            long lsn = random.nextLong();
            same(lsn >>> random.nextInt(64)); // small LSNs as often as large ones
        }
    }

    @Test
    void eachAnswerHasItsOwnBytes() {
        WriteAnswer a = new WriteAnswer(1);
        new WriteAnswer(2);
        assertEquals("{\"lsn\":\"0000000000000001\"}\n", new String(a.body, StandardCharsets.US_ASCII));
    }
}
