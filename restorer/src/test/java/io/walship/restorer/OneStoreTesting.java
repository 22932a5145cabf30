package io.walship.restorer;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import io.walship.archive.BackupManifest;
import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.shipper.BaseBackup;
import io.walship.shipper.WalShipper;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;

/** What the tests of "whose archive is this" share: writes into a store, and its base backup. */
final class OneStoreTesting {
    private OneStoreTesting() {
    }

    /** Puts keys {@code prefix0 .. prefix(n-1)}, each with the value "v". */
    static void put(Store s, String prefix, int n) {
        for (int i = 0; i < n; i++) {
            s.put((prefix + i).getBytes(StandardCharsets.UTF_8), "v".getBytes(StandardCharsets.UTF_8));
        }
    }

    /** a's archive: a base backup of {@code a} after 20 puts, 20 more puts, and a's WAL shipped. */
    static void archiveOf(Path a, ObjectStore archive) {
        try (Store store = Store.open(a)) {
            put(store, "a", 20);
            backup(store, archive);
            put(store, "a2-", 20);
        }
        try (WalShipper s = new WalShipper(a, archive, WalShipper.Options.defaults())) {
            s.shipOnce();
        }
    }

    /** A full base backup of the open store into {@code archive}. */
    static BackupManifest backup(Store s, ObjectStore archive) {
        try (Snapshot snap = s.snapshot()) {
            return BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), archive, Codec.ZSTD, x -> { });
        }
    }
}
