package io.walship.restorer.follow;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import io.walship.archive.Codec;
import io.walship.archive.EncryptedObjectStore;
import io.walship.archive.EncryptionKeyException;
import io.walship.archive.EncryptionKeys;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ObjectStore;
import io.walship.protocol.HostPort;
import io.walship.shipper.WalShipper;
import io.walship.wal.ControlFile;
import io.walship.wal.Durability;
import io.walship.wal.Snapshot;
import io.walship.wal.SnapshotLoader;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A follower without the archive's key (or with a wrong one) stops on the key error from its
 * archive catch-up — exit 2 for {@code walship follow} — instead of logging it and streaming, and
 * meeting it again, forever.
 */
class FollowerKeyErrorTest {
    @TempDir
    Path tmp;

    private static void write(Store s, int from, int to) {
        for (int i = from; i < to; i++) {
            s.put(("k" + i).getBytes(StandardCharsets.UTF_8), ("v" + i).getBytes(StandardCharsets.UTF_8), Durability.ASYNC);
        }
        s.awaitDurable(s.lastLsn(), Duration.ofSeconds(10));
    }

    @Test
    void aKeyErrorInTheArchiveCatchUpStopsTheFollower() throws Exception {
        long seed = System.nanoTime();
        System.out.println("backoff seed " + seed);
        byte[] key = new byte[32];
        key[5] = 42;
        LocalObjectStore raw = new LocalObjectStore(tmp.resolve("archive"));
        Path followerDir = tmp.resolve("follower");
        try (Store leader = Store.open(tmp.resolve("leader"))) {
            write(leader, 0, 100);
            try (Snapshot snap = leader.snapshot(); InputStream in = snap.openStream()) {
                SnapshotLoader.load(in, followerDir);
            }
            ControlFile.read(followerDir).asStandby().write(followerDir);
            write(leader, 100, 300);
            try (ObjectStore keyed = new EncryptedObjectStore(raw, EncryptionKeys.of(List.of(key)));
                 WalShipper shipper = new WalShipper(leader.dir(), keyed, new WalShipper.Options(Codec.ZSTD, 4 << 10))) {
                shipper.shipOnce();
            }
        }
        // no leader listens on port 1: without the fix the loop would back off and retry forever
        FollowerLoop.Options opts = FollowerLoop.Options.defaults(new HostPort("127.0.0.1", 1))
                .withNodeId("f1").withBackoff(Duration.ofMillis(10), Duration.ofMillis(50), seed);
        try (Store follower = Store.open(followerDir);
             ObjectStore keyless = new EncryptedObjectStore(raw, EncryptionKeys.none());
             FollowerLoop loop = new FollowerLoop(follower, keyless, opts).start()) {
            assertTrue(loop.awaitStopped(Duration.ofSeconds(60)), "the follower stops");
            assertInstanceOf(EncryptionKeyException.class, loop.failure());
        }
    }
}
