package io.walship.restorer;

import static io.walship.restorer.OneStoreTesting.put;
import static io.walship.restorer.OneStoreTesting.backup;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;

import io.walship.archive.ArchiveListing;
import io.walship.archive.CountingObjectStore;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ObjectInfo;
import io.walship.archive.ObjectStore;
import io.walship.archive.S3ObjectStore;
import io.walship.archive.TestS3Server;
import io.walship.shipper.ArchiveSpliceException;
import io.walship.shipper.WalShipper;
import io.walship.wal.Store;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A base backup into an archive whose WAL is another store's is refused before anything is
 * uploaded (exit 3): two services pointed at one archive prefix. Before, the backup went in, and
 * the owner's restores then met it (a restore to its LSN refused it, a restore past it stopped at
 * the first foreign segment): found at restore time, the worst time. The archive's WAL says whose
 * archive it is; stray backups do not ({@link OneStoreReview15Test}).
 */
class BackupIntoAnotherStoresArchiveTest {
    @TempDir
    Path tmp;
    static TestS3Server s3;

    @BeforeAll
    static void startS3() throws Exception {
        s3 = TestS3Server.start();
    }

    @AfterAll
    static void stopS3() throws Exception {
        s3.close();
    }

    private ObjectStore archive(String kind) {
        return kind.equals("file") ? new LocalObjectStore(tmp.resolve("archive"))
                : new S3ObjectStore(s3.newArchive("one-store", UUID.randomUUID().toString()));
    }

    /** a's archive: a base backup and a's WAL shipped. */
    private void archiveOfA(ObjectStore archive) {
        OneStoreTesting.archiveOf(tmp.resolve("a"), archive);
    }

    @ParameterizedTest
    @ValueSource(strings = {"file", "s3"})
    void anotherStoresBackupIsRefusedBeforeAnythingIsUploadedWithBoundedRequests(String kind) throws Exception {
        try (ObjectStore raw = archive(kind)) {
            archiveOfA(raw);
            for (int i = 0; i < 1001; i++) { // a full listing of the WAL would take two requests
                raw.create(String.format("wal/00000001/zz-pad-%04d", i), new ByteArrayInputStream(new byte[] {1}));
            }
            List<String> before = raw.list("", null).stream().map(ObjectInfo::key).toList();
            CountingObjectStore archive = new CountingObjectStore(raw); // not closed: that would close raw
            try (Store b = Store.open(tmp.resolve("b"))) {
                put(b, "b", 5);
                ArchiveSpliceException e = assertThrows(ArchiveSpliceException.class, () -> backup(b, archive));
                System.out.println(kind + ": " + e.getMessage() + "; requests " + archive.counts());
                String mine = String.format("%016x", b.systemId());
                assertTrue(e.getMessage().contains(mine), e.getMessage());
                assertTrue(e.getMessage().contains("another store"), e.getMessage());
                assertEquals(1, archive.counts().lists(), "the check lists one page of keys, not the WAL: " + archive.counts());
                assertEquals(0, archive.counts().puts(), "nothing uploaded: " + archive.counts());
            }
            assertEquals(before, raw.list("", null).stream().map(ObjectInfo::key).toList(), "the archive changed");
            try (Store a = Store.open(tmp.resolve("a"))) { // the owner's next backup still goes in
                put(a, "a3-", 5);
                backup(a, raw);
            }
            assertEquals(2, ArchiveListing.of(raw).backups().size());
        }
    }

    /**
     * The archive holds a's WAL only on a timeline other than b's (b was promoted, or a's timeline-1
     * WAL was pruned): b's timeline has no segment to compare with, and the archive's WAL on any
     * timeline is still a's.
     */
    @Test
    void anotherStoresWalOnAnotherTimelineAlsoRefuses() throws Exception {
        try (ObjectStore archive = archive("file")) {
            archiveOfA(archive);
            Path wal = tmp.resolve("archive").resolve("wal");
            Files.move(wal.resolve("00000001"), wal.resolve("00000007"));
            try (Store b = Store.open(tmp.resolve("b"))) {
                put(b, "b", 5);
                assertThrows(ArchiveSpliceException.class, () -> backup(b, archive));
            }
            assertEquals(1, ArchiveListing.of(archive).backups().size());
        }
    }

    /**
     * The shipper compares its timeline's archived end with its WAL; with nothing of its timeline
     * archived it compared nothing and shipped b's WAL into a's archive beside a's other timeline.
     */
    @Test
    void shippingIntoAnArchiveOfAnotherStoresWalOnAnotherTimelineIsRefused() throws Exception {
        try (ObjectStore archive = archive("file")) {
            archiveOfA(archive);
            Path wal = tmp.resolve("archive").resolve("wal");
            Files.move(wal.resolve("00000001"), wal.resolve("00000007"));
            Path b = tmp.resolve("b");
            try (Store store = Store.open(b)) {
                put(store, "b", 5);
            }
            try (WalShipper s = new WalShipper(b, archive, WalShipper.Options.defaults())) {
                ArchiveSpliceException e = assertThrows(ArchiveSpliceException.class, s::shipOnce);
                assertTrue(e.getMessage().contains("another store's archive"), e.getMessage());
            }
            assertTrue(ArchiveListing.of(archive).segments(1).isEmpty(), "b's WAL went into a's archive");
        }
    }

    /** No WAL in the archive yet (a new archive, or backups only): nothing says whose it is, the backup goes in. */
    @Test
    void anArchiveWithoutWalTakesTheBackup() throws Exception {
        try (ObjectStore archive = archive("file")) {
            try (Store a = Store.open(tmp.resolve("a"))) {
                put(a, "a", 5);
                backup(a, archive);
            }
            try (Store b = Store.open(tmp.resolve("b"))) {
                put(b, "b", 9); // another LSN than a's backup (one at a's LSN is refused as before)
                backup(b, archive);
            }
            assertEquals(2, ArchiveListing.of(archive).backups().size());
        }
    }
}
