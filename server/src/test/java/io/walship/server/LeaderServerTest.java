package io.walship.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;

import io.walship.archive.LocalObjectStore;
import io.walship.archive.ObjectStore;
import io.walship.protocol.Headers;
import io.walship.shipper.ShipLoop;
import io.walship.shipper.WalShipper;
import io.walship.wal.Lsn;
import io.walship.wal.Store;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A leader over HTTP: writes answer with their LSN, reads carry it, bad requests get one line, /status and /metrics. */
class LeaderServerTest {
    @TempDir
    Path tmp;
    private Store store;
    private LeaderServer server;
    private String url;
    private final HttpClient http = HttpClient.newHttpClient();

    @BeforeEach
    void start() throws Exception {
        store = Store.open(tmp.resolve("leader"));
        server = new LeaderServer(store, new InetSocketAddress("127.0.0.1", 0)).start();
        url = "http://127.0.0.1:" + server.address().getPort();
    }

    @AfterEach
    void stop() {
        server.close();
        store.close();
    }

    private HttpResponse<String> send(String method, String path, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url + path));
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void writesAnswerWithLsnAndReadsCarryIt() throws Exception {
        HttpResponse<String> put = send("PUT", "/kv/user%2F1", "alice");
        assertEquals(200, put.statusCode());
        String lsn = put.headers().firstValue(Headers.LSN).orElseThrow();
        assertEquals("{\"lsn\":\"" + lsn + "\"}\n", put.body());
        HttpResponse<String> get = send("GET", "/kv/user%2F1", null);
        assertEquals("alice", get.body());
        assertEquals(lsn, get.headers().firstValue(Headers.LSN).orElseThrow());
        assertEquals("alice", new String(store.get("user/1".getBytes())));

        HttpResponse<String> batch = send("POST", "/batch",
                "{\"ops\":[{\"op\":\"put\",\"key\":\"a\",\"value\":\"1\"},{\"op\":\"delete\",\"key\":\"user/1\"}]}");
        assertEquals(200, batch.statusCode(), batch.body());
        assertEquals(Lsn.parse(lsn) + 1, Lsn.parse(batch.headers().firstValue(Headers.LSN).orElseThrow()));
        assertEquals(404, send("GET", "/kv/user%2F1", null).statusCode());
        assertEquals(200, send("DELETE", "/kv/a", null).statusCode());

        HttpResponse<String> status = send("GET", "/status", null);
        assertTrue(status.body().contains("\"role\":\"leader\""), status.body());
        assertTrue(status.body().contains("\"durableLsn\":\"" + Lsn.format(store.durableLsn()) + "\""), status.body());

        HttpResponse<String> metrics = send("GET", "/metrics", null);
        assertTrue(metrics.body().contains("walship_commits_total"), metrics.body());
        assertTrue(metrics.body().contains("walship_wal_fsyncs_total"), metrics.body());
        assertTrue(metrics.body().contains("walship_commit_latency_seconds"), metrics.body());
        for (String m : new String[] {"walship_page_cache_capacity_bytes 2.68435456E8", "walship_page_cache_hits_total",
                "walship_page_cache_hit_ratio", "walship_page_cache_evictions_total", "walship_store_failed 0.0"}) {
            assertTrue(metrics.body().contains(m), m + " in " + metrics.body());
        }
        assertTrue(status.body().contains("\"pageCache\":{\"capacityBytes\":268435456,"), status.body());
        assertTrue(status.body().contains("\"failed\":false"), status.body());
    }

    @Test
    void badRequestsGetA4xxAndOneLine() throws Exception {
        HttpResponse<String> big = send("PUT", "/kv/k", "x".repeat(5000));
        assertEquals(400, big.statusCode());
        assertEquals("error: value is 5000 bytes; the limit is 1024\n", big.body());
        assertEquals(400, send("POST", "/batch", "not json").statusCode());
        assertEquals(400, send("POST", "/batch", "{\"ops\":[]}").statusCode());
        assertEquals(400, send("POST", "/batch", "{\"ops\":[{\"op\":\"upsert\",\"key\":\"a\"}]}").statusCode());
        assertEquals(405, send("PATCH", "/kv/k", "v").statusCode());
        assertEquals(405, send("POST", "/status", "").statusCode());
        assertEquals(404, send("GET", "/nothing", null).statusCode());
        assertEquals(400, send("PUT", "/kv/k?durability=maybe", "v").statusCode());
        assertEquals(1, store.lastLsn(), "no bad request wrote anything");
    }

    @Test
    void statusShowsTheShipLoopOfALeaderThatShips() throws Exception {
        Path data = tmp.resolve("shipping");
        try (Store shipped = Store.open(data);
             ObjectStore archive = new LocalObjectStore(tmp.resolve("archive"));
             ShipLoop loop = new ShipLoop(data, archive, WalShipper.Options.defaults(), Duration.ofMillis(50),
                     ShipLoop.Listener.NONE);
             LeaderServer leader = new LeaderServer(shipped, new InetSocketAddress("127.0.0.1", 0), loop).start()) {
            String at = "http://127.0.0.1:" + leader.address().getPort();
            HttpResponse<String> before = http.send(HttpRequest.newBuilder(URI.create(at + "/status")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertTrue(before.body().contains("\"archive\":{\"archive\":\"" + archive.describe()
                    + "\",\"archivedUpTo\":null"), before.body());
            loop.start();
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            String body;
            do {
                assertTrue(System.nanoTime() < deadline, "the loop did not ship");
                java.util.concurrent.locks.LockSupport.parkNanos(20_000_000); // poll interval
                body = http.send(HttpRequest.newBuilder(URI.create(at + "/status")).build(),
                        HttpResponse.BodyHandlers.ofString()).body();
            } while (!body.contains("\"archivedUpTo\":\"" + Lsn.format(shipped.lastLsn()) + "\"")
                    // the lag is counted apart from archivedUpTo: a status between the two updates may show one
                    || !body.contains("\"archiveLag\":{\"bytes\":0,\"lsns\":0,\"seconds\":0.0}"));
            assertTrue(body.contains("\"lastError\":null}"), body);
        }
    }
}
