package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of branch encrypt (5c47bcd): a sealed ranged read now asks one byte past its chunks. A
 * range that ends before the object's end therefore leaves that byte unread when the caller has
 * all its bytes, and closing the stream then aborts the response (ObjectStores.abandon) instead
 * of closing it: on S3 every such range drops its pooled HTTP connection. ParallelGet (restore,
 * verify) reads backup images in 1-8 MiB parts, all but the last ending before the object's end,
 * so each part now costs a new TCP/TLS connection. Before 5c47bcd these reads saw the end of
 * their response and closed it normally.
 */
class EncryptedRangeConnectionTest {
    static final long SEED = Long.getLong("walship.seed", System.nanoTime());
    static final String IMG = "backups/00000001-0000000000000001/image";

    @TempDir
    Path tmp;

    /** Counts responses aborted, as an S3 response (Abortable) would be. */
    static final class AbortCounting extends ForwardingObjectStore {
        final AtomicInteger aborted = new AtomicInteger();
        final AtomicInteger opened = new AtomicInteger();

        AbortCounting(ObjectStore inner) {
            super(inner);
        }

        @Override
        public InputStream getRange(String key, long offset, long length) {
            opened.incrementAndGet();
            return new Response(inner.getRange(key, offset, length));
        }

        final class Response extends FilterInputStream implements software.amazon.awssdk.http.Abortable {
            Response(InputStream in) {
                super(in);
            }

            @Override
            public void abort() {
                aborted.incrementAndGet();
            }
        }
    }

    private AbortCounting counting;
    private ObjectStore enc;
    private byte[] plain;

    private void fourChunkImage() {
        System.out.println("EncryptedRangeConnectionTest seed " + SEED);
        byte[] k = new byte[32];
        Arrays.fill(k, (byte) 0x22);
        counting = new AbortCounting(new LocalObjectStore(tmp.resolve("a")));
        enc = new EncryptedObjectStore(counting, EncryptionKeys.of(List.of(k)));
        plain = new byte[3 * Sealed.CHUNK + 100];
        new Random(SEED).nextBytes(plain);
        enc.create(IMG, new ByteArrayInputStream(plain));
    }

    @Test
    void aMiddleRangeReadToItsEndIsClosedNotAborted() throws IOException {
        fourChunkImage();
        long off = Sealed.CHUNK;
        int len = Sealed.CHUNK; // exactly chunk 1, as a ParallelGet part at a chunk boundary
        byte[] got;
        try (InputStream in = enc.getRange(IMG, off, len)) {
            got = in.readAllBytes();
        }
        assertArrayEquals(Arrays.copyOfRange(plain, (int) off, (int) off + len), got);
        assertEquals(0, counting.aborted.get(),
                "a range read to its end was aborted (its S3 connection dropped) instead of closed");
    }

    @Test
    void aParallelGetDropsNoConnection() throws IOException {
        fourChunkImage();
        long size = enc.head(IMG).orElseThrow().size();
        byte[] got;
        try (InputStream in = new ParallelGet(enc, IMG, size, 2, Sealed.CHUNK)) {
            got = in.readAllBytes();
        }
        assertArrayEquals(plain, got);
        assertEquals(0, counting.aborted.get(), counting.aborted.get() + " of " + counting.opened.get()
                + " ranged responses of a ParallelGet read in full were aborted (S3 connections dropped)");
    }
}
