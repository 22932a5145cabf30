package io.walship.restorer;

import static io.walship.restorer.OneStoreTesting.put;
import static io.walship.restorer.OneStoreTesting.backup;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import io.walship.archive.ArchiveListing;
import io.walship.archive.BackupManifest;
import io.walship.archive.EncryptionKeys;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.shipper.BaseBackup;
import io.walship.shipper.WalShipper;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review 15 of f648e4b (BaseBackup.requireArchiveOfThisStore): false refusals of a legitimate
 * backup of the store whose archive it is.
 */
class OneStoreReview15Test {
    @TempDir
    Path tmp;

    /**
     * The archive is a's: a's backups and a's whole WAL. One stray base backup of another store b
     * sits in it at a higher LSN (copied in, or taken by a walship before f648e4b). a's next backup
     * -- the very thing that makes a restore to a's latest state start from a's image again -- is
     * refused with exit 3 and the advice to abandon the archive ("a new archive prefix"), and so is
     * every later one (the scheduler fails forever). The archive's WAL says whose it is.
     */
    @Test
    void aStrayBackupOfAnotherStoreDoesNotLockTheOwnerOutOfItsArchive() throws Exception {
        Path a = tmp.resolve("a");
        Path b = tmp.resolve("b");
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"));
             ObjectStore other = ObjectStores.open("file://" + tmp.resolve("other"))) {
            try (Store store = Store.open(a)) {
                put(store, "a", 10);
                backup(store, archive);
            }
            try (WalShipper s = new WalShipper(a, archive, WalShipper.Options.defaults())) {
                s.shipOnce();
            }
            try (Store store = Store.open(b)) { // the stray: a busier store, its backup at a higher LSN
                put(store, "b", 200);
                backup(store, other);
            }
            Path from = tmp.resolve("other").resolve("backups");
            try (Stream<Path> dirs = Files.list(from)) {
                for (Path d : dirs.toList()) {
                    Files.move(d, tmp.resolve("archive").resolve("backups").resolve(d.getFileName()));
                }
            }
            try (Store store = Store.open(a)) {
                put(store, "a2-", 10);
            }
            try (WalShipper s = new WalShipper(a, archive, WalShipper.Options.defaults())) {
                s.shipOnce(); // shipping a's WAL goes on: the archive's newest segment is a's
            }
            try (Store store = Store.open(a)) {
                assertDoesNotThrow(() -> backup(store, archive),
                        "a's own backup into a's archive (a's WAL, newest segment a's) refused over one stray backup");
            }
        }
    }

    /**
     * a's newest base backup's manifest is damaged (bit rot, a torn copy): archive verify names it,
     * and the remedy is a new base backup. Before f648e4b a full backup never read other manifests
     * and succeeded; now every backup reads the newest one first and fails on it -- the damage
     * blocks its own repair.
     */
    @Test
    void aDamagedNewestManifestDoesNotBlockTheBackupThatRepairsIt() throws Exception {
        Path a = tmp.resolve("a");
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            BackupManifest first;
            try (Store store = Store.open(a)) {
                put(store, "a", 10);
                first = backup(store, archive);
            }
            try (WalShipper s = new WalShipper(a, archive, WalShipper.Options.defaults())) {
                s.shipOnce();
            }
            ArchiveListing l = ArchiveListing.of(archive);
            assertEquals(1, l.backups().size());
            Path manifest = tmp.resolve("archive").resolve(l.backups().get(0).name().manifestKey());
            Files.writeString(manifest, "{\"formatVersion\": 1, \"lsn\": \"garbage"); // torn
            try (Store store = Store.open(a)) {
                put(store, "a2-", 10);
                assertDoesNotThrow(() -> backup(store, archive),
                        "a new full backup refused because the previous one's manifest is damaged");
            }
            assertTrue(first.lsn() != null);
        }
    }

    /**
     * The same with the archive's newest WAL segment damaged in its header: a fresh base backup
     * past it is what makes the archive restorable to a's latest state again.
     */
    @Test
    void aDamagedNewestSegmentHeaderDoesNotBlockANewBackup() throws Exception {
        Path a = tmp.resolve("a");
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            try (Store store = Store.open(a)) {
                put(store, "a", 10);
                backup(store, archive);
            }
            try (WalShipper s = new WalShipper(a, archive, WalShipper.Options.defaults())) {
                s.shipOnce();
            }
            ArchiveListing l = ArchiveListing.of(archive);
            ArchiveListing.SegmentInfo last = null;
            for (int t : l.timelines()) {
                for (ArchiveListing.SegmentInfo s : l.segments(t)) {
                    last = s;
                }
            }
            Path seg = tmp.resolve("archive").resolve(last.name().key());
            byte[] bytes = Files.readAllBytes(seg);
            bytes[70] ^= 0x5a; // inside the header: its CRC no longer matches
            Files.write(seg, bytes);
            try (Store store = Store.open(a)) {
                put(store, "a2-", 10);
                assertDoesNotThrow(() -> backup(store, archive),
                        "a new full backup refused because the newest archived segment's header is damaged");
            }
        }
    }

    /** Control: an encrypted archive (getRange through EncryptedObjectStore) of a's WAL takes a's next backup. */
    @Test
    void anEncryptedArchiveOfThisStoreTakesItsBackups() throws Exception {
        Path a = tmp.resolve("a");
        byte[] key = new byte[EncryptionKeys.KEY_BYTES];
        new java.util.Random(15).nextBytes(key);
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"), EncryptionKeys.of(List.of(key)))) {
            try (Store store = Store.open(a)) {
                put(store, "a", 10);
                backup(store, archive);
            }
            try (WalShipper s = new WalShipper(a, archive, WalShipper.Options.defaults())) {
                s.shipOnce();
            }
            try (Store store = Store.open(a)) {
                put(store, "a2-", 10);
                assertDoesNotThrow(() -> backup(store, archive));
            }
            assertEquals(2, ArchiveListing.of(archive).backups().size());
        }
    }
}
