package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import io.walship.wal.StateDigest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code walship bench dataset} writes the operations {@code bench restore-memory} applies, so that
 * another system (SQLite under Litestream, in scripts/bench-peers.sh) is loaded with the very same
 * ones: a store built from the files holds the same content as one built from the seed, the same
 * seed gives the same files, and a malformed line is refused with its file and line number.
 */
class BenchDatasetTest {
    @TempDir
    Path tmp;

    @Test
    void theFilesHoldTheOperationsOfTheSeed() throws Exception {
        long seed = 42;
        System.out.println("BenchDatasetTest seed " + seed);
        Path files = tmp.resolve("ops");
        CliRunner.Result r = CliRunner.run("bench", "dataset", "--out", files.toString(), "--rows", "1200",
                "--value-size", "100", "--updates", "2500", "--seed", Long.toString(seed));
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("wrote 1200 rows and 2500 updates"), r.out());
        List<String> rows = Files.readAllLines(files.resolve(RestoreMemoryBench.ROWS_FILE));
        List<String> updates = Files.readAllLines(files.resolve(RestoreMemoryBench.UPDATES_FILE));
        assertEquals(1200, rows.size());
        assertEquals(2500, updates.size());
        assertTrue(rows.get(0).matches("k000000000\t[A-Za-z0-9+/]{100}"), rows.get(0));
        assertTrue(updates.stream().allMatch(l -> l.matches("k\\d{9}\t[A-Za-z0-9+/]{100}")));
        assertTrue(updates.stream().map(l -> l.substring(0, 10)).distinct().count() < 2500,
                "updates draw rows at random, so some rows are updated more than once");

        StringWriter log = new StringWriter();
        StateDigest fromFiles = RestoreMemoryBench.build(tmp.resolve("a"), RestoreMemoryBench.fromFiles(files),
                new PrintWriter(log)).digest();
        StateDigest fromSeed = RestoreMemoryBench.build(tmp.resolve("b"),
                RestoreMemoryBench.generated(1200, 100, 2500, seed), new PrintWriter(log)).digest();
        assertEquals(fromSeed.sha256(), fromFiles.sha256(), log.toString());
        assertEquals(fromSeed.lsn(), fromFiles.lsn());
        assertEquals(1200L, fromFiles.pairs());

        Path again = tmp.resolve("again");
        assertEquals(0, CliRunner.run("bench", "dataset", "--out", again.toString(), "--rows", "1200",
                "--value-size", "100", "--updates", "2500", "--seed", Long.toString(seed)).exit());
        assertArrayEquals(Files.readAllBytes(files.resolve(RestoreMemoryBench.UPDATES_FILE)),
                Files.readAllBytes(again.resolve(RestoreMemoryBench.UPDATES_FILE)), "same seed, same updates");
        Path other = tmp.resolve("other");
        assertEquals(0, CliRunner.run("bench", "dataset", "--out", other.toString(), "--rows", "1200",
                "--value-size", "100", "--updates", "2500", "--seed", Long.toString(seed + 1)).exit());
        assertFalse(Files.readString(files.resolve(RestoreMemoryBench.ROWS_FILE))
                .equals(Files.readString(other.resolve(RestoreMemoryBench.ROWS_FILE))), "another seed, other values");
    }

    @Test
    void buildOnlyKeepsTheStoreAndItsArchive() throws Exception {
        Path files = tmp.resolve("ops");
        assertEquals(0, CliRunner.run("bench", "dataset", "--out", files.toString(), "--rows", "300",
                "--value-size", "50", "--updates", "40").exit());
        Path data = tmp.resolve("data");
        CliRunner.Result r = CliRunner.run("bench", "restore-memory", "--data", data.toString(), "--dataset",
                files.toString(), "--build-only");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("built 300 rows, a base backup, 40 updates"), r.out());
        assertTrue(Files.isRegularFile(data.resolve("source").resolve("pages.dat")));
        assertTrue(Files.isDirectory(data.resolve("archive")));
    }

    @Test
    void aMalformedLineIsRefusedWithItsPlace() throws Exception {
        Path files = tmp.resolve("ops");
        Files.createDirectories(files);
        Files.writeString(files.resolve(RestoreMemoryBench.ROWS_FILE), "k1\tv1\nk2 v2\n");
        Files.writeString(files.resolve(RestoreMemoryBench.UPDATES_FILE), "");
        CliRunner.Result r = CliRunner.run("bench", "restore-memory", "--data", tmp.resolve("data").toString(),
                "--dataset", files.toString(), "--build-only");
        assertEquals(ExitCodes.USAGE, r.exit(), r.out() + r.err());
        assertTrue(r.err().contains(RestoreMemoryBench.ROWS_FILE + ":2:"), r.err());
        assertFalse(Files.exists(tmp.resolve("data").resolve("source")), "a failed build leaves nothing behind");
    }
}
