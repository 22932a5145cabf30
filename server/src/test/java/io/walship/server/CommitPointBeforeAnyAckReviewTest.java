package io.walship.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

import com.fasterxml.jackson.databind.JsonNode;
import io.walship.protocol.Json;
import io.walship.shipper.repl.ReplicationOptions;
import io.walship.shipper.repl.ReplicationServer;
import io.walship.shipper.repl.SyncOptions;
import io.walship.wal.Durability;
import io.walship.wal.Lsn;
import io.walship.wal.Store;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * review21: the commit point of a leader in a sync mode that no follower has acknowledged anything
 * to yet (a fresh start, a restart, a promotion) is -1 inside {@code AckTracker.visibleLsn}
 * (min(durable, acked = -1)), and it is printed unguarded with {@code Lsn.format}: {@code /status}
 * {@code sync.visibleLsn} and the {@code Walship-LSN} of a read's 503 ({@code Node.shownLsn}) say
 * {@code FFFFFFFFFFFFFFFF} — in the canonical form, whose lexical order is LSN order, the highest
 * LSN there is, far above the durable LSN: the commit point a reader is told is everything.
 * ({@code sync.ackedLsn} beside it is guarded: absent while negative.)
 */
class CommitPointBeforeAnyAckReviewTest {
    @TempDir
    Path tmp;
    private Store store;
    private ReplicationServer replication;
    private LeaderServer server;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
        if (replication != null) {
            replication.close();
        }
        if (store != null) {
            store.close();
        }
    }

    @Test
    void aLeaderThatHasNoAcksYetNamesNoCommitPointAboveItsDurableLsn() throws Exception {
        store = Store.open(tmp.resolve("leader"));
        // commits from before the start (a restarted leader): durable, not acknowledged by anyone this run
        store.put("a".getBytes(StandardCharsets.UTF_8), "1".getBytes(StandardCharsets.UTF_8), Durability.DURABLE);
        store.put("b".getBytes(StandardCharsets.UTF_8), "2".getBytes(StandardCharsets.UTF_8), Durability.DURABLE);
        replication = new ReplicationServer(store, new InetSocketAddress("127.0.0.1", 0), ReplicationOptions.defaults(),
                new SyncOptions(SyncOptions.Mode.SEMI_SYNC, 1, Duration.ofHours(1), SyncOptions.OnTimeout.BLOCK)).start();
        server = new LeaderServer(store, new InetSocketAddress("127.0.0.1", 0), null, replication, null).start();
        String url = "http://127.0.0.1:" + server.address().getPort();
        String durable = Lsn.format(store.durableLsn());

        HttpResponse<String> st = http.send(HttpRequest.newBuilder(URI.create(url + "/status")).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, st.statusCode());
        JsonNode sync = Json.read(st.body().getBytes(StandardCharsets.UTF_8), JsonNode.class).get("sync");
        JsonNode v = sync.get("visibleLsn"); // absent (as ackedLsn is while there is none) would do too
        String visible = v == null || v.isNull() ? "" : v.asText();
        System.out.println("durableLsn " + durable + ", sync " + sync);
        java.util.List<String> wrong = new java.util.ArrayList<>();
        if (visible.compareTo(durable) > 0) {
            wrong.add("/status sync.visibleLsn " + visible + " is above the durable LSN " + durable
                    + " (nothing is acknowledged yet: the commit point is at most the durable LSN)");
        }

        // a read-your-writes read for an LSN not there yet: answered 503 at once, naming the commit point
        String min = Lsn.format(store.lastLsn() + 1);
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url + "/kv/a?min_lsn=" + min)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(503, r.statusCode(), r.body());
        String named = r.headers().firstValue("Walship-LSN").orElseThrow();
        if (named.compareTo(durable) > 0) {
            wrong.add("the 503 names Walship-LSN " + named + " (" + r.body().strip() + "), above the durable LSN "
                    + durable + " and above min_lsn " + min + " it says it has not reached");
        }
        assertTrue(wrong.isEmpty(), String.join("; ", wrong));
    }
}
