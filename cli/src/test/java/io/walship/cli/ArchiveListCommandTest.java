package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;

import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.restorer.Promotion;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code walship archive list} with a timeline that has no WAL (only its history record). */
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
}
