package io.walship.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;

import io.walship.shipper.repl.ReplicationOptions;
import io.walship.shipper.repl.ReplicationServer;
import io.walship.shipper.repl.SyncOptions;
import io.walship.shipper.repl.SyncOptions.Mode;
import io.walship.shipper.repl.SyncOptions.OnTimeout;
import io.walship.wal.Durability;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A semi-sync commit whose acks are in before its writer asks (AckTracker.waitFor answers with a
 * completed future, whose get never looks at the interrupt) reaches LeaderNode.recordSyncAcked
 * even on a thread that carries an interrupt. That one commit must not break the sync-acked mark
 * for every later commit of the leader (each answered with an error, though durable and acked).
 */
class SyncAckedInterruptTest {
    private static final Duration LONG = Duration.ofSeconds(60);
    @TempDir
    Path tmp;

    @Test
    void anInterruptedWriterDoesNotFailTheLaterSemiSyncCommits() throws Exception {
        try (Store store = Store.open(tmp.resolve("leader"))) {
            ReplicationServer replication = new ReplicationServer(store, new InetSocketAddress("127.0.0.1", 0),
                    ReplicationOptions.defaults().withTimeouts(Duration.ofMillis(200), Duration.ofSeconds(30)),
                    new SyncOptions(Mode.SEMI_SYNC, 1, LONG, OnTimeout.BLOCK)).start();
            FakeFollower f = FakeFollower.connect(replication.address(), store.systemId(), store.timeline(),
                    store.durableLsn() + 1, "f1", true);
            try {
                io.walship.wal.Poll.until(LONG, () -> !replication.sessions().isEmpty(), () -> "f1 connected");
                LeaderNode node = new LeaderNode(store, null, replication);
                assertEquals("semi-sync", commit(node, "a")); // the first mark of this open: renamed into place

                long lsn = node.put(bytes("b"), bytes("v"), Durability.DURABLE);
                io.walship.wal.Poll.until(LONG, () -> replication.acks().ackedLsn(1) >= lsn, () -> "b acked");
                AtomicReference<Object> interrupted = new AtomicReference<>();
                Thread t = new Thread(() -> {
                    Thread.currentThread().interrupt();
                    try {
                        interrupted.set(node.awaitCommit(lsn, node.commitWait(null, Durability.DURABLE)));
                    } catch (RuntimeException e) {
                        interrupted.set(e);
                    }
                }, "interrupted-writer");
                t.start();
                t.join();
                assertEquals("semi-sync", interrupted.get(), "acked, recorded and answered on an interrupted thread");
                assertEquals(lsn, store.marks().syncAcked().orElse(-1));

                for (int i = 0; i < 5; i++) {
                    assertEquals("semi-sync", commit(node, "c" + i), "a later commit on another thread");
                }
                assertEquals(store.lastLsn(), store.marks().syncAcked().orElse(-1));
            } finally {
                f.close();
                replication.close();
            }
        }
    }

    private static String commit(LeaderNode node, String key) {
        long lsn = node.put(bytes(key), bytes("v"), Durability.DURABLE);
        return node.awaitCommit(lsn, node.commitWait(null, Durability.DURABLE));
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
