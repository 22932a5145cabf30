package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docs/FORMAT.md "Incremental base backups": the golden incremental manifest (format version 2) reads and
 * writes the same bytes, a full manifest keeps its version-1 shape, a version-2 manifest without its
 * parent is corrupt, and a chain is resolved with every link checked: a missing, replaced, foreign or
 * off-history parent is a corrupt object naming the child (exit 3). Pinning an incremental backup pins
 * its parents. Regenerate the golden file with -Dwalship.golden.write=DIR only for a new format version.
 */
class IncrementalManifestTest {
    static final String SHA_A = "a".repeat(64);
    static final String SHA_B = "b".repeat(64);
    static final String SHA_C = "c".repeat(64);

    @TempDir
    Path tmp;

    static BackupManifest full(long lsn, String fullSha, int pages) {
        String l = ArchiveLayout.lsnHex(lsn);
        return new BackupManifest(1, 1, l, 1, "1122334455667788", "2026-12-03T11:30:00Z", 1_796_297_400_000_000L, pages,
                "backups/00000001-" + l + "/image-0badcafe.zst", "zstd", 80L + 4096L * pages, 1234, fullSha,
                "d".repeat(64), 42, "2026-12-03T11:31:00Z");
    }

    static BackupManifest incr(long lsn, BackupManifest parent, String fullSha, int pages, int changed) {
        String l = ArchiveLayout.lsnHex(lsn);
        return new BackupManifest(2, 1, l, 1, "1122334455667788", "2026-12-03T12:30:00Z", 1_796_301_000_000_000L, pages,
                "backups/00000001-" + l + "/incr-0badf00d.zst", "zstd", 80L + 4100L * changed, 321, SHA_C,
                "e".repeat(64), 43, "2026-12-03T12:31:00Z", BackupManifest.INCREMENTAL, parent.asParent(), fullSha,
                80L + 4096L * pages, changed);
    }

    @Test
    void theGoldenIncrementalManifestReadsAndWritesTheSameBytes() throws Exception {
        BackupManifest m = incr(0x200, full(0x100, SHA_A, 1000), SHA_B, 1010, 12);
        String dir = System.getProperty("walship.golden.write");
        if (dir != null) {
            Files.write(Path.of(dir, "backup-manifest-incremental-v2.json"), m.toJson());
        }
        byte[] golden;
        try (InputStream in = getClass().getResourceAsStream("/golden/backup-manifest-incremental-v2.json")) {
            golden = in.readAllBytes();
        }
        assertArrayEquals(golden, m.toJson());
        BackupManifest read = BackupManifest.read(new ByteArrayInputStream(golden), "k");
        assertEquals(m, read);
        assertTrue(read.incremental());
        assertEquals(SHA_B, read.fullImageSha());
        // a full manifest is as before: none of the incremental fields
        String fullJson = new String(full(0x100, SHA_A, 1000).toJson(), StandardCharsets.UTF_8);
        assertFalse(fullJson.contains("parent") || fullJson.contains("kind") || fullJson.contains("fullImage"), fullJson);
    }

    @Test
    void aVersion2ManifestWithoutItsParentOrAVersion1WithOneIsCorrupt() {
        String noParent = new String(incr(0x200, full(0x100, SHA_A, 1), SHA_B, 1, 1).toJson(), StandardCharsets.UTF_8)
                .replaceAll("(?s)\"parent\" : \\{.*?\\},", "");
        assertFalse(noParent.contains("parent"), noParent);
        assertThrows(CorruptObjectException.class, () -> BackupManifest.read(
                new ByteArrayInputStream(noParent.getBytes(StandardCharsets.UTF_8)), "k"));
        String asV1 = new String(incr(0x200, full(0x100, SHA_A, 1), SHA_B, 1, 1).toJson(), StandardCharsets.UTF_8)
                .replace("\"formatVersion\" : 2", "\"formatVersion\" : 1");
        assertThrows(CorruptObjectException.class, () -> BackupManifest.read(
                new ByteArrayInputStream(asV1.getBytes(StandardCharsets.UTF_8)), "k"));
    }

