package io.walship.restorer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.Codec;
import io.walship.archive.CorruptObjectException;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.Segment;
import io.walship.shipper.BaseBackup;
import io.walship.shipper.WalShipper;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import io.walship.wal.WalEntry;
import io.walship.wal.WalReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An archive that already holds a spliced history (another store's segment after this store's,
 * e.g. written by a walship before the shipper checked): restore stops at the splice naming the
 * segment, and {@code archive verify} reports it. Segment system ids (format 2) make it visible.
 */
class SplicedArchiveRestoreTest {
    @TempDir
    Path tmp;

    @Test
    void anotherStoresSegmentIsNeverApplied() throws Exception {
        Path a = tmp.resolve("a");
        Path c = tmp.resolve("c");
        long n;
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            try (Store store = Store.open(a)) {
                for (int i = 0; i < 10; i++) {
                    store.put(("a" + i).getBytes(StandardCharsets.UTF_8), "v".getBytes(StandardCharsets.UTF_8));
                }
                try (Snapshot snap = store.snapshot()) {
                    BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), archive, Codec.ZSTD, x -> { });
                }
                n = store.lastLsn();
            }
            try (WalShipper s = new WalShipper(a, archive, WalShipper.Options.defaults())) {
                s.shipOnce();
            }
            long idc;
            try (Store store = Store.open(c)) {
                for (int i = 0; i < 20; i++) {
                    store.put(("c" + i).getBytes(StandardCharsets.UTF_8), "v".getBytes(StandardCharsets.UTF_8));
                }
                idc = store.systemId();
            }
            Segment.Builder b = new Segment.Builder(idc, 1, Codec.ZSTD);
            try (WalReader r = WalReader.open(c)) {
                r.seek(n + 1);
                WalEntry e;
                while ((e = r.next()) != null && e.lsn() <= n + 5) {
                    b.add(e.lsn(), e.commitTimeMicros(), r.lastEntryBytes());
                }
            }
            archive.create(new ArchiveLayout.SegmentName(1, n + 1, n + 5).key(), new ByteArrayInputStream(b.build()));

            CorruptObjectException e = assertThrows(CorruptObjectException.class, () -> Restore.run(archive,
                    tmp.resolve("r"), Restore.Options.defaults(), new Restore.Listener() { }));
            assertTrue(e.getMessage().contains(String.format("was written by store %016x", idc)), e.getMessage());
            assertTrue(e.getMessage().contains("splices two histories"), e.getMessage());

            ArchiveVerifier.Report report = ArchiveVerifier.verify(archive, 2, false, m -> { });
            assertEquals(1, report.problems().stream().filter(p -> p.kind().equals("foreign")).count(),
                    report.problems().toString());
        }
    }

    /**
     * Another store's base backup in this store's archive (a backup run pointed at the wrong
     * archive): {@code archive verify} names it — a restore to a point near it would give the other
     * store's state — and nothing else.
     */
    @Test
    void anotherStoresBaseBackupIsNamedByVerify() throws Exception {
        Path a = tmp.resolve("a");
        Path b = tmp.resolve("b");
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            long idb;
            long lsnb;
            try (Store store = Store.open(b)) { // the stray one: an empty store's backup, at a low LSN
                idb = store.systemId();
                lsnb = store.lastLsn();
                try (Snapshot snap = store.snapshot()) {
                    BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), archive, Codec.ZSTD, x -> { });
                }
            }
            try (Store store = Store.open(a)) {
                for (int i = 0; i < 10; i++) {
                    store.put(("a" + i).getBytes(StandardCharsets.UTF_8), "v".getBytes(StandardCharsets.UTF_8));
                }
                try (Snapshot snap = store.snapshot()) {
                    BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), archive, Codec.ZSTD, x -> { });
                }
            }
            try (WalShipper s = new WalShipper(a, archive, WalShipper.Options.defaults())) {
                s.shipOnce();
            }
            ArchiveVerifier.Report report = ArchiveVerifier.verify(archive, 2, false, m -> { });
            java.util.List<ArchiveVerifier.Problem> foreign = report.problems().stream()
                    .filter(p -> p.kind().equals("foreign")).toList();
            assertEquals(1, foreign.size(), report.problems().toString());
            assertTrue(foreign.get(0).detail().contains(String.format("%016x", idb)), foreign.toString());
            assertEquals(1, report.problems().size(), report.problems().toString());

            // a restore to that backup's LSN needs no WAL, so no segment's system id is checked on the
            // way: it compares the backup with the archive's WAL and refuses, instead of restoring the
            // other store's state as this archive's
            CorruptObjectException e = assertThrows(CorruptObjectException.class, () -> Restore.run(archive,
                    tmp.resolve("r"), Restore.Options.defaults().withTarget(RestoreTarget.lsn(lsnb, false)),
                    new Restore.Listener() { }));
            assertTrue(e.getMessage().contains(String.format("is of store %016x", idb)), e.getMessage());
            // the archive's own store restores as before
            Restore.run(archive, tmp.resolve("r2"), Restore.Options.defaults(), new Restore.Listener() { });
        }
    }
}
