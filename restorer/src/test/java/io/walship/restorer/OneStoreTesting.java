package io.walship.restorer;

import java.nio.charset.StandardCharsets;

import io.walship.archive.BackupManifest;
import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.shipper.BaseBackup;
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

    /** A full base backup of the open store into {@code archive}. */
    static BackupManifest backup(Store s, ObjectStore archive) {
        try (Snapshot snap = s.snapshot()) {
            return BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), archive, Codec.ZSTD, x -> { });
        }
    }
}
