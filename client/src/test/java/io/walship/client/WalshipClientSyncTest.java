package io.walship.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

import javax.net.SocketFactory;

import io.walship.protocol.HostPort;
import io.walship.protocol.repl.Frame;
import io.walship.protocol.repl.ReplConnection;
import io.walship.server.LeaderServer;
import io.walship.shipper.repl.ReplicationOptions;
import io.walship.shipper.repl.ReplicationServer;
import io.walship.shipper.repl.SyncOptions;
import io.walship.wal.Store;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Commit modes through {@link WalshipClient} against a real semi-sync leader (degrade after
 * 300 ms): the per-write {@code ?sync=} override (weaker goes through at once, stronger is a 400
 * that commits nothing), the builder's default, and {@code Walship-Sync} surfaced as a
 * {@link WriteResult} — {@code degraded} with no follower, {@code semi-sync} once a follower (a
 * protocol-level stand-in that acknowledges what it receives) has caught up.
 */
class WalshipClientSyncTest {
    @TempDir
    Path tmp;
    private Store store;
    private ReplicationServer replication;
    private LeaderServer leader;
    private ReplConnection follower;
    private WalshipClient client;

    @AfterEach
    void stop() throws IOException {
        if (client != null) {
            client.close();
        }
        if (follower != null) {
            follower.close();
        }
        if (leader != null) {
            leader.close();
        }
        if (replication != null) {
            replication.close();
        }
        if (store != null) {
            store.close();
        }
    }

    private static void await(String what, BooleanSupplier cond) {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        long park = 1_000_000;
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within 60 s: " + what);
            }
            LockSupport.parkNanos(park);
            park = Math.min(park * 2, 50_000_000);
        }
    }

    @Test
    void perWriteSyncOverrideAndTheSyncHeaderAgainstARealLeader() throws Exception {
        store = Store.open(tmp.resolve("leader"));
        replication = new ReplicationServer(store, new InetSocketAddress("127.0.0.1", 0), ReplicationOptions.defaults(),
                new SyncOptions(SyncOptions.Mode.SEMI_SYNC, 1, Duration.ofMillis(300), SyncOptions.OnTimeout.DEGRADE))
                .start();
        leader = new LeaderServer(store, new InetSocketAddress("127.0.0.1", 0), null, replication, null).start();
        String url = "http://127.0.0.1:" + leader.address().getPort();
        client = WalshipClient.builder(url).requestTimeout(Duration.ofSeconds(20)).build();
        Session s = new Session();

        // no follower: ?sync=async is answered at once, before any timeout, and says so
        WriteResult weak = client.put(s, "a", "1", SyncMode.ASYNC);
        assertEquals(store.lastLsn(), weak.lsn());
        assertEquals(weak.lsn(), s.lsn());
        assertEquals("async", weak.sync());
        assertEquals(Optional.of(SyncMode.ASYNC), weak.mode());
        assertFalse(weak.degraded());
        assertEquals(0, replication.acks().status().degradations(), "the async write waited for no ack");

        // stronger than the leader's mode: 400, nothing committed
        long before = store.lastLsn();
        BadRequestException strong = assertThrows(BadRequestException.class,
                () -> client.put(s, "b", "2", SyncMode.SYNC));
        assertTrue(strong.getMessage().contains("stronger"), strong.getMessage());
        assertEquals(before, store.lastLsn());

        // the leader's own mode with no follower: answered after the timeout, degraded
        WriteResult degraded = client.put(s, "c", "3", null);
        assertTrue(degraded.degraded(), "Walship-Sync: " + degraded.sync());
        assertEquals(Optional.empty(), degraded.mode());
        WriteResult still = client.delete(s, "c", null);
        assertEquals(degraded.lsn() + 1, still.lsn());
        assertTrue(still.degraded(), "degraded until a follower catches up: " + still.sync());

        // the builder's default applies to the forms without a mode, and to a null mode
        try (WalshipClient asyncByDefault = WalshipClient.builder(url).sync(SyncMode.ASYNC).build()) {
            assertEquals("async", asyncByDefault.batch(s, new Batch().put("d", "4"), null).sync());
            long lsn = asyncByDefault.put(s, "e", "5");
            assertEquals(store.lastLsn(), lsn);
        }

        // a follower connects and acknowledges what it receives: degraded mode ends, writes wait again
        follower = ReplConnection.connect(SocketFactory.getDefault(),
                new HostPort("127.0.0.1", replication.address().getPort()), Duration.ofSeconds(5));
        follower.readTimeout(Duration.ofSeconds(30));
        follower.write(new Frame.Hello(Frame.VERSION, store.systemId(), store.timeline(), 1, "", "", "f1"));
        assertTrue(follower.read() instanceof Frame.Welcome);
        ReplConnection c = follower;
        Thread acks = new Thread(() -> {
            long flushed = 0;
            try {
                while (true) {
                    Frame f = c.read();
                    if (f instanceof Frame.Wal w) {
                        flushed = w.entries().get(w.entries().size() - 1).lsn();
                        c.write(new Frame.Feedback(flushed, flushed, flushed, 0, w.leaderSendMicros()));
                    } else if (f instanceof Frame.Keepalive k && k.replyRequested()) {
                        c.write(new Frame.Feedback(flushed, flushed, flushed, 0, k.leaderSendMicros()));
                    }
                }
            } catch (IOException e) {
                // the test is over
            }
        }, "test-follower");
        acks.setDaemon(true);
        acks.start();
        await("degraded mode ended", () -> !replication.acks().degraded());
        WriteResult acked = client.put(s, "f", "6", null);
        assertEquals("semi-sync", acked.sync());
        assertEquals(Optional.of(SyncMode.SEMI_SYNC), acked.mode());
        assertFalse(acked.degraded());
        assertEquals("semi-sync", client.batch(s, new Batch().put("g", "7"), SyncMode.SEMI_SYNC).sync());
    }
}
