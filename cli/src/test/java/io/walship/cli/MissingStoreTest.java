package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A {@code --data} that is not a store is a mistyped path: the commands that only read a stopped
 * store say so and create nothing. {@code backup --data} above all: it created an empty store
 * there, with a system ID of its own, and uploaded its base backup into the archive, where the real
 * store's shipper would then find another store's history.
 */
class MissingStoreTest {
    @TempDir
    Path tmp;

    private void assertNotAStore(Path dir, String... args) {
        CliRunner.Result r = CliRunner.run(args);
        assertEquals(ExitCodes.FAILURE, r.exit(), String.join(" ", args) + ": " + r.err());
        assertTrue(r.err().contains(dir + " is not a walship data directory (no control file)"), r.err());
        assertEquals(1, r.err().lines().filter(l -> l.startsWith("walship: error:")).count(), r.err());
    }

    @Test
    void readsOfAStoppedStoreNeedOne() throws Exception {
        Path missing = tmp.resolve("no-such");
        Path empty = Files.createDirectory(tmp.resolve("empty"));
        for (Path dir : new Path[] {missing, empty}) {
            String d = dir.toString();
            assertNotAStore(dir, "kv", "get", "--data", d, "k");
            assertNotAStore(dir, "kv", "scan", "--data", d, "--from", "a");
            assertNotAStore(dir, "kv", "dump", "--data", d);
            assertNotAStore(dir, "kv", "digest", "--data", d);
        }
        assertFalse(Files.exists(missing), "a read created " + missing);
        try (Stream<Path> s = Files.list(empty)) {
            assertEquals(0, s.count(), "a read wrote into " + empty);
        }
    }

    @Test
    void backupOfAPathThatIsNotAStoreUploadsNothing() throws Exception {
        Path missing = tmp.resolve("typo");
        Path archive = tmp.resolve("archive");
        assertNotAStore(missing, "backup", "--data", missing.toString(), "--archive", archive.toUri().toString());
        assertFalse(Files.exists(missing), "backup created " + missing);
        try (Stream<Path> s = Files.exists(archive) ? Files.walk(archive) : Stream.empty()) {
            assertEquals(0, s.filter(Files::isRegularFile).count(), "backup uploaded something of a store that is not there");
        }
    }

    /** Two services pointed at one archive: the second one's backup is refused before it uploads anything. */
    @Test
    void backupOfAnotherStoreIntoAnArchiveOfThisOnesWalIsExit3() throws Exception {
        Path a = tmp.resolve("a");
        Path b = tmp.resolve("b");
        String archive = tmp.resolve("archive").toUri().toString();
        assertEquals(0, CliRunner.run("kv", "put", "--data", a.toString(), "k", "a").exit());
        CliRunner.Result shipped = CliRunner.run("ship", "--once", "--data", a.toString(), "--archive", archive);
        assertEquals(0, shipped.exit(), shipped.err());
        assertEquals(0, CliRunner.run("kv", "put", "--data", b.toString(), "k", "b").exit());
        CliRunner.Result r = CliRunner.run("backup", "--data", b.toString(), "--archive", archive);
        assertEquals(ExitCodes.INTEGRITY, r.exit(), r.err());
        assertTrue(r.err().contains("another store's archive"), r.err());
        // a new timeline of this store (the hint for a split history) would not help here
        assertTrue(r.err().contains("hint: the archive belongs to another store"), r.err());
        assertFalse(r.err().contains("--promote"), r.err());
        assertEquals(1, r.err().lines().filter(l -> l.startsWith("walship: error:")).count(), r.err());
        assertFalse(Files.exists(tmp.resolve("archive").resolve("backups")), "backup uploaded another store's image");
        CliRunner.Result own = CliRunner.run("backup", "--data", a.toString(), "--archive", archive);
        assertEquals(0, own.exit(), own.err());
    }

    @Test
    void putStillCreatesAStore() {
        Path dir = tmp.resolve("new");
        assertEquals(0, CliRunner.run("kv", "put", "--data", dir.toString(), "k", "v").exit());
        CliRunner.Result r = CliRunner.run("kv", "get", "--data", dir.toString(), "k");
        assertEquals(0, r.exit(), r.err());
        assertEquals("v", r.out().trim());
    }
}
