package io.walship.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import io.walship.protocol.Headers;
import io.walship.protocol.StatusResponse;
import io.walship.wal.ControlFile;
import io.walship.wal.Durability;
import io.walship.wal.Lsn;
import io.walship.wal.Snapshot;
import io.walship.wal.SnapshotLoader;
import io.walship.wal.Store;
import io.walship.wal.WalEntry;
import io.walship.wal.WalReader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A follower behind the one HTTP API: reads carry the applied LSN, {@code min_lsn} waits are
 * woken by applies (and do not hold HTTP threads), 503 after the wait, 421 on writes, 503 past
 * {@code --max-replay-lag}. The follower here is fed by hand from an in-process leader store.
 */
class FollowerNodeTest {
    @TempDir
    Path tmp;
    private Store leader;
    private Store follower;
    private HttpApi api;
    private String url;
    private WalReader reader;
    private final AtomicReference<StatusResponse.Follower> view = new AtomicReference<>(
            new StatusResponse.Follower("stream", "stream", "127.0.0.1:7071", "http://127.0.0.1:7070", null, null, 0, 0, 0, null));
    private final HttpClient http = HttpClient.newBuilder().executor(java.util.concurrent.Executors.newCachedThreadPool()).build();

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @BeforeEach
    void start() throws Exception {
        leader = Store.open(tmp.resolve("leader"));
        leader.put(b("a"), b("1"));
        Path fdir = tmp.resolve("follower");
        try (Snapshot s = leader.snapshot(); InputStream in = s.openStream()) {
            SnapshotLoader.load(in, fdir);
        }
        ControlFile.read(fdir).asStandby().write(fdir);
        follower = Store.open(fdir);
        reader = leader.walReader();
        reader.seek(follower.lastLsn() + 1);
        api = new HttpApi(new FollowerNode(follower, view::get, Duration.ofSeconds(5), Duration.ofSeconds(30)),
                new InetSocketAddress("127.0.0.1", 0)).start();
        url = "http://127.0.0.1:" + api.address().getPort();
    }

    @AfterEach
    void stop() {
        api.close();
        reader.close();
        follower.close();
        leader.close();
    }

    /** Applies everything the leader has made durable. */
    private void catchUp() {
        List<WalEntry> batch = new ArrayList<>();
        WalEntry e;
        while ((e = reader.next()) != null) {
            batch.add(e);
        }
        follower.applyAll(batch, Durability.DURABLE);
    }

    private HttpResponse<String> send(String method, String path, String body) throws Exception {
        return sendAsync(method, path, body).get(30, TimeUnit.SECONDS);
    }

