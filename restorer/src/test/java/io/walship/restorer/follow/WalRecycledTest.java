package io.walship.restorer.follow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.function.BooleanSupplier;

import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.protocol.HostPort;
import io.walship.shipper.WalShipper;
import io.walship.shipper.repl.ReplicationOptions;
import io.walship.shipper.repl.ReplicationServer;
import io.walship.wal.ControlFile;
import io.walship.wal.Durability;
import io.walship.wal.Poll;
import io.walship.wal.Snapshot;
import io.walship.wal.SnapshotLoader;
import io.walship.wal.Store;
import io.walship.wal.StoreOptions;
import io.walship.wal.TestStores;
import io.walship.wal.WalNoLongerAvailableException;
import io.walship.wal.WalReader;
import net.openhft.chronicle.core.time.SetTimeProvider;
import net.openhft.chronicle.queue.rollcycles.TestRollCycles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 10, "WAL recycled": while a follower is down, the leader archives, checkpoints and
 * deletes the WAL the follower would need next. The restarted follower is refused with
 * WAL_NOT_AVAILABLE by the real replication server, catches up from the archive, and then streams
 * again from where the archive ended.
 */
class WalRecycledTest {
    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static void await(String what, BooleanSupplier cond) {
        Poll.until(Duration.ofSeconds(60), cond, () -> "until " + what);
    }

    private static void write(Store s, int from, int to) {
        for (int i = from; i < to; i++) {
            s.put(b("k" + (i % 500)), b("v" + i), Durability.ASYNC);
        }
        s.awaitDurable(s.lastLsn(), Duration.ofSeconds(10));
    }

    @Test
    void aFollowerWhoseWalWasRecycledCatchesUpFromTheArchiveThenStreams() throws Exception {
        long seed = System.nanoTime();
        System.out.println("backoff seed " + seed);
        SetTimeProvider walClock = new SetTimeProvider(Instant.parse("2026-12-02T10:00:00Z"));
        Path followerDir = tmp.resolve("follower");
        try (Store leader = TestStores.open(tmp.resolve("leader"), StoreOptions.defaults()
                .withRollCycle(TestRollCycles.TEST_SECONDLY), walClock);
             ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"));
             WalShipper shipper = new WalShipper(leader.dir(), archive, new WalShipper.Options(Codec.ZSTD, 32 << 10));
             ReplicationServer repl = new ReplicationServer(leader, new InetSocketAddress("127.0.0.1", 0),
                     ReplicationOptions.defaults()).start()) {
            write(leader, 0, 200);
            try (Snapshot snap = leader.snapshot(); InputStream in = snap.openStream()) {
                SnapshotLoader.load(in, followerDir);
            }
            ControlFile.read(followerDir).asStandby().write(followerDir);
            FollowerLoop.Options opts = FollowerLoop.Options.defaults(new HostPort("127.0.0.1", repl.address().getPort()))
                    .withNodeId("f1").withBackoff(Duration.ofMillis(10), Duration.ofMillis(200), seed);
            long stoppedAt;
            try (Store follower = Store.open(followerDir);
                 FollowerLoop loop = new FollowerLoop(follower, archive, opts).start()) {
                write(leader, 200, 400);
                await("streaming", () -> follower.lastLsn() == leader.lastLsn());
                assertEquals("stream", loop.status().source());
                stoppedAt = follower.lastLsn();
            }
            // the follower is down: the leader writes across several WAL files, archives and recycles them
            for (int c = 0; c < 4; c++) {
                write(leader, 400 + c * 300, 700 + c * 300);
                walClock.advanceMillis(1_100);
            }
            shipper.shipOnce();
            leader.marks().setArchived(leader.lastLsn());
            leader.checkpoint();
            try (WalReader r = leader.walReader()) {
                assertThrows(WalNoLongerAvailableException.class, () -> r.seek(stoppedAt + 1),
                        "the WAL the follower needs next is gone from the leader");
            }
            long archivedTo = leader.lastLsn();
            try (Store follower = Store.open(followerDir);
                 FollowerLoop loop = new FollowerLoop(follower, archive, opts).start()) {
                assertEquals(stoppedAt, follower.lastLsn(), "resumed from its own state");
                write(leader, 2_000, 2_300); // more after the archive's end: only the stream has these
                await("caught up", () -> follower.lastLsn() == leader.lastLsn());
                assertEquals(leader.digest(), follower.digest());
                assertEquals(archivedTo - stoppedAt, loop.archivedEntries(), "everything the archive had came from it");
                // the counter moves right after the apply that readers already see
                await("the rest was streamed", () -> loop.streamedEntries() == leader.lastLsn() - archivedTo);
                assertEquals("stream", loop.status().source());
                assertNull(loop.failure());
            }
        }
    }
}
