package io.walship.cli;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import io.walship.archive.EncryptionKeyException;
import io.walship.archive.ForwardingObjectStore;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ObjectStore;
import io.walship.protocol.HostPort;
import io.walship.restorer.follow.FollowerLoop;
import io.walship.shipper.ShipLoops;
import io.walship.shipper.repl.ReplicationOptions;
import io.walship.shipper.repl.SyncOptions;
import io.walship.wal.ControlFile;
import io.walship.wal.Snapshot;
import io.walship.wal.SnapshotLoader;
import io.walship.wal.Store;

/**
 * What the tests of a follower promoted in place share: its standby store copied from a leader,
 * the follower's configuration (a leader that cannot be reached, so only a promotion moves it on),
 * and an archive that refuses to seal WAL objects (a key error, as shipping meets it).
 */
final class PromotableStandby {
    private PromotableStandby() {
    }

    /** Copies the leader's current state into {@code fdir} and marks it a standby. */
    static void copy(Store leader, Path fdir) throws Exception {
        try (Snapshot s = leader.snapshot(); InputStream in = s.openStream()) {
            SnapshotLoader.load(in, fdir);
        }
        ControlFile.read(fdir).asStandby().write(fdir);
    }

    /** A standby in {@code fdir} of a fresh leader in {@code leaderDir} holding k0..k9. */
    static void ofTenRows(Path leaderDir, Path fdir) throws Exception {
        try (Store leader = Store.open(leaderDir)) {
            for (int i = 0; i < 10; i++) {
                leader.put(b("k" + i), b("v" + i));
            }
            copy(leader, fdir);
        }
    }

    /** Node f1 on {@code fdir}, async once promoted, shipping to {@code primary} and {@code others}. */
    static LiveFollower.Config config(Path fdir, ObjectStore primary, List<ShipLoops.Target> others) {
        FollowerLoop.Options options = FollowerLoop.Options.defaults(List.of(new HostPort("127.0.0.1", 1)))
                .withBackoff(Duration.ofSeconds(10), Duration.ofSeconds(10), 42);
        return new LiveFollower.Config(fdir, primary, options, null, null, null,
                ReplicationOptions.defaults(), ReplicationOptions.defaults(), Duration.ofMillis(100),
                Duration.ZERO, null, "f1", null, new LiveFollower.Lease("f1", Duration.ofSeconds(10),
                Duration.ofSeconds(1), io.walship.archive.LeaseClock.SYSTEM, Duration.ofSeconds(3),
                PromotionLease.REAL), SyncOptions.async(), others);
    }

    /** A local archive in {@code root} whose WAL objects cannot be sealed; counts the refusals. */
    static ObjectStore keyless(Path root, AtomicInteger refused) {
        LocalObjectStore local = new LocalObjectStore(root);
        local.verifyAccess();
        return new ForwardingObjectStore(local) {
            @Override
            public void create(String key, java.io.InputStream content) {
                if (key.startsWith("wal/")) {
                    refused.incrementAndGet();
                    throw new EncryptionKeyException("test: no key to seal " + key);
                }
                super.create(key, content);
            }
        };
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
