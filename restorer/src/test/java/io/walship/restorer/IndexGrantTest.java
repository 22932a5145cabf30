package io.walship.restorer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.zip.CRC32C;

import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review (2) of restore-fast: while a segment downloads, its grant holds room for the largest
 * index its body could need (4 bytes per 9 of body, 44%), although WAL of full-page images needs
 * under 1%. Segments that fit the budget side by side on main (body bytes only) then no longer
 * do: the next one waits for the consumer to release the one it applies, and the prefetch that
 * restore-fast relies on is lost (with the default 64 MiB budget and 16 MiB segments, two
 * downloads at once instead of three).
 */
class IndexGrantTest {
    @TempDir
    Path tmp;

    /** An entry (docs/FORMAT.md, version 1) of one full-page image without a hole. */
    private static byte[] entryOfOnePage(long lsn, SplittableRandom r) {
        ByteBuffer b = ByteBuffer.allocate(32 + 9 + 4096 + 4);
        b.putInt(0x57535745).putShort((short) 1).putShort((short) 0).putLong(lsn).putInt(1).putLong(1_000_000L * lsn)
                .putInt(1);
        byte[] page = new byte[4096];
        r.nextBytes(page);
        b.put((byte) 2).putInt(1 + r.nextInt(100_000)).putShort((short) 0).putShort((short) 0).put(page);
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, b.position());
        b.putInt((int) crc.getValue());
        return b.array();
    }

    private static String segment(ObjectStore archive, long first, int entries, SplittableRandom r) throws Exception {
        return TestSegments.write(archive, Codec.NONE, first, entries, lsn -> entryOfOnePage(lsn, r)).key();
    }

    @Test
    void aSegmentOfPageImagesFetchesAheadBesideTheOneApplied() throws Exception {
        long seed = 41;
        System.out.println("IndexGrantTest seed " + seed);
        SplittableRandom r = new SplittableRandom(seed);
        ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"));
        int entries = 500; // about 2 MiB of body each
        String a = segment(archive, 100, entries, r);
        String b = segment(archive, 100 + entries, entries, r);
        long size = archive.head(a).orElseThrow().size();
        long sizeB = archive.head(b).orElseThrow().size();

        // room for two bodies and a quarter of one: what main needed for both, with room to spare
        long body = (long) entries * (4 + 32 + 9 + 4096 + 4);
        SegmentPrefetcher.ByteBudget budget = new SegmentPrefetcher.ByteBudget(body * 9 / 4);
        SegmentPrefetcher.Decoded applying = SegmentPrefetcher.fetch(archive, a, size, budget, 0, null, true);
        System.out.println("budget " + (body * 9 / 4) + " bytes; the segment being applied holds " + budget.used()
                + " (its body " + applying.body().length + ", index " + ChangeIndexBudgetTest.indexBytes(applying.changes())
                + ")");
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            CompletableFuture<SegmentPrefetcher.Decoded> ahead = CompletableFuture.supplyAsync(
                    () -> SegmentPrefetcher.fetch(archive, b, sizeB, budget, 1, null, true), pool);
            try {
                // generous on a loaded box: the fetch itself takes well under a second
                SegmentPrefetcher.Decoded next = ahead.get(60, TimeUnit.SECONDS);
                assertEquals(entries, next.count());
            } catch (TimeoutException e) {
                budget.release(applying.granted()); // let it go, so that the test ends
                ahead.get(60, TimeUnit.SECONDS);
                fail("the next " + (body >> 10) + " KiB segment of page images (index under 1%) waited for the one being"
                        + " applied to be released, in a budget of " + ((body * 9 / 4) >> 10) + " KiB that holds both"
                        + " bodies and indexes: its grant while downloading counts an index of 4 bytes per 9 of body");
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
