package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ObjectStores#openExisting} is for commands that only read an archive (restore, archive
 * list/verify): an existing archive directory the process may read but not write (a read-only
 * mount, a snapshot, another user's archive) must open: it checks {@link
 * ObjectStore#verifyReadAccess}, not the writer's {@link LocalObjectStore#verifyAccess}, which
 * refuses a directory that is not writable.
 *
 * <p>As root a 0555 directory is writable, so the first test is skipped there; the second takes a
 * directory on a read-only mount from {@code -Dreview14.roArchive=/path} (skipped without it).
 */
class OpenExistingReadOnlyReview14Test {
    @TempDir
    Path tmp;

    private static void assertOpensForReading(Path dir) {
        assertTrue(Files.isDirectory(dir));
        assertFalse(Files.isWritable(dir), dir + " is writable: not the case under test");
        ObjectStore s = assertDoesNotThrow(() -> ObjectStores.openExisting(dir.toUri().toString(), EncryptionKeys.none()),
                "a read-only archive directory must open for reading");
        try (s) {
            assertDoesNotThrow(() -> s.list("", null));
        }
    }

    @Test
    void aDirectoryWithoutWritePermissionOpensForReading() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("arch"));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("r-xr-xr-x"));
        try {
            assumeFalse(Files.isWritable(dir), "running as root: permissions do not make it read-only");
            assertOpensForReading(dir);
        } finally {
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
    }

    @Test
    void aDirectoryOnAReadOnlyMountOpensForReading() {
        String ro = System.getProperty("review14.roArchive", "");
        assumeFalse(ro.isEmpty(), "no -Dreview14.roArchive");
        assertOpensForReading(Path.of(ro));
    }
}
