package io.walship.restorer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.Segment;
import io.walship.archive.StorageException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of restore-fast: the prefetcher refuses a segment whose body is more than half the heap
 * with one clear line naming the -Xmx to use, and admits anything smaller. With the
 * {@link io.walship.wal.ChangeIndex} beside the body (unbudgeted, up to twice the body for small
 * deltas, grown by doubling), a body well under half the heap runs the JVM out of memory instead:
 * an OutOfMemoryError, not the documented message and exit code. main fetches the same segment
 * in the same heap.
 */
class ChangeIndexHeapTest {
    @TempDir
    Path tmp;

    /** Child JVM: fetches one segment as a restore's worker does, prints "ok" or the refusal. */
    public static void main(String[] args) throws Exception {
        ObjectStore archive = ObjectStores.open(args[0]);
        try {
            SegmentPrefetcher.Decoded d = SegmentPrefetcher.fetch(archive, args[1], Long.parseLong(args[2]),
                    new SegmentPrefetcher.ByteBudget(64 << 20), 0, null);
            System.out.println("ok " + d.count() + " entries");
            System.exit(0);
        } catch (StorageException e) {
            System.out.println("refused: " + e.getMessage());
            System.exit(1);
        }
    }

    @Test
    void aSegmentUnderHalfTheHeapIsFetchedOrRefusedNotAnOutOfMemoryError() throws Exception {
        long seed = 20261203L;
        System.out.println("ChangeIndexHeapTest seed " + seed);
        SplittableRandom r = new SplittableRandom(seed);
        // a 24 MiB body (a 64 MiB heap admits up to ~32 MiB) of entries of 100 one-byte deltas
        Segment.Builder seg = new Segment.Builder(Segment.NO_SYSTEM_ID, 1, Codec.ZSTD);
        long first = 100;
        int entries = 24 * 1024 * 1024 / 1040;
        for (int i = 0; i < entries; i++) {
            long lsn = first + i;
            seg.add(lsn, 1_000_000L * lsn, ChangeIndexBudgetTest.entryOfTinyDeltas(lsn, 100, r));
        }
        byte[] object = seg.build();
        String uri = "file://" + tmp.resolve("archive");
        String key = new ArchiveLayout.SegmentName(1, first, first + entries - 1).key();
        try (ObjectStore archive = ObjectStores.open(uri)) {
            archive.create(key, new java.io.ByteArrayInputStream(object));
        }

        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx64m");
        String flags = System.getProperty("walship.jvm.flags", "");
        for (String f : flags.split("\\s+")) {
            if (!f.isBlank()) {
                cmd.add(f);
            }
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), ChangeIndexHeapTest.class.getName(), uri, key,
                Long.toString(object.length)));
        Path out = tmp.resolve("child.out");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
        assertTrue(p.waitFor(180, TimeUnit.SECONDS), "the child fetch did not end within 180 s");
        String text = Files.readString(out, StandardCharsets.UTF_8);
        System.out.println("child exit " + p.exitValue() + ":\n" + text);
        assertFalse(text.contains("OutOfMemoryError"), "a " + (seg.bodyBytes() >> 20) + " MiB body in a 64 MiB heap"
                + " (the check admits up to half of it) ran the fetch out of memory:\n" + text);
        assertEquals(0, p.exitValue(), text);
    }
}
