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
 * Review of restore-fast: a segment whose body is under half the heap is fetched, as on main: with
 * the {@link io.walship.wal.ChangeIndex} a restore keeps beside it if body and index fit in half
 * the heap, else without one (the restore parses its entries again, as main did) — never refused
 * for its index, never an OutOfMemoryError (a body under half the heap once ran the JVM out of
 * memory: the index, unbudgeted and grown by doubling, took up to twice the body). A corrupt
 * entry in such a segment is reported as corruption naming the object (exit 3), as on main.
 */
class ChangeIndexHeapTest {
    @TempDir
    Path tmp;

    /** Child JVM: fetches one segment as a restore's worker does, prints "ok" or the refusal. */
    public static void main(String[] args) throws Exception {
        ObjectStore archive = ObjectStores.open(args[0]);
        try {
            SegmentPrefetcher.Decoded d = SegmentPrefetcher.fetch(archive, args[1], Long.parseLong(args[2]),
                    new SegmentPrefetcher.ByteBudget(64 << 20), 0, null, true);
            System.out.println("ok " + d.count() + " entries, " + (d.indexed() ? "indexed" : "not indexed"));
            System.exit(0);
        } catch (io.walship.archive.CorruptObjectException e) {
            System.out.println("corrupt: " + e.getMessage());
            System.exit(3);
        } catch (StorageException e) {
            System.out.println("refused: " + e.getMessage());
            System.exit(1);
        }
    }

    @Test
    void aSegmentUnderHalfTheHeapWhoseIndexDoesNotFitIsFetchedWithoutOne() throws Exception {
        // a 24 MiB body (a 64 MiB heap admits up to ~32 MiB): 9.6 MiB of index for its one-byte
        // deltas takes it over, so it is fetched without an index, as main fetched it
        String text = fetchInAChild(24, false);
        assertTrue(text.lines().anyMatch(l -> l.startsWith("ok ") && l.endsWith(", not indexed")), text);
    }

    @Test
    void aCorruptSegmentWhoseIndexDoesNotFitIsReportedCorrupt() throws Exception {
        // the same band: a damaged entry is corruption naming the object (exit 3), not a refusal
        String text = fetchInAChild(24, true);
        assertTrue(text.lines().anyMatch(l -> l.startsWith("corrupt: archive object wal/") && l.contains(" is corrupt: ")),
                text);
    }

    @Test
    void aSegmentWhoseBodyAndIndexFitInHalfTheHeapIsFetched() throws Exception {
        // 20 MiB of body and 8 MiB of index: under half of 64 MiB, so it must be fetched with its index
        String text = fetchInAChild(20, false);
        assertTrue(text.lines().anyMatch(l -> l.startsWith("ok ") && l.endsWith(", indexed")), text);
    }

    /**
     * Fetches a segment of {@code mib} MiB of one-byte deltas in a 64 MiB child JVM (with one
     * entry's byte flipped if {@code damaged}); its output.
     */
    private String fetchInAChild(int mib, boolean damaged) throws Exception {
        long seed = 20261203L;
        System.out.println("ChangeIndexHeapTest seed " + seed);
        SplittableRandom r = new SplittableRandom(seed);
        // entries of 100 one-byte deltas
        Segment.Builder seg = new Segment.Builder(Segment.NO_SYSTEM_ID, 1, Codec.ZSTD);
        long first = 100;
        int entries = mib * 1024 * 1024 / 1040;
        for (int i = 0; i < entries; i++) {
            long lsn = first + i;
            byte[] e = ChangeIndexBudgetTest.entryOfTinyDeltas(lsn, 100, r);
            if (damaged && i == entries / 2) {
                e[32 + 9] ^= 0x5A; // its first delta's byte: the entry's checksum no longer matches
            }
            seg.add(lsn, 1_000_000L * lsn, e);
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
        assertEquals(text.lines().anyMatch(l -> l.startsWith("ok ")) ? 0 : text.lines().anyMatch(l -> l.startsWith("corrupt: "))
                ? 3 : 1, p.exitValue(), text);
        return text;
    }
}
