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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * review29 (smallfix): docs/PROTOCOL.md now says {@code Walship-LSN} is on "a 503 to a read of /kv, /scan or /digest
 * ..., whatever refused it (too far behind, ..., a lapsed lease, a failed store)", and README "A 503 to a read carries
 * Walship-LSN". A leader whose store has failed (a WAL sync failed) refuses every read 503 from Store.read /
 * Store.snapshot (checkOpen), before HttpApi.answerLsn runs, so that 503 carries no Walship-LSN.
 */
class FailedStoreReadLsnReview29Test {
    @TempDir
    Path tmp;
    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void aReadRefusedByAFailedStoreCarriesWalshipLsnAsProtocolMdSays() throws Exception {
        try (Faults f = new Faults(tmp.resolve("d"));
             LeaderServer s = new LeaderServer(f.store, new InetSocketAddress("127.0.0.1", 0)).start()) {
            String base = "http://127.0.0.1:" + s.address().getPort();
            HttpResponse<String> ok = http.send(HttpRequest.newBuilder(URI.create(base + "/kv/a"))
                    .PUT(HttpRequest.BodyPublishers.ofString("1")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, ok.statusCode(), ok.body());
            f.failSyncs();
            HttpResponse<String> put = http.send(HttpRequest.newBuilder(URI.create(base + "/kv/b"))
                    .PUT(HttpRequest.BodyPublishers.ofString("2")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(503, put.statusCode(), "setup: the store failed: " + put.body());
            for (String path : List.of("/kv/a", "/scan", "/digest")) {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + path)).GET().build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(503, r.statusCode(), path + ": " + r.body());
                assertTrue(r.headers().firstValue("Walship-LSN").isPresent(),
                        path + ": a 503 to a read refused by a failed store has no Walship-LSN (" + r.body().trim() + ")");
            }
        }
    }
}
