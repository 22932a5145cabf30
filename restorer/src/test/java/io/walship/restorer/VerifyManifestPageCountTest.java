package io.walship.restorer;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.BackupManifest;
import io.walship.archive.Codec;
import io.walship.archive.CorruptObjectException;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.shipper.BaseBackup;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A manifest whose {@code pageCount} disagrees with its image (a flipped digit in the JSON, which no checksum
 * covers): restore refuses the backup (exit 3, "its manifest says … with N"), so {@code archive verify}, which
 * "reads the whole archive as a restore would" (docs/OPERATIONS.md, "Verifying the archive"), must report it
 * too. It said "archive OK" (found end to end: the edited manifest of a 240 MB image on a file:// archive).
 */
class VerifyManifestPageCountTest {
    @TempDir
    Path tmp;

    @Test
    void verifyReportsAManifestPageCountTheImageDoesNotHave() throws Exception {
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"));
             Store store = Store.open(tmp.resolve("store"))) {
            for (int i = 0; i < 200; i++) {
                store.put(("key-" + i).getBytes(StandardCharsets.UTF_8),
                        ("v-" + "x".repeat(300)).getBytes(StandardCharsets.UTF_8));
            }
            BackupManifest m;
            try (Snapshot snap = store.snapshot()) {
                m = BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), archive, Codec.ZSTD, x -> { });
            }
            ArchiveLayout.BackupName name = new ArchiveLayout.BackupName(m.timeline(), Long.parseUnsignedLong(m.lsn(), 16));
            String json;
            try (InputStream in = archive.get(name.manifestKey())) {
                json = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            String edited = json.replaceFirst("\"pageCount\"\\s*:\\s*" + m.pageCount(),
                    "\"pageCount\" : " + (m.pageCount() - 1));
            assertFalse(edited.equals(json), json);
            archive.delete(name.manifestKey());
            archive.create(name.manifestKey(), new ByteArrayInputStream(edited.getBytes(StandardCharsets.UTF_8)));

            CorruptObjectException e = assertThrows(CorruptObjectException.class, () -> Restore.run(archive,
                    tmp.resolve("r"), Restore.Options.defaults(), new Restore.Listener() { }));
            assertTrue(e.getMessage().contains("its manifest says"), e.getMessage());

            ArchiveVerifier.Report report = ArchiveVerifier.verify(archive, 2, false, x -> { });
            assertFalse(report.ok(), "verify found no problem in a backup restore refuses: " + report.problems());
            assertTrue(report.problems().stream().anyMatch(p -> p.kind().equals("corrupt")), report.problems().toString());
        }
    }
}