    private CompletableFuture<HttpResponse<String>> sendAsync(String method, String path, String body) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url + path));
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        return http.sendAsync(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void readsCarryTheAppliedLsnAndWritesAreMisdirected() throws Exception {
        HttpResponse<String> get = send("GET", "/kv/a", null);
        assertEquals(200, get.statusCode());
        assertEquals("1", get.body());
        assertEquals(Lsn.format(follower.lastLsn()), get.headers().firstValue(Headers.LSN).orElseThrow());
        for (String[] w : new String[][]{{"PUT", "/kv/a"}, {"DELETE", "/kv/a"}, {"POST", "/batch"}}) {
            HttpResponse<String> r = send(w[0], w[1], w[0].equals("POST") ? "{\"ops\":[{\"op\":\"put\",\"key\":\"k\",\"value\":\"v\"}]}" : "x");
            assertEquals(421, r.statusCode(), w[0] + " " + w[1] + ": " + r.body());
            assertEquals("http://127.0.0.1:7070", r.headers().firstValue(Headers.LEADER).orElseThrow());
            assertTrue(r.body().contains("http://127.0.0.1:7070"), r.body());
        }
        HttpResponse<String> status = send("GET", "/status", null);
        assertTrue(status.body().contains("\"role\":\"follower\""), status.body());
        assertTrue(status.body().contains("\"source\":\"stream\""), status.body());
        assertTrue(send("GET", "/metrics", null).body().contains("walship_applied_lsn"));
        assertEquals(400, send("GET", "/kv/a?min_lsn=zz", null).statusCode());
        // past 2^63 - 1 (unsigned hex): no store reaches it; it was answered at once, as if applied (review21)
        HttpResponse<String> huge = send("GET", "/kv/a?min_lsn=8000000000000000", null);
        assertEquals(400, huge.statusCode(), huge.body());
        assertEquals(400, send("GET", "/kv/a?min_lsn=FFFFFFFFFFFFFFFF", null).statusCode());
    }

    @Test
    void minLsnWaitsForTheApplyWithoutHoldingHttpThreads() throws Exception {
        long lsn = leader.put(b("a"), b("2"));
        // more waiting reads than the HTTP pool has threads, in all three LSN spellings
        List<CompletableFuture<HttpResponse<String>>> waiting = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            String min = switch (i % 3) {
                case 0 -> Lsn.format(lsn);
                case 1 -> "0x" + Long.toHexString(lsn);
                default -> Long.toString(lsn);
            };
            waiting.add(sendAsync("GET", i % 2 == 0 ? "/kv/a?min_lsn=" + min : "/digest?min_lsn=" + min, null));
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (api.waitingReadsForTesting() < 100) {
            assertTrue(System.nanoTime() < deadline, "reads did not park: " + api.waitingReadsForTesting());
            Thread.onSpinWait();
        }
        // other requests are still served while 100 reads wait
        HttpResponse<String> plain = send("GET", "/kv/a", null);
        assertEquals("1", plain.body(), "the follower has not applied the new value yet");
        assertTrue(waiting.stream().noneMatch(CompletableFuture::isDone));
        catchUp();
        for (int i = 0; i < waiting.size(); i++) {
            HttpResponse<String> r = waiting.get(i).get(10, TimeUnit.SECONDS);
            assertEquals(200, r.statusCode(), r.body());
            assertTrue(Lsn.parse(r.headers().firstValue(Headers.LSN).orElseThrow()) >= lsn);
            if (i % 2 == 0) {
                assertEquals("2", r.body(), "read-your-writes");
            }
        }
        assertEquals(0, api.waitingReadsForTesting());
    }

    @Test
    void aWaitThatRunsOutIs503WithTheCurrentLsn() throws Exception {
        api.close();
        api = new HttpApi(new FollowerNode(follower, view::get, Duration.ofMillis(300), null),
                new InetSocketAddress("127.0.0.1", 0)).start();
        url = "http://127.0.0.1:" + api.address().getPort();
        long want = follower.lastLsn() + 5;
        long t0 = System.nanoTime();
        HttpResponse<String> r = send("GET", "/kv/a?min_lsn=" + want, null);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(503, r.statusCode(), r.body());
        assertEquals(Lsn.format(follower.lastLsn()), r.headers().firstValue(Headers.LSN).orElseThrow());
        assertTrue(r.body().contains(Lsn.format(want)), r.body());
        assertTrue(ms >= 290, "answered after the wait, not before: " + ms + " ms");
    }

    @Test
    void pastMaxReplayLagPlainReadsAre503ButMinLsnReadsAreAnswered() throws Exception {
        view.set(new StatusResponse.Follower("stream", "stream", "127.0.0.1:7071", null, null, null, 10, 45.0, 0, null));
        HttpResponse<String> r = send("GET", "/kv/a", null);
        assertEquals(503, r.statusCode());
        assertTrue(r.body().contains("max-replay-lag"), r.body());
        assertEquals(503, send("GET", "/scan", null).statusCode());
        assertEquals(200, send("GET", "/kv/a?min_lsn=1", null).statusCode(), "a token the follower has reached is served");
        HttpResponse<String> w = send("PUT", "/kv/a", "x");
        assertEquals("127.0.0.1:7071", w.headers().firstValue(Headers.LEADER).orElseThrow(),
                "without the leader's URL the replication address is named");
        view.set(new StatusResponse.Follower("stream", "stream", "127.0.0.1:7071", null, null, null, 0, 0.0, 0, null));
        assertEquals(200, send("GET", "/kv/a", null).statusCode());
        view.set(new StatusResponse.Follower("connecting", "archive", "127.0.0.1:7071", null, null, null, -1, -1, 0, null));
        HttpResponse<String> unknown = send("GET", "/kv/a", null);
        assertEquals(503, unknown.statusCode(), "a lag that is not known yet is not within the bound");
        assertTrue(unknown.body().contains("not heard from its leader"), unknown.body());
    }
}
