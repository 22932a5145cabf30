package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A local archive that does not exist is a mistyped {@code --archive}, like a missing bucket: the
 * commands that read an archive say so in one line with exit 2 and create nothing, instead of
 * creating an empty archive directory at the typo and calling it empty (exit 3).
 */
class MissingArchiveDirectoryTest {
    @TempDir
    Path tmp;

    private void assertRefusedAndNotCreated(String... args) {
        Path missing = tmp.resolve("no-such").resolve("archive");
        String uri = missing.toUri().toString();
        String[] full = new String[args.length + 2];
        System.arraycopy(args, 0, full, 0, args.length);
        full[args.length] = "--archive";
        full[args.length + 1] = uri;
        CliRunner.Result r = CliRunner.run(full);
        assertEquals(ExitCodes.USAGE, r.exit(), String.join(" ", full) + ": " + r.err());
        assertTrue(r.err().contains("archive directory " + missing + " does not exist"), r.err());
        assertEquals(1, r.err().lines().filter(l -> l.startsWith("walship: error:")).count(), r.err());
        assertFalse(Files.exists(tmp.resolve("no-such")), "a reading command created " + missing);
    }

    @Test
    void restore() {
        assertRefusedAndNotCreated("restore", "--target", tmp.resolve("target").toString());
    }

    @Test
    void archiveList() {
        assertRefusedAndNotCreated("archive", "list");
    }

    @Test
    void archiveVerify() {
        assertRefusedAndNotCreated("archive", "verify");
    }

    @Test
    void archivePrune() {
        assertRefusedAndNotCreated("archive", "prune", "--keep-backups", "1");
    }

    @Test
    void aFileWhereTheArchiveDirectoryShouldBeIsNamedAsSuch() throws Exception {
        Path file = Files.writeString(tmp.resolve("a-file"), "not an archive");
        CliRunner.Result r = CliRunner.run("archive", "list", "--archive", file.toUri().toString());
        assertEquals(ExitCodes.USAGE, r.exit(), r.err());
        assertTrue(r.err().contains("archive path " + file + " is not a directory"), r.err());
        assertEquals("not an archive", Files.readString(file));
    }

    @Test
    void theShipperStillCreatesItsArchive() throws Exception {
        Path data = tmp.resolve("data");
        assertEquals(0, CliRunner.run("kv", "put", "--data", data.toString(), "k", "v").exit());
        Path archive = tmp.resolve("new").resolve("archive");
        CliRunner.Result r = CliRunner.run("ship", "--data", data.toString(), "--archive", archive.toUri().toString(),
                "--once");
        assertEquals(0, r.exit(), r.err());
        assertTrue(Files.isDirectory(archive));
    }
}
