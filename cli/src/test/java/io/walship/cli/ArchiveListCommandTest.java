package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.file.Path;
import java.util.List;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.RetentionWatermark;
import io.walship.restorer.Promotion;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code walship archive list} with a timeline that has no WAL (only its history record), and with gaps
 * below and across a retention watermark.
 */
class ArchiveListCommandTest {
    @TempDir
    Path tmp;

    @Test
    void aTimelineWithNoWalEndsItsLineAndSaysSo() {
        String d = tmp.resolve("d").toString();
        String archive = "file://" + tmp.resolve("archive");
        for (int i = 0; i < 3; i++) {
            assertEquals(0, CliRunner.run("kv", "put", "--data", d, "k" + i, "v" + i).exit());
        }
        assertEquals(0, CliRunner.run("ship", "--data", d, "--archive", archive, "--once").exit());
        try (ObjectStore s = ObjectStores.open(archive)) {
            assertEquals(2, Promotion.claim(s, 1, 2, 0, "test: a promotion that never wrote"));
            assertEquals(3, Promotion.claim(s, 1, 3, 0, "test: another"));
        }
        CliRunner.Result list = CliRunner.run("archive", "list", "--archive", archive);
        assertEquals(0, list.exit(), list.err());
        List<String> lines = list.out().lines().toList();
        int t2 = lines.indexOf(lines.stream().filter(l -> l.startsWith("timeline 2 ")).findFirst().orElseThrow());
        assertTrue(lines.get(t2).endsWith(")"), list.out());
        assertEquals("  no WAL", lines.get(t2 + 1), list.out());
        assertTrue(lines.get(t2 + 2).startsWith("timeline 3 "), "the next timeline starts its own line: " + list.out());
        assertEquals("  no WAL", lines.get(lines.size() - 1), list.out());
        assertTrue(list.out().endsWith(System.lineSeparator()), "the output ends with a newline");
    }

    /**
     * A gap wholly below its timeline's retention watermark is listed as pruned by retention, not as a GAP;
     * one that reaches the watermark (here: straddles it) is a GAP, and so is a gap on a timeline without a
     * watermark. The listing of WAL reads keys only, so the segments here are placeholders.
     */
    @Test
    void aGapBelowTheRetentionWatermarkIsListedAsPrunedByRetention() {
        String archive = "file://" + tmp.resolve("archive");
        try (ObjectStore s = ObjectStores.open(archive)) {
            for (long[] r : new long[][] {{0x1, 0x10}, {0x21, 0x30}, {0x41, 0x50}}) {
                s.create(new ArchiveLayout.SegmentName(1, r[0], r[1]).key(), new ByteArrayInputStream(new byte[] {1}));
                s.create(new ArchiveLayout.SegmentName(2, r[0] + 0x100, r[1] + 0x100).key(), new ByteArrayInputStream(new byte[] {1}));
            }
            // timeline 1: retention deletes only below 0x35 (0x11..0x20 is below it, 0x31..0x40 is not all below)
            RetentionWatermark.create(s, new ArchiveLayout.WatermarkName(1, 0x35));
            RetentionWatermark.create(s, new ArchiveLayout.WatermarkName(1, 0x12)); // a lower one changes nothing
        }
        CliRunner.Result list = CliRunner.run("archive", "list", "--archive", archive);
        assertEquals(0, list.exit(), list.err());
        assertTrue(list.out().lines().anyMatch(l -> l.equals("  pruned     0000000000000011-0000000000000020  by retention"
                + " (below its window start 0000000000000035)")), list.out());
        assertTrue(list.out().lines().anyMatch(l -> l.equals("  GAP        0000000000000031-0000000000000040")), list.out());
        assertTrue(list.out().lines().anyMatch(l -> l.equals("  GAP        0000000000000111-0000000000000120")),
                "timeline 2 has no watermark: " + list.out());
        CliRunner.Result json = CliRunner.run("archive", "list", "--archive", archive, "--json");
        assertEquals(0, json.exit(), json.err());
        assertTrue(json.out().contains("{\"from\":\"0000000000000011\",\"to\":\"0000000000000020\",\"prunedBelow\":"
                + "\"0000000000000035\"}"), json.out());
        assertTrue(json.out().contains("{\"from\":\"0000000000000031\",\"to\":\"0000000000000040\"}"), json.out());
    }
}
