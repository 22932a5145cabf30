package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.UUID;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code pins/T-L.json} as docs/FORMAT.md ("Backup pins") shows it, backup names as the CLI takes
 * them, and pin/unpin on a local archive and on S3 (S3Proxy; MinIO in CI): a pin is created once and
 * never rewritten, a missing backup cannot be pinned, and the listing sees pins.
 */
class BackupPinTest {
    static final ArchiveLayout.BackupName NAME = new ArchiveLayout.BackupName(1, 0xA41F3L);
    static final BackupPin GOLDEN = BackupPin.of(NAME, Instant.parse("2026-12-03T11:30:00Z"));
    private static TestS3Server s3;

    @TempDir
    Path tmp;

    @BeforeAll
    static void startS3() throws Exception {
        s3 = TestS3Server.start();
    }

    @AfterAll
    static void stopS3() throws Exception {
        s3.close();
    }

    static Stream<String> stores() {
        return Stream.of("file", "s3");
    }

    private ObjectStore open(String kind) {
        return kind.equals("file") ? ObjectStores.open("file://" + tmp.resolve("archive"))
                : new S3ObjectStore(s3.newArchive("walship-pins", "p-" + UUID.randomUUID()));
    }

    @Test
    void theGoldenPinReadsAndWritesTheSameBytes() throws Exception {
        byte[] bytes;
        try (InputStream in = BackupPinTest.class.getResourceAsStream("/golden/backup-pin-v1.json")) {
            bytes = in.readAllBytes();
        }
        assertEquals(GOLDEN, BackupPin.read(new ByteArrayInputStream(bytes), NAME.pinKey()));
        assertArrayEquals(bytes, GOLDEN.toJson(), "the writer must keep producing the documented bytes:\n"
                + new String(GOLDEN.toJson(), StandardCharsets.UTF_8));
        assertEquals("pins/00000001-00000000000A41F3.json", NAME.pinKey());
        assertEquals(NAME, ArchiveLayout.parsePin(NAME.pinKey()).orElseThrow());
        assertTrue(!ArchiveLayout.isMutable(NAME.pinKey()), "a pin is never replaced");
        // a pin whose content names another backup than its key is corrupt
        assertThrows(CorruptObjectException.class, () -> BackupPin.read(new ByteArrayInputStream(bytes),
                new ArchiveLayout.BackupName(1, 0xA41F4L).pinKey()));
        assertThrows(CorruptObjectException.class, () -> BackupPin.read(new ByteArrayInputStream(
                new String(bytes, StandardCharsets.UTF_8).replace("\"formatVersion\" : 1", "\"formatVersion\" : 2")
                        .getBytes(StandardCharsets.UTF_8)), NAME.pinKey()));
    }

    @Test
    void backupNamesAreTakenAsTheListingPrintsThem() {
        for (String s : new String[] {"backups/00000001-00000000000A41F3/", "backups/00000001-00000000000A41F3",
                "00000001-00000000000A41F3", "00000001-00000000000A41F3/"}) {
            assertEquals(NAME, ArchiveLayout.parseBackupName(s), s);
        }
        for (String s : new String[] {"", "backups/", "1-A41F3", "backups/00000001-00000000000a41f3/",
                "backups/00000000-00000000000A41F3/", "00000001-00000000000A41F3/manifest.json", "wal/00000001"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ArchiveLayout.parseBackupName(s), s);
            assertTrue(e.getMessage().startsWith("not a backup name"), e.getMessage());
        }
    }

    @ParameterizedTest
    @MethodSource("stores")
    void pinOnceUnpinAndAMissingBackup(String kind) {
        try (ObjectStore a = open(kind)) {
            BackupPin.NoSuchBackupException e = assertThrows(BackupPin.NoSuchBackupException.class,
                    () -> BackupPin.pin(a, NAME, Instant.now()));
            assertTrue(e.getMessage().startsWith("no base backup backups/00000001-00000000000A41F3/ in "), e.getMessage());
            assertTrue(a.head(NAME.pinKey()).isEmpty());
            // a backup is its manifest (the pin does not read the image)
            a.create(NAME.manifestKey(), new ByteArrayInputStream("{}".getBytes(StandardCharsets.UTF_8)));
            Instant first = Instant.parse("2026-12-03T11:30:00Z");
            assertEquals(BackupPin.Outcome.PINNED, BackupPin.pin(a, NAME, first));
            assertEquals(BackupPin.Outcome.ALREADY_PINNED, BackupPin.pin(a, NAME, first.plusSeconds(60)));
            assertEquals(GOLDEN, BackupPin.current(a, NAME).orElseThrow(), "the first pin is never rewritten");
            assertEquals(java.util.Set.of(NAME), ArchiveListing.of(a).pins());
            assertTrue(ArchiveListing.of(a).pinned(NAME));
            assertTrue(BackupPin.unpin(a, NAME));
            assertTrue(!BackupPin.unpin(a, NAME));
            assertTrue(ArchiveListing.of(a).pins().isEmpty());
            assertTrue(BackupPin.current(a, NAME).isEmpty());
        }
    }
}
