package io.walship.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;

import javax.net.SocketFactory;

import com.fasterxml.jackson.databind.JsonNode;
import io.walship.protocol.AuthToken;
import io.walship.protocol.HostPort;
import io.walship.protocol.Json;
import io.walship.protocol.repl.Frame;
import io.walship.protocol.repl.ReplConnection;
import io.walship.shipper.repl.ReplicationOptions;
import io.walship.shipper.repl.ReplicationServer;
import io.walship.wal.Lsn;
import io.walship.wal.Store;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A leader with --repl and --auth-token-file: followers and slots in /status and /metrics; writes need the token. */
class LeaderReplicationHttpTest {
    private static final String TOKEN = "correct-horse-battery-staple";
    @TempDir
    Path tmp;
    private Store store;
    private ReplicationServer replication;
    private LeaderServer server;
    private String url;
    private final HttpClient http = HttpClient.newHttpClient();

    @BeforeEach
    void start() throws Exception {
        store = Store.open(tmp.resolve("leader"));
        AuthToken token = AuthToken.of(TOKEN + "\n");
        replication = new ReplicationServer(store, new InetSocketAddress("127.0.0.1", 0),
                ReplicationOptions.defaults().withAuthToken(token)
                        .withTimeouts(Duration.ofMillis(100), Duration.ofSeconds(10))).start();
        server = new LeaderServer(store, new InetSocketAddress("127.0.0.1", 0), null, replication, token).start();
        url = "http://127.0.0.1:" + server.address().getPort();
    }

    @AfterEach
    void stop() {
        server.close();
        replication.close();
        store.close();
    }

    private HttpResponse<String> send(String method, String path, String body, String authorization) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url + path));
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void writesNeedTheBearerTokenAndReadsDoNot() throws Exception {
        for (String bad : new String[] {null, "Bearer wrong", "Basic " + TOKEN, "Bearer", "Bearer " + TOKEN + "x"}) {
            for (String[] w : new String[][] {{"PUT", "/kv/a"}, {"DELETE", "/kv/a"}, {"POST", "/kv/a"},
                {"POST", "/batch"}}) {
                HttpResponse<String> r = send(w[0], w[1], w[1].equals("/batch")
                        ? "{\"ops\":[{\"op\":\"put\",\"key\":\"a\",\"value\":\"1\"}]}" : "v", bad);
                assertEquals(401, r.statusCode(), w[0] + " " + w[1] + " with " + bad + ": " + r.body());
                assertTrue(r.body().startsWith("error: ") && r.body().lines().count() == 1, r.body());
                assertTrue(r.headers().firstValue("WWW-Authenticate").orElse("").startsWith("Bearer"));
            }
        }
        assertEquals(1, store.lastLsn(), "nothing was written");
        HttpResponse<String> ok = send("PUT", "/kv/a", "v", "Bearer " + TOKEN);
        assertEquals(200, ok.statusCode(), ok.body());
        assertEquals(200, send("PUT", "/kv/b", "v", "bearer " + TOKEN).statusCode(), "the scheme is case-insensitive");
        assertEquals(200, send("GET", "/kv/a", null, null).statusCode());
        assertEquals(200, send("GET", "/status", null, null).statusCode());
    }

    @Test
    void statusAndMetricsShowEachFollowerAndSlot() throws Exception {
        for (int i = 0; i < 20; i++) {
            store.put(("k" + i).getBytes(), "v".getBytes());
        }
        long last = store.durableLsn();
        try (ReplConnection c = ReplConnection.connect(SocketFactory.getDefault(),
                new HostPort("127.0.0.1", replication.address().getPort()), Duration.ofSeconds(5))) {
            c.readTimeout(Duration.ofSeconds(20));
            c.write(new Frame.Hello(1, store.systemId(), store.timeline(), 1, "replica_a", TOKEN, "node-b"));
            assertInstanceOf(Frame.Welcome.class, c.read());
            long got = 0;
            long echo = 0;
            while (got < last) {
                Frame f = c.read();
                if (f instanceof Frame.Wal w) {
                    got = w.entries().get(w.entries().size() - 1).lsn();
                    echo = w.leaderSendMicros();
                }
            }
            c.write(new Frame.Feedback(last, last, last - 5, System.currentTimeMillis() * 1000, echo));
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            JsonNode follower;
            while (true) {
                JsonNode status = Json.tree(send("GET", "/status", null, null).body());
                follower = status.path("replication").path(0);
                if (follower.path("flushLsn").asText().equals(Lsn.format(last))) {
                    JsonNode slot = status.path("slots").path(0);
                    assertEquals("replica_a", slot.path("name").asText());
                    assertTrue(slot.path("active").asBoolean());
                    assertEquals(false, slot.path("lost").asBoolean());
                    assertTrue(slot.has("retainedBytes") && slot.has("restartLsn"), slot.toString());
                    break;
                }
                assertTrue(System.nanoTime() < deadline, "the feedback never showed in /status: " + status);
                Thread.onSpinWait();
            }
            assertEquals("node-b", follower.path("nodeId").asText());
            assertEquals("replica_a", follower.path("slot").asText());
            assertTrue(follower.path("remote").asText().startsWith("127.0.0.1:"));
            assertEquals(Lsn.format(last), follower.path("sentLsn").asText());
            assertEquals(Lsn.format(last), follower.path("writeLsn").asText());
            assertEquals(Lsn.format(last - 5), follower.path("replayLsn").asText());
            for (String f : new String[] {"state", "writeLagMs", "flushLagMs", "replayLagMs"}) {
                assertTrue(follower.has(f), f + " in " + follower);
            }
            assertTrue(follower.path("writeLagMs").asLong() >= 0, follower.toString());

            String metrics = send("GET", "/metrics", null, null).body();
            for (String m : new String[] {"walship_replication_followers 1.0", "walship_replication_slots_lost_total 0.0",
                "walship_replication_lsn{follower=\"node-b\"", "position=\"flush\"", "walship_replication_lag_seconds{",
                "walship_replication_slot_retained_bytes{slot=\"replica_a\"}", "walship_replication_slot_lost{slot=\"replica_a\"} 0.0"}) {
                assertTrue(metrics.contains(m), m + " in\n" + metrics);
            }
        }
    }
}
