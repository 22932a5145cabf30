package io.walship.restorer.follow;

import java.io.InputStream;
import java.nio.file.Path;

import io.walship.wal.ControlFile;
import io.walship.wal.Snapshot;
import io.walship.wal.SnapshotLoader;
import io.walship.wal.Store;

/** Test stores that follow: a standby made from a leader's snapshot, as a follower's bootstrap leaves it. */
final class Standbys {
    private Standbys() {
    }

    /** A standby store in {@code dir} holding {@code leader}'s current state, opened. */
    static Store of(Store leader, Path dir) throws Exception {
        try (Snapshot snap = leader.snapshot(); InputStream in = snap.openStream()) {
            SnapshotLoader.load(in, dir);
        }
        ControlFile.read(dir).asStandby().write(dir);
        return Store.open(dir);
    }
}
