package io.walship.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import io.walship.protocol.Json;
import io.walship.protocol.PromoteResponse;
import io.walship.protocol.StatusResponse;
import io.walship.protocol.WalStream;
import io.walship.wal.ControlFile;
import io.walship.wal.Durability;
import io.walship.wal.EntryCodec;
import io.walship.wal.Lsn;
import io.walship.wal.Snapshot;
import io.walship.wal.SnapshotLoader;
import io.walship.wal.Store;
import io.walship.wal.WalEntry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code POST /promote} and {@code GET /wal} through the one HTTP API: a {@link SwitchingNode}
 * refuses a second promotion while one runs (409), keeps the follower when the promoter refuses
 * (409), switches to the leader the promoter built on success (200 with the timeline; writes go
 * through, a parked read is answered by the new node), and the leader refuses promotion (409).
 * {@code /wal} streams the WAL entries byte for byte.
 */
class PromoteEndpointTest {
    @TempDir
    Path tmp;
    private Store leader;
    private Store follower;
    private HttpApi api;
    private String url;
    private final HttpClient http = HttpClient.newBuilder().executor(java.util.concurrent.Executors.newCachedThreadPool()).build();

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @BeforeEach
    void start() throws Exception {
        leader = Store.open(tmp.resolve("leader"));
        for (int i = 0; i < 50; i++) {
            leader.put(b("k" + i), b("v" + i));
        }
        Path fdir = tmp.resolve("follower");
        try (Snapshot s = leader.snapshot(); InputStream in = s.openStream()) {
            SnapshotLoader.load(in, fdir);
        }
        ControlFile.read(fdir).asStandby().write(fdir);
        follower = Store.open(fdir);
    }

    @AfterEach
    void stop() {
        if (api != null) {
            api.close();
        }
        follower.close();
        leader.close();
    }

    private HttpResponse<String> send(String method, String path) throws Exception {
        return sendAsync(method, path).get(30, TimeUnit.SECONDS);
    }

    private CompletableFuture<HttpResponse<String>> sendAsync(String method, String path) {
        return http.sendAsync(HttpRequest.newBuilder(URI.create(url + path)).method(method,
                method.equals("PUT") ? HttpRequest.BodyPublishers.ofString("x") : HttpRequest.BodyPublishers.noBody()).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private FollowerNode followerNode() {
        StatusResponse.Follower view = new StatusResponse.Follower("stream", "stream", "127.0.0.1:7071",
                "http://127.0.0.1:7070", null, null, 0, 0, 0, null);
        return new FollowerNode(follower, () -> view, Duration.ofSeconds(20), null);
    }

    @Test
    void oneAtATimeARefusalKeepsTheFollowerAndSuccessSwitchesToTheLeader() throws Exception {
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger calls = new AtomicInteger();
        AtomicReference<List<String>> peersSeen = new AtomicReference<>();
        SwitchingNode node = new SwitchingNode(followerNode(), (force, peers) -> {
            peersSeen.set(peers);
            if (calls.incrementAndGet() == 1) {
                inside.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                throw new ConflictException("timeline 2 was already claimed; this node stays a follower");
            }
            return new SwitchingNode.Result(new LeaderNode(leader, null),
                    new PromoteResponse(2, 1, Lsn.format(follower.lastLsn()), null, 0));
        });
        api = new HttpApi(node, new InetSocketAddress("127.0.0.1", 0)).start();
        url = "http://127.0.0.1:" + api.address().getPort();

        CompletableFuture<HttpResponse<String>> first = sendAsync("POST", "/promote?peers=http://a:1,http://b:2");
        assertTrue(inside.await(30, TimeUnit.SECONDS));
        HttpResponse<String> second = send("POST", "/promote");
        assertEquals(409, second.statusCode(), second.body());
        assertTrue(second.body().contains("already being promoted"), second.body());
        release.countDown();
        HttpResponse<String> refused = first.get(30, TimeUnit.SECONDS);
        assertEquals(409, refused.statusCode(), refused.body());
        assertEquals(List.of("http://a:1", "http://b:2"), peersSeen.get());
        assertEquals(421, send("PUT", "/kv/x").statusCode(), "still a follower after a refusal");
        assertEquals(400, send("POST", "/promote?force=maybe").statusCode());
        assertEquals(405, send("GET", "/promote").statusCode());

        // a read parked on the follower for an LSN only the leader has is answered once it switches
        leader.put(b("later"), b("only-on-the-leader"));
        long ahead = leader.lastLsn();
        assertTrue(ahead > follower.lastLsn());
        CompletableFuture<HttpResponse<String>> parked = sendAsync("GET", "/kv/later?min_lsn=" + Lsn.format(ahead));
        io.walship.wal.Poll.until(Duration.ofSeconds(30), () -> api.waitingReadsForTesting() == 1,
                () -> "the read is parked on the follower");
        HttpResponse<String> ok = send("POST", "/promote");
        assertEquals(200, ok.statusCode(), ok.body());
        PromoteResponse p = Json.read(ok.body(), PromoteResponse.class);
        assertEquals(2, p.timeline());
        HttpResponse<String> read = parked.get(30, TimeUnit.SECONDS);
        assertEquals(200, read.statusCode(), read.body());
        assertEquals("only-on-the-leader", read.body());
        assertEquals(200, send("PUT", "/kv/x").statusCode(), "the leader takes writes");
        assertTrue(send("GET", "/status").body().contains("\"role\":\"leader\""));
        HttpResponse<String> again = send("POST", "/promote");
        assertEquals(409, again.statusCode(), again.body());
        assertTrue(again.body().contains("not a follower"), again.body());
    }

    @Test
    void theWalStreamsItsEntriesByteForByte() throws Exception {
        api = new HttpApi(new LeaderNode(leader, null), new InetSocketAddress("127.0.0.1", 0)).start();
        url = "http://127.0.0.1:" + api.address().getPort();
        long from = 20;
        HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(URI.create(url + "/wal?from=" + Lsn.format(from))).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, r.statusCode());
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(r.body()));
        long expect = from;
        WalStream.Entry e;
        while ((e = WalStream.read(in)) != null) {
            WalEntry w = EntryCodec.decode(e.bytes());
            assertEquals(expect, e.lsn());
            assertEquals(expect, w.lsn());
            expect++;
        }
        assertEquals(leader.lastLsn() + 1, expect, "every entry from " + from + " to the end");
        HttpResponse<byte[]> past = http.send(HttpRequest.newBuilder(URI.create(url + "/wal?from="
                + Lsn.format(leader.lastLsn() + 1))).build(), HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, past.statusCode());
        assertEquals(0, past.body().length);
        assertEquals(400, send("GET", "/wal?from=zz").statusCode());
        assertEquals(400, send("GET", "/wal").statusCode());
        HttpResponse<String> promote = send("POST", "/promote");
        assertEquals(409, promote.statusCode(), promote.body());
    }