    private static void put(ObjectStore store, BackupManifest m) {
        ArchiveLayout.BackupName n = new ArchiveLayout.BackupName(m.timeline(), Long.parseUnsignedLong(m.lsn(), 16));
        store.create(n.manifestKey(), new ByteArrayInputStream(m.toJson()));
        store.create(m.imageKey(), new ByteArrayInputStream(new byte[(int) m.objectBytes()]));
    }

    private static List<BackupManifest> resolve(ObjectStore store, BackupManifest m) {
        ArchiveLayout.BackupName n = new ArchiveLayout.BackupName(m.timeline(), Long.parseUnsignedLong(m.lsn(), 16));
        return BackupChain.resolve(m, n.manifestKey(), x -> BackupChain.read(store, x), null);
    }

    @Test
    void chainsResolveWithEveryLinkChecked() {
        ObjectStore store = new LocalObjectStore(tmp.resolve("a"));
        BackupManifest f = full(0x100, SHA_A, 10);
        BackupManifest i1 = incr(0x200, f, SHA_B, 11, 3);
        BackupManifest i2 = incr(0x300, i1, SHA_C, 12, 2);
        put(store, f);
        put(store, i1);
        put(store, i2);
        assertEquals(List.of(f, i1, i2), resolve(store, i2));

        // a missing parent
        ObjectStore missing = new LocalObjectStore(tmp.resolve("b"));
        put(missing, f);
        put(missing, i2);
        CorruptObjectException e = assertThrows(CorruptObjectException.class, () -> resolve(missing, i2));
        assertTrue(e.getMessage().contains("backups/00000001-0000000000000200/manifest.json is missing"), e.getMessage());
        assertTrue(e.getMessage().contains("chain is broken"), e.getMessage());

        // a parent replaced by another image at the same LSN (another full-image SHA-256)
        ObjectStore replaced = new LocalObjectStore(tmp.resolve("c"));
        put(replaced, full(0x100, SHA_C, 10));
        put(replaced, i1);
        e = assertThrows(CorruptObjectException.class, () -> resolve(replaced, i1));
        assertTrue(e.getMessage().contains("not the image it was built on"), e.getMessage());

        // a parent of another store
        ObjectStore foreign = new LocalObjectStore(tmp.resolve("d"));
        BackupManifest other = full(0x100, SHA_A, 10);
        other = new BackupManifest(1, 1, other.lsn(), 1, "99999999aaaaaaaa", other.commitTime(), other.commitTimeMicros(),
                10, other.imageKey(), "zstd", other.imageBytes(), other.objectBytes(), SHA_A, other.digestSha256(), 1,
                other.createdAt());
        put(foreign, other);
        put(foreign, i1);
        e = assertThrows(CorruptObjectException.class, () -> resolve(foreign, i1));
        assertTrue(e.getMessage().contains("is of store 99999999aaaaaaaa"), e.getMessage());

        // a parent that is not on the history being restored
        e = assertThrows(CorruptObjectException.class, () -> BackupChain.resolve(i2,
                "backups/00000001-0000000000000300/manifest.json", x -> BackupChain.read(store, x),
                x -> x.lsn() != 0x100));
        assertTrue(e.getMessage().contains("not on the history being restored"), e.getMessage());
    }

    @Test
    void pinningAnIncrementalBackupPinsItsParents() {
        ObjectStore store = new LocalObjectStore(tmp.resolve("pins"));
        BackupManifest f = full(0x100, SHA_A, 10);
        BackupManifest i1 = incr(0x200, f, SHA_B, 11, 3);
        BackupManifest i2 = incr(0x300, i1, SHA_C, 12, 2);
        put(store, f);
        put(store, i1);
        put(store, i2);
        BackupPin.pin(store, new ArchiveLayout.BackupName(1, 0x300), Instant.parse("2026-12-03T13:00:00Z"));
        ArchiveListing l = ArchiveListing.of(store);
        assertTrue(l.pinned(new ArchiveLayout.BackupName(1, 0x100)));
        assertTrue(l.pinned(new ArchiveLayout.BackupName(1, 0x200)));
        assertTrue(l.pinned(new ArchiveLayout.BackupName(1, 0x300)));
    }
}
