package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A file-system error whose Java exception carries only the path ({@code FileAlreadyExistsException},
 * {@code AccessDeniedException}, …) says what is wrong with it, not "create X: X".
 */
class FileErrorMessageTest {
    @TempDir
    Path tmp;

    @Test
    void aRestoreTargetThatIsAFileIsAUsageError() throws Exception {
        Path file = Files.writeString(tmp.resolve("a-file"), "x");
        Path archive = Files.createDirectory(tmp.resolve("archive"));
        CliRunner.Result r = CliRunner.run("restore", "--archive", archive.toUri().toString(), "--target", file.toString());
        assertEquals(ExitCodes.USAGE, r.exit(), r.err());
        assertTrue(r.err().contains(file + " is a file, not a directory"), r.err());
        assertEquals("x", Files.readString(file));
    }

    @Test
    void aDataDirectoryThatIsAFileIsNamedAsSuch() throws Exception {
        Path file = Files.writeString(tmp.resolve("data"), "x");
        CliRunner.Result r = CliRunner.run("kv", "put", "--data", file.toString(), "k", "v");
        assertEquals(ExitCodes.FAILURE, r.exit(), r.err());
        String first = r.err().lines().findFirst().orElseThrow();
        assertTrue(first.endsWith(file + ": already exists and is not a directory"), first);
        assertEquals("x", Files.readString(file));
    }
}
