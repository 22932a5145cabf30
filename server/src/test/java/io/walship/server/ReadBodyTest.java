package io.walship.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.io.ByteArrayInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

/**
 * A request body read into an array sized by its {@code Content-Length} is what reading it without
 * a length gave ({@code readNBytes(MAX_BODY + 1)}), also when the length lies: a body that ends
 * earlier, goes on after it, or is over the limit.
 */
class ReadBodyTest {
    private static final int MAX = HttpApi.MAX_BODY;

    /** A stream of {@code bytes} that hands out at most {@code step} bytes a read (as a network does). */
    private static InputStream dribble(byte[] bytes, int step) {
        // a plain InputStream (not ByteArrayInputStream, whose readNBytes reads once, not to the end)
        return new FilterInputStream(new ByteArrayInputStream(bytes)) {
            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                return super.read(b, off, Math.min(len, step));
            }
        };
    }

    private static void same(byte[] body, long announced, int step) throws IOException {
        byte[] expected = dribble(body, step).readNBytes(MAX + 1);
        byte[] got = HttpApi.readBody(dribble(body, step), announced);
        assertArrayEquals(expected, got, () -> body.length + " bytes announced as " + announced + ", " + step + " a read");
    }

    private static byte[] bytes(SplittableRandom random, int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) random.nextInt(256);
        }
        return b;
    }

    /**
     * A client that announces a large body and sends little gets no array of the announced size
     * (each request thread would hold up to 4 MiB for it): past {@link HttpApi#PRESIZED_BODY} the
     * body is read as it arrives. Seen through the one read the stream is asked for: no read of
     * more than 64 KiB at once.
     */
    @Test
    void aLargeAnnouncedLengthIsNotAllocatedUpFront() throws IOException {
        int[] largest = {0};
        InputStream in = new FilterInputStream(new ByteArrayInputStream(new byte[10])) {
            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                largest[0] = Math.max(largest[0], b.length);
                return super.read(b, off, len);
            }
        };
        assertArrayEquals(new byte[10], HttpApi.readBody(in, MAX));
        org.junit.jupiter.api.Assertions.assertTrue(largest[0] <= HttpApi.PRESIZED_BODY,
                "read into an array of " + largest[0] + " bytes for a 10-byte body announced as " + MAX);
    }

    @Test
    void bodiesOfTheAnnouncedLengthOrNotReadAsWithoutOne() throws IOException {
        long seed = System.nanoTime();
        System.out.println("ReadBodyTest seed " + seed);
        SplittableRandom random = new SplittableRandom(seed);
        int pre = HttpApi.PRESIZED_BODY;
        for (int n : new int[] {0, 1, 100, 8191, 8192, 8193, pre - 1, pre, pre + 1, MAX - 1, MAX, MAX + 1, MAX + 100_000}) {
            byte[] body = bytes(random, n);
            for (long announced : new long[] {-1, 0, 1, n - 1L, n, n + 1L, pre - 1L, pre, pre + 1L, MAX - 1L, MAX, MAX + 1L,
                    Long.MAX_VALUE}) {
                same(body, announced, 1 << 20);
                same(body, announced, 1 + random.nextInt(20_000));
            }
        }
        for (int i = 0; i < 500; i++) {
            byte[] body = bytes(random, random.nextInt(3_000));
            long announced = random.nextInt(4) == 0 ? -1 : random.nextInt(3_000);
            same(body, announced, 1 + random.nextInt(64));
        }
    }
}