    /**
     * A peer that is not an http(s) URL (a typo, a host:port without scheme) was "not reachable" to the
     * promoter, which skips unreachable peers: the promotion went on without asking it, so the check
     * that no peer holds more WAL was silently lost. It is bad input: 400, and nothing is promoted.
     */
    @Test
    void aPeerThatIsNotAnHttpUrlIsRefused400AndNothingIsPromoted() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        SwitchingNode node = new SwitchingNode(followerNode(), (force, peers) -> {
            calls.incrementAndGet();
            throw new ConflictException("not expected");
        });
        api = new HttpApi(node, new InetSocketAddress("127.0.0.1", 0)).start();
        url = "http://127.0.0.1:" + api.address().getPort();
        for (String peers : List.of("f2:8080", "http://f2:8080,127.0.0.1:8081", "ftp://f2:8080", "http://",
                "http://f2:8080?x=1", "http://f2 :8080")) {
            HttpResponse<String> r = send("POST", "/promote?peers="
                    + java.net.URLEncoder.encode(peers, StandardCharsets.UTF_8));
            assertEquals(400, r.statusCode(), peers + ": " + r.body());
            assertTrue(r.body().contains("peer"), r.body());
        }
        assertEquals(0, calls.get(), "the promoter was never asked");
        assertTrue(node.current() instanceof FollowerNode);
    }

    /**
     * The switching node forwards every method of {@link Node}: one it does not override falls to the
     * interface's default, which answers as neither the follower nor the leader behind it would.
     */
    @Test
    void theSwitchingNodeOverridesEveryNodeMethod() throws Exception {
        for (java.lang.reflect.Method m : Node.class.getMethods()) {
            if (java.lang.reflect.Modifier.isStatic(m.getModifiers())) {
                continue;
            }
            java.lang.reflect.Method impl = SwitchingNode.class.getMethod(m.getName(), m.getParameterTypes());
            assertEquals(SwitchingNode.class, impl.getDeclaringClass(), m + " is not forwarded");
        }
    }
}
