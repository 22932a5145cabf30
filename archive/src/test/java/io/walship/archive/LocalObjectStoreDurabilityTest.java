package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 9, defect 9 (archive half): a create makes the object durable — the temporary file is
 * synced before it is linked, the directory it is linked into after — and so is every directory
 * the create had to make, by syncing its parent. Seen through the store's sync seam.
 */
class LocalObjectStoreDurabilityTest {
    @TempDir
    Path tmp;

    @Test
    void everyCreatedDirectoryAndTheLinkAreSynced() throws Exception {
        Path root = tmp.resolve("archive/prefix");
        List<String> syncs = new CopyOnWriteArrayList<>();
        LocalObjectStore.Syncer seen = new LocalObjectStore.Syncer() {
            @Override
            public void file(Path file, FileChannel ch) throws java.io.IOException {
                syncs.add("file " + root.relativize(file).getName(0));
                LocalObjectStore.Syncer.super.file(file, ch);
            }

            @Override
            public void directory(Path dir) throws java.io.IOException {
                syncs.add("dir " + tmp.relativize(dir));
                LocalObjectStore.Syncer.super.directory(dir);
            }
        };
        try (LocalObjectStore store = new LocalObjectStore(root, seen)) {
            store.create("wal/00000001/a.seg", new ByteArrayInputStream(new byte[] {1, 2, 3}));
            assertEquals(List.of(
                    "dir ", // tmp/archive was created: its parent
                    "dir archive", // prefix
                    "dir archive/prefix", // .tmp
                    "dir archive/prefix", // wal
                    "dir archive/prefix/wal", // wal/00000001
                    "file .tmp", // the content, before the link
                    "dir archive/prefix/wal/00000001"), // the link
                    syncs);

            syncs.clear();
            store.create("wal/00000001/b.seg", new ByteArrayInputStream(new byte[] {4}));
            assertEquals(List.of("file .tmp", "dir archive/prefix/wal/00000001"), syncs,
                    "existing directories are not synced again");
            syncs.clear();
            store.create("backups/00000001-0000000000000005/manifest.json", new ByteArrayInputStream(new byte[] {5}));
            assertTrue(syncs.containsAll(List.of("dir archive/prefix", "dir archive/prefix/backups",
                    "dir archive/prefix/backups/00000001-0000000000000005")), syncs.toString());
        }
    }
}
