package io.walship.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;

import io.walship.wal.Faults;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every 503 to a read ({@code /kv}, {@code /scan}, {@code /digest}, {@code /snapshot}) carries {@code Walship-LSN}
 * once, the node's shown LSN, also when the store refused it (failed, closed) before any wait for visibility; other
 * refusals of a read do not get one.
 */
class RefusedReadLsnTest {
    @TempDir
    Path tmp;
    private final HttpClient http = HttpClient.newHttpClient();

    private static final List<String> READS = List.of("/kv/a", "/scan", "/digest", "/snapshot", "/snapshot?for=follower");

    private HttpResponse<String> get(String base, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(base + path)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> put(String base, String key, String value) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(base + "/kv/" + key)).PUT(HttpRequest.BodyPublishers.ofString(value))
                .build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void aFailedStoresRefusedReadsCarryTheLastDurableLsnOnce() throws Exception {
        try (Faults f = new Faults(tmp.resolve("d"));
             LeaderServer s = new LeaderServer(f.store, new InetSocketAddress("127.0.0.1", 0)).start()) {
            String base = "http://127.0.0.1:" + s.address().getPort();
            HttpResponse<String> ok = put(base, "a", "1");
            assertEquals(200, ok.statusCode(), ok.body());
            String durable = ok.headers().firstValue("Walship-LSN").orElseThrow();
            f.failSyncs();
            assertEquals(503, put(base, "b", "2").statusCode(), "setup: the store failed");
            for (String path : READS) {
                HttpResponse<String> r = get(base, path);
                assertEquals(503, r.statusCode(), path + ": " + r.body());
                // the commit whose sync failed is never named
                assertEquals(List.of(durable), r.headers().allValues("Walship-LSN"), path + ": " + r.body().trim());
            }
        }
    }

    @Test
    void aClosedStoresRefusedReadsCarryItsLsn() throws Exception {
        Store store = Store.open(tmp.resolve("d"));
        try (LeaderServer s = new LeaderServer(store, new InetSocketAddress("127.0.0.1", 0)).start()) {
            String base = "http://127.0.0.1:" + s.address().getPort();
            HttpResponse<String> ok = put(base, "a", "1");
            assertEquals(200, ok.statusCode(), ok.body());
            String lsn = ok.headers().firstValue("Walship-LSN").orElseThrow();
            store.close();
            for (String path : READS) {
                HttpResponse<String> r = get(base, path);
                assertEquals(503, r.statusCode(), path + ": " + r.body());
                assertTrue(r.body().contains("closed"), path + ": " + r.body());
                assertEquals(List.of(lsn), r.headers().allValues("Walship-LSN"), path + ": " + r.body().trim());
            }
        } finally {
            store.close();
        }
    }

    @Test
    void aReadRefusedForAnotherReasonCarriesNone() throws Exception {
        try (Store store = Store.open(tmp.resolve("d"));
             LeaderServer s = new LeaderServer(store, new InetSocketAddress("127.0.0.1", 0)).start()) {
            String base = "http://127.0.0.1:" + s.address().getPort();
            for (String path : List.of("/kv/a?min_lsn=zz", "/scan?limit=-1", "/snapshot?for=nobody")) {
                HttpResponse<String> r = get(base, path);
                assertEquals(400, r.statusCode(), path + ": " + r.body());
                assertEquals(List.of(), r.headers().allValues("Walship-LSN"), path);
            }
        }
    }
}
