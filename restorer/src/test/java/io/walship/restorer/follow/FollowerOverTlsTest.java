package io.walship.restorer.follow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Random;
import java.util.function.BooleanSupplier;

import javax.net.ssl.SSLContext;

import io.walship.protocol.HostPort;
import io.walship.protocol.tls.TestTls;
import io.walship.protocol.tls.Tls;
import io.walship.shipper.repl.ReplicationOptions;
import io.walship.shipper.repl.ReplicationServer;
import io.walship.wal.Durability;
import io.walship.wal.Poll;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The follower loop against real replication servers over TLS (the committed test CA), in one JVM:
 * leader → middle → bottom, both hops TLS, reach the leader's digest; a follower that trusts only
 * the JVM's default store stops for good (no retry, no plaintext).
 */
class FollowerOverTlsTest {
    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static void await(String what, BooleanSupplier cond) {
        Poll.until(Duration.ofSeconds(60), cond, () -> "until " + what);
    }

    private Store standbyOf(Store leader, String name) throws Exception {
        return Standbys.of(leader, tmp.resolve(name));
    }

    @Test
    void cascadesOverTlsToTheLeadersDigestAndAnUntrustingFollowerStops() throws Exception {
        long seed = System.nanoTime();
        System.out.println("seed " + seed);
        Random rnd = new Random(seed);
        Path tls = TestTls.writeTo(tmp.resolve("tls"));
        SSLContext rsa = Tls.serverContext(tls.resolve("server.pem"), tls.resolve("server.key"));
        SSLContext ec = Tls.serverContext(tls.resolve("ec-server.pem"), tls.resolve("ec-server.key"));
        SSLContext trusting = Tls.clientContext(tls.resolve("ca.pem"));
        try (Store leader = Store.open(tmp.resolve("leader"))) {
            for (int i = 0; i < 300; i++) {
                leader.put(b("k" + rnd.nextInt(200)), b("v" + i), Durability.ASYNC);
            }
            try (Store middle = standbyOf(leader, "middle");
                 Store bottom = standbyOf(leader, "bottom");
                 Store stranger = standbyOf(leader, "stranger");
                 ReplicationServer top = new ReplicationServer(leader, new InetSocketAddress("127.0.0.1", 0),
                         ReplicationOptions.defaults().withSockets(Tls.serverSockets(rsa))).start();
                 FollowerLoop first = new FollowerLoop(middle, null, FollowerLoop.Options.defaults(
                         new HostPort("127.0.0.1", top.address().getPort())).withNodeId("middle")
                         .withBackoff(Duration.ofMillis(10), Duration.ofMillis(200), seed),
                         Tls.clientSockets(trusting), Clock.systemUTC()).start();
                 ReplicationServer cascade = new ReplicationServer(middle, new InetSocketAddress("127.0.0.1", 0),
                         ReplicationOptions.defaults().withSockets(Tls.serverSockets(ec))).start();
                 FollowerLoop second = new FollowerLoop(bottom, null, FollowerLoop.Options.defaults(
                         new HostPort("localhost", cascade.address().getPort())).withNodeId("bottom")
                         .withBackoff(Duration.ofMillis(10), Duration.ofMillis(200), seed + 1),
                         Tls.clientSockets(trusting), Clock.systemUTC()).start()) {
                for (int i = 0; i < 3_000; i++) {
                    leader.put(b("k" + rnd.nextInt(200)), b("w" + i), Durability.ASYNC);
                }
                leader.awaitDurable(leader.lastLsn(), Duration.ofSeconds(10));
                await("the bottom follower applied everything", () -> bottom.lastLsn() == leader.lastLsn());
                assertEquals(leader.digest(), middle.digest());
                assertEquals(leader.digest(), bottom.digest());
                assertEquals("stream", second.status().source());

                try (FollowerLoop untrusting = new FollowerLoop(stranger, null, FollowerLoop.Options.defaults(
                        new HostPort("127.0.0.1", top.address().getPort())).withNodeId("stranger")
                        .withBackoff(Duration.ofMillis(10), Duration.ofMillis(200), seed + 2),
                        Tls.clientSockets(Tls.clientContext(null)), Clock.systemUTC()).start()) {
                    assertTrue(untrusting.awaitStopped(Duration.ofSeconds(30)));
                    FollowerStoppedException e = assertInstanceOf(FollowerStoppedException.class, untrusting.failure());
                    assertNull(e.code());
                    assertTrue(e.getMessage().contains("does not trust") && e.getMessage().contains("--leader-tls-ca"),
                            e.getMessage());
                }
                // the leader serves on
                long lsn = leader.put(b("after"), b("stranger"), Durability.DURABLE);
                await("the chain still follows", () -> bottom.lastLsn() >= lsn);
                assertEquals(leader.digest(), bottom.digest());
            }
        }
    }
}
