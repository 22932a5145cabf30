package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.file.Path;
import java.util.List;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.PrunedWal;
import io.walship.restorer.Promotion;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code walship archive list} with a timeline that has no WAL (only its history record), and with gaps
 * that pruned-WAL records do and do not cover.
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
     * A gap between covered WAL that pruned-WAL records of a backup cover entirely is listed as a recorded
     * prune, not as a GAP; one they cover only in part, or not at all, is a GAP. (Retention leaves WAL
     * before such a gap only in unusual layouts; the listing reads keys only, so the objects here are
     * placeholders.)
     */
    @Test
    void aGapThatPrunedWalRecordsCoverIsListedAsARecordedPrune() {
        String archive = "file://" + tmp.resolve("archive");
        ArchiveLayout.BackupName b = new ArchiveLayout.BackupName(1, 0x10);
        try (ObjectStore s = ObjectStores.open(archive)) {
            for (long[] r : new long[][] {{0x1, 0x10}, {0x21, 0x30}, {0x41, 0x50}}) {
                s.create(new ArchiveLayout.SegmentName(1, r[0], r[1]).key(), new ByteArrayInputStream(new byte[] {1}));
            }
            // 0x11..0x20 recorded in two segments; 0x31..0x40 only in part
            PrunedWal.record(s, new ArchiveLayout.PrunedName(b, new ArchiveLayout.SegmentName(1, 0x11, 0x18)));
            PrunedWal.record(s, new ArchiveLayout.PrunedName(b, new ArchiveLayout.SegmentName(1, 0x19, 0x20)));
            PrunedWal.record(s, new ArchiveLayout.PrunedName(b, new ArchiveLayout.SegmentName(1, 0x31, 0x38)));
        }
        CliRunner.Result list = CliRunner.run("archive", "list", "--archive", archive);
        assertEquals(0, list.exit(), list.err());
        assertTrue(list.out().lines().anyMatch(l -> l.equals("  pruned     0000000000000011-0000000000000020  pruned after "
                + b.dir() + " (recorded)")), list.out());
        assertTrue(list.out().lines().anyMatch(l -> l.equals("  GAP        0000000000000031-0000000000000040")), list.out());
        CliRunner.Result json = CliRunner.run("archive", "list", "--archive", archive, "--json");
        assertEquals(0, json.exit(), json.err());
        assertTrue(json.out().contains("{\"from\":\"0000000000000011\",\"to\":\"0000000000000020\",\"prunedAfter\":\""
                + b.dir() + "\"}"), json.out());
        assertTrue(json.out().contains("{\"from\":\"0000000000000031\",\"to\":\"0000000000000040\"}"), json.out());
    }
}
