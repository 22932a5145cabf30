package io.walship.shipper.repl;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.BooleanSupplier;

import io.walship.protocol.repl.Frame;
import io.walship.protocol.tls.TestTls;
import io.walship.protocol.tls.Tls;
import io.walship.wal.Poll;
import io.walship.wal.Store;
import io.walship.wal.WriteBatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The replication endpoint over TLS: the watchdog still frees a sender blocked on a follower that
 * stopped reading (closing a TLS connection must not wait for that sender), and a follower that
 * never finishes its handshake is dropped like one that never sends HELLO.
 */
class ReplicationServerTlsTest {
    @TempDir
    Path tmp;

    private static void await(String what, BooleanSupplier cond) {
        Poll.until(Duration.ofSeconds(60), cond, () -> "until " + what);
    }

    @Test
    void aTlsFollowerThatStopsReadingIsDroppedAndTheEndpointServesOn() throws Exception {
        Path tls = TestTls.writeTo(tmp.resolve("tls"));
        ReplicationOptions options = ReplicationOptions.defaults()
                // 3 s: the TLS handshake is bounded by the timeout too, and took over 1 s once at load 15
                .withTimeouts(Duration.ofMillis(200), Duration.ofSeconds(3))
                .withSockets(Tls.serverSockets(Tls.serverContext(tls.resolve("server.pem"), tls.resolve("server.key"))));
        javax.net.SocketFactory client = Tls.clientSockets(Tls.clientContext(tls.resolve("ca.pem")));
        try (Store store = Store.open(tmp.resolve("leader"));
             ReplicationServer server = new ReplicationServer(store, new InetSocketAddress("127.0.0.1", 0), options).start()) {
            for (int i = 0; i < 3; i++) {
                store.put(("key-" + i).getBytes(StandardCharsets.UTF_8), new byte[10]);
            }
            // a TCP connection that never starts its handshake: dropped after the timeout like a missing HELLO
            try (java.net.Socket mute = new java.net.Socket()) {
                mute.connect(server.address(), 5_000);
                mute.setSoTimeout(30_000);
                assertTrue(mute.getInputStream().read() < 0, "the leader hangs up on a silent connection");
            }
            try (TestFollower stuck = TestFollower.connect(server.address(), client)) {
                assertInstanceOf(Frame.Welcome.class, stuck.handshake(TestFollower.hello(store.systemId(),
                        store.timeline(), 1, "", "", "stuck")));
                // it talks (FEEDBACK) but never reads: the sender blocks once the socket buffers fill
                Thread talker = new Thread(() -> {
                    try {
                        while (!stuck.conn.isClosed()) {
                            stuck.conn.write(new Frame.Feedback(0, 0, 0, 0, 0));
                            java.util.concurrent.locks.LockSupport.parkNanos(50_000_000L);
                        }
                    } catch (IOException e) {
                        // the leader hung up, as it should
                    }
                });
                talker.setDaemon(true);
                talker.start();
                for (int i = 0; i < 24 && !server.sessions().isEmpty(); i++) {
                    WriteBatch b = new WriteBatch();
                    for (int k = 0; k < 1000; k++) {
                        b.put(("big-" + i + "-" + k).getBytes(StandardCharsets.UTF_8), new byte[1000]);
                    }
                    store.write(b);
                }
                await("the stuck follower is dropped", () -> server.sessions().isEmpty());
            }
            // the endpoint serves on: a new TLS follower is welcomed
            try (TestFollower next = TestFollower.connect(server.address(), client)) {
                assertInstanceOf(Frame.Welcome.class, next.handshake(TestFollower.hello(store.systemId(),
                        store.timeline(), 1, "", "", "next")));
            }
        }
    }
}
