package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;

import io.walship.protocol.Headers;
import io.walship.wal.Lsn;
import io.walship.wal.Store;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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
    void backupFromARunningLeader() {
        for (int i = 0; i < 50; i++) {
            assertEquals(0, CliRunner.run("kv", "put", "--url", url, "k" + i, "v" + i).exit());
        }
        String archive = "file://" + tmp.resolve("archive");
        CliRunner.Result r = CliRunner.run("backup", "--url", url, "--archive", archive);
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().startsWith("base backup at LSN " + Lsn.format(store.lastLsn())), r.out());
        CliRunner.Result list = CliRunner.run("archive", "list", "--archive", archive);
        assertTrue(list.out().contains("backup     at LSN " + Lsn.format(store.lastLsn())), list.out());
        CliRunner.Result json = CliRunner.run("archive", "list", "--archive", archive, "--json");
        assertTrue(json.out().contains("\"backups\":[{"), json.out());
    }

    @Test
    void kvCommandsGoThroughTheLeader() {
        assertEquals(0, CliRunner.run("kv", "put", "--url", url, "x", "1").exit());
        assertEquals(0, CliRunner.run("kv", "put", "--url", url, "y z", "tab\there").exit());
        assertEquals("1\n", CliRunner.run("kv", "get", "--url", url, "x").out());
        assertEquals("x\t1\ny z\ttab\\there\n", CliRunner.run("kv", "dump", "--url", url).out());
        assertEquals("x\t1\n", CliRunner.run("kv", "scan", "--url", url, "--prefix", "x").out());
        CliRunner.Result digest = CliRunner.run("kv", "digest", "--url", url);
        assertEquals(store.digest().sha256(), digest.out().substring(0, 64));
        assertEquals(ExitCodes.FAILURE, CliRunner.run("kv", "get", "--url", url, "nope").exit());
        CliRunner.Result tooBig = CliRunner.run("kv", "put", "--url", url, "k", "x".repeat(2000));
        assertEquals(ExitCodes.USAGE, tooBig.exit());
        assertTrue(tooBig.err().contains("the limit is 1024"), tooBig.err());
    }
}
