package io.walship.shipper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ArchiveListing;
import io.walship.archive.BackupManifest;
import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.S3ObjectStore;
import io.walship.archive.TestS3Server;
import io.walship.wal.Durability;
import io.walship.wal.Snapshot;
import io.walship.wal.SnapshotLoader;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BaseBackupTest {
    @TempDir
    Path tmp;

    private void backupWhileWritingThenLoad(ObjectStore archive) throws Exception {
        Path data = tmp.resolve("data-" + UUID.randomUUID());
        try (Store store = Store.open(data)) {
            Random rnd = new Random(4);
            for (int i = 0; i < 40_000; i++) {
                byte[] v = new byte[100];
                rnd.nextBytes(v);
                store.put(("k" + rnd.nextInt(1_000_000)).getBytes(StandardCharsets.UTF_8), v, Durability.ASYNC);
            }
            StateDigest digest;
            BackupManifest m;
            AtomicBoolean stop = new AtomicBoolean();
            Thread writer = new Thread(() -> {
                int i = 0;
                while (!stop.get()) {
                    store.put(("w" + i++).getBytes(StandardCharsets.UTF_8), new byte[50], Durability.ASYNC);
                }
            });
            try (Snapshot snap = store.snapshot()) {
                writer.start(); // the leader keeps taking writes throughout
                digest = StateDigest.of(snap.pages(), snap.lsn());
                AtomicLong progress = new AtomicLong();
                m = BaseBackup.upload(snap, digest, archive, Codec.ZSTD, progress::set);
                assertEquals(snap.imageSize(), m.imageBytes());
                assertEquals(snap.imageSize(), progress.get());
            } finally {
                stop.set(true);
                writer.join();
            }
            assertTrue(store.lastLsn() > Long.parseLong(m.lsn(), 16), "writes went on during the backup");
            assertTrue(m.objectBytes() < m.imageBytes(), "compressed: " + m);

            ArchiveLayout.BackupName name = new ArchiveLayout.BackupName(m.timeline(), Long.parseLong(m.lsn(), 16));
            assertEquals(1, ArchiveListing.of(archive).backups().size());
            BackupManifest read;
            try (InputStream in = archive.get(name.manifestKey())) {
                read = BackupManifest.read(in, name.manifestKey());
            }
            assertEquals(m, read);
            // the image decompresses to exactly what was hashed, and loads into a store with the same content
            Path restored = tmp.resolve("restored-" + UUID.randomUUID());
            java.security.MessageDigest sha = java.security.MessageDigest.getInstance("SHA-256");
            try (InputStream in = new java.security.DigestInputStream(
                    Codec.parse(read.codec()).decompress(archive.get(read.imageKey())), sha)) {
                SnapshotLoader.load(in, restored);
            }
            assertEquals(read.imageSha256(), HexFormat.of().formatHex(sha.digest()));
            try (Store copy = Store.open(restored)) {
                assertEquals(digest, copy.digest());
                assertEquals(read.digestSha256(), copy.digest().sha256());
            }
            // the same LSN is not backed up twice
            try (Snapshot again = store.snapshot()) {
                if (again.lsn() == Long.parseLong(m.lsn(), 16)) {
                    assertEquals(m, BaseBackup.upload(again, digest, archive, Codec.ZSTD, x -> { }));
                }
            }
        }
    }

    @Test
    void backupToALocalDirectory() throws Exception {
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            backupWhileWritingThenLoad(archive);
        }
    }

    @Test
    void backupToS3InParts() throws Exception {
        try (TestS3Server s3 = TestS3Server.start();
             ObjectStore archive = new S3ObjectStore(s3.newArchive("walship-test", "b-" + UUID.randomUUID()),
                     S3ObjectStore.MIN_PART_SIZE)) {
            backupWhileWritingThenLoad(archive);
        }
    }

    /** Image and manifest uploads whose answers were lost (each retry met its own object) still make a backup. */
    @Test
    void lostUploadAnswersStillMakeABackup() throws Exception {
        Path data = tmp.resolve("data");
        try (ObjectStore inner = ObjectStores.open("file://" + tmp.resolve("archive"));
             Store store = Store.open(data)) {
            io.walship.archive.LostAnswerStore archive = new io.walship.archive.LostAnswerStore(inner, k -> true);
            for (int i = 0; i < 500; i++) {
                store.put(("k" + i).getBytes(StandardCharsets.UTF_8), new byte[64]);
            }
            BackupManifest m;
            try (Snapshot snap = store.snapshot()) {
                m = BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), archive, Codec.ZSTD, x -> { });
            }
            assertEquals(2, archive.lost().size(), "the image's and the manifest's answers were lost: " + archive.lost());
            ArchiveLayout.BackupName name = new ArchiveLayout.BackupName(m.timeline(), Long.parseLong(m.lsn(), 16));
            try (InputStream in = inner.get(name.manifestKey())) {
                assertEquals(m, BackupManifest.read(in, name.manifestKey()));
            }
            assertEquals(m.objectBytes(), inner.head(m.imageKey()).orElseThrow().size());
        }
    }
    /**
     * A new store backed up into an archive that holds another store's backup at the same
     * timeline and LSN (both fresh stores with the same number of writes, say) must not be told
     * that its backup exists: the manifest there is the other store's, and restoring it would give
     * the other store's data. The backup is refused, naming both stores; the archive is unchanged.
     */
    @Test
    void anotherStoresBackupAtTheSameLsnIsNotThisStoresBackup() throws Exception {
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            BackupManifest theirs;
            try (Store a = Store.open(tmp.resolve("a"))) {
                a.put("k".getBytes(StandardCharsets.UTF_8), "a".getBytes(StandardCharsets.UTF_8));
                try (Snapshot snap = a.snapshot()) {
                    theirs = BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), archive, Codec.ZSTD, x -> { });
                }
            }
            java.util.List<String> before = archive.list("", null).stream().map(io.walship.archive.ObjectInfo::key).toList();
            try (Store b = Store.open(tmp.resolve("b"))) {
                b.put("k".getBytes(StandardCharsets.UTF_8), "b".getBytes(StandardCharsets.UTF_8));
                String mine = String.format("%016x", b.systemId());
                try (Snapshot snap = b.snapshot()) {
                    assertEquals(Long.parseLong(theirs.lsn(), 16), snap.lsn(), "the same backup name");
                    ArchiveSpliceException e = org.junit.jupiter.api.Assertions.assertThrows(ArchiveSpliceException.class,
                            () -> BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), archive, Codec.ZSTD,
                                    x -> { }));
                    assertTrue(e.getMessage().contains(theirs.systemId()) && e.getMessage().contains(mine), e.getMessage());
                }
            }
            assertEquals(before, archive.list("", null).stream().map(io.walship.archive.ObjectInfo::key).toList());
        }
    }
}
