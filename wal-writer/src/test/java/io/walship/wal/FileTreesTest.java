package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileTreesTest {
    @TempDir
    Path tmp;

    @Test
    void deletesTheTreeButNotWhatItsLinksPointAt() throws Exception {
        Path outside = Files.createDirectories(tmp.resolve("outside"));
        Files.writeString(outside.resolve("keep"), "x");
        Path tree = Files.createDirectories(tmp.resolve("tree/a/b"));
        Files.writeString(tree.resolve("f"), "y");
        Files.writeString(tmp.resolve("tree/g"), "z");
        Files.createSymbolicLink(tmp.resolve("tree/a/link"), outside);

        FileTrees.deleteTree(tmp.resolve("tree"));
        assertFalse(Files.exists(tmp.resolve("tree")));
        assertTrue(Files.exists(outside.resolve("keep")), "a link is deleted, not followed");

        FileTrees.deleteTree(tmp.resolve("tree")); // absent: nothing to do
        Files.writeString(tmp.resolve("file"), "w");
        FileTrees.deleteTree(tmp.resolve("file"));
        assertFalse(Files.exists(tmp.resolve("file")));
    }
}
