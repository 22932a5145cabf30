package io.walship.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;

import com.fasterxml.jackson.databind.JsonNode;
import io.walship.protocol.Json;
import io.walship.shipper.repl.ReplicationOptions;
import io.walship.shipper.repl.ReplicationServer;
import io.walship.shipper.repl.SyncOptions;
import io.walship.shipper.repl.SyncOptions.Mode;
import io.walship.shipper.repl.SyncOptions.OnTimeout;
import io.walship.wal.Faults;
import io.walship.wal.Lsn;
import io.walship.wal.Store;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Commit modes end to end: a leader ({@link LeaderServer} + {@link ReplicationServer} on real
 * sockets) with in-process {@link FakeFollower}s that flush only when told, so the tests decide when
 * acks come. A test that found a commit answered before its acks, or a read seeing it, would fail.
 */
class SyncCommitTest {
    private static final Duration LONG = Duration.ofSeconds(60);
    @TempDir
    Path tmp;
    private Store store;
    private Faults faults;
    private ReplicationServer replication;
    private LeaderServer server;
    private String url;
    private final List<FakeFollower> followers = new ArrayList<>();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @AfterEach
    void stop() {
        for (FakeFollower f : followers) {
            f.close();
        }
        if (server != null) {
            server.close();
        }
        if (replication != null) {
            replication.close();
        }
        if (faults != null) {
            faults.close();
        } else if (store != null) {
            store.close();
        }
    }

    private void start(Mode mode, int quorum, Duration timeout, OnTimeout onTimeout) throws Exception {
        if (store == null) {
            store = Store.open(tmp.resolve("leader"));
        }
        replication = new ReplicationServer(store, new InetSocketAddress("127.0.0.1", 0),
                ReplicationOptions.defaults().withTimeouts(Duration.ofMillis(200), Duration.ofSeconds(30)),
                new SyncOptions(mode, quorum, timeout, onTimeout)).start();
        server = new LeaderServer(store, new InetSocketAddress("127.0.0.1", 0), null, replication, null).start();
        url = "http://127.0.0.1:" + server.address().getPort();
    }

    private FakeFollower follower(String name, boolean autoAck) throws Exception {
        FakeFollower f = FakeFollower.connect(replication.address(), store.systemId(), store.timeline(),
                store.durableLsn() + 1, name, autoAck);
        followers.add(f);
        await(name + " is connected", () -> replication.sessions().stream().anyMatch(s -> s.nodeId().equals(name)));
        return f;
    }

    private CompletableFuture<HttpResponse<String>> put(String key, String value, String query) {
        return http.sendAsync(HttpRequest.newBuilder(URI.create(url + "/kv/" + key + (query == null ? "" : "?" + query)))
                .PUT(HttpRequest.BodyPublishers.ofString(value)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private CompletableFuture<HttpResponse<String>> get(String path) {
        return http.sendAsync(HttpRequest.newBuilder(URI.create(url + path)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> done(CompletableFuture<HttpResponse<String>> f) throws Exception {
        return f.get(LONG.toSeconds(), TimeUnit.SECONDS);
    }

    private static long lsnOf(HttpResponse<String> r) {
        return Lsn.parse(r.headers().firstValue("Walship-LSN").orElseThrow());
    }

    private static String syncOf(HttpResponse<String> r) {
        return r.headers().firstValue("Walship-Sync").orElse("(none)");
    }

    private JsonNode sync() throws Exception {
        return Json.read(done(get("/status")).body().getBytes(StandardCharsets.UTF_8), JsonNode.class).get("sync");
    }

    /** Parks between looks (backing off): a spinning test took a core from the leader and followers under test. */
    private static void await(String what, BooleanSupplier condition) {
        io.walship.wal.Poll.until(LONG, condition, () -> "until " + what);
    }

    /** Waits until {@code n} commits or reads wait for acks: they are in the tracker, answered by nothing else. */
    private void awaitWaiting(int n) {
        await(n + " waiting for acks", () -> replication.acks().waiting() == n);
    }

    @Test
    void semiSyncCommitIsAnsweredOnlyOnceAFollowerFlushedIt() throws Exception {
        start(Mode.SEMI_SYNC, 1, LONG, OnTimeout.BLOCK);
        FakeFollower f = follower("f1", false);
        CompletableFuture<HttpResponse<String>> w = put("k", "v", null);
        awaitWaiting(1);
        long lsn = store.lastLsn();
        f.awaitReceived(lsn); // durable on the leader and on the follower's socket, not flushed yet
        assertFalse(w.isDone(), "answered before any follower flushed it");
        f.ack(lsn - 1);
        assertFalse(w.isDone(), "answered on the ack of an earlier LSN");
        assertTrue(store.marks().syncAcked().isEmpty(), "nothing acknowledged yet: nothing recorded");
        f.ack(lsn);
        HttpResponse<String> r = done(w);
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("semi-sync", syncOf(r));
        assertEquals(lsn, lsnOf(r));
        // recorded before the answer: a rejoin of this node after a failover refuses to discard it
        assertEquals(lsn, store.marks().syncAcked().orElse(-1));
        assertTrue(f.flushedSent >= lsn);
        JsonNode s = sync();
        assertEquals("semi-sync", s.get("mode").asText());
        assertEquals(1, s.get("quorum").asInt());
        assertEquals("f1", s.get("synchronous").get(0).asText());
        assertEquals(0, s.get("waiting").asInt());
        String metrics = done(get("/metrics")).body();
        assertTrue(metrics.contains("walship_sync_ack_latency_seconds_count 1\n"), metrics);
        assertTrue(metrics.contains("walship_sync_mode{mode=\"semi-sync\",on_timeout=\"block\"} 1.0"), metrics);
    }

    @Test
    void whenTheSynchronousFollowerFailsAnotherConnectedOneTakesOver() throws Exception {
        start(Mode.SEMI_SYNC, 1, Duration.ofSeconds(30), OnTimeout.DEGRADE);
        FakeFollower first = follower("first", true);
        FakeFollower second = follower("second", false);
        List<Long> acked = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            HttpResponse<String> r = done(put("a" + i, "v", null));
            assertEquals("semi-sync", syncOf(r));
            acked.add(lsnOf(r));
        }
        first.autoAck(false); // the synchronous follower so far stops acknowledging
        CompletableFuture<HttpResponse<String>> w = put("b", "v", null);
        awaitWaiting(1);
        long lsn = store.lastLsn();
        second.awaitReceived(lsn);
        first.close(); // the synchronous follower dies before it flushed LSN lsn
        await("the leader noticed", () -> replication.sessions().size() == 1);
        assertFalse(w.isDone());
        second.ack(lsn); // the other connected follower takes its place
        HttpResponse<String> r = done(w);
        assertEquals("semi-sync", syncOf(r), "taken over within the timeout: not degraded");
        acked.add(lsnOf(r));
        for (long a : acked) {
            assertTrue(a <= first.flushedSent || a <= second.flushedSent, "LSN " + a + " acked, flushed by nobody");
        }
        assertTrue(second.received.keySet().containsAll(acked), "the survivor holds every acknowledged commit");
        assertEquals(0, sync().get("degradations").asInt());
    }

    @Test
    void withNoFollowerBlockKeepsTheAnswerWaitingAndSaysSo() throws Exception {
        start(Mode.SEMI_SYNC, 1, Duration.ofMillis(200), OnTimeout.BLOCK);
        CompletableFuture<HttpResponse<String>> w = put("k", "v", null);
        await("/status says blocked", () -> {
            try {
                return sync().get("blocked").asBoolean();
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        assertFalse(w.isDone(), "block: the answer waits past the timeout");
        JsonNode s = sync();
        assertEquals(1, s.get("blocks").asInt());
        assertEquals(1, s.get("waiting").asInt());
        assertFalse(s.get("degraded").asBoolean());
        assertTrue(done(get("/metrics")).body().contains("walship_sync_blocked 1.0"));
        FakeFollower late = follower("late", true); // connected after the commit became durable: counts
        HttpResponse<String> r = done(w);
        assertEquals("semi-sync", syncOf(r));
        assertTrue(late.flushedSent >= lsnOf(r));
        assertFalse(sync().get("blocked").asBoolean());
    }

    /**
     * review11: with block and no follower, waiting writes must not take every HTTP thread (64):
     * past {@link LeaderNode#MAX_ACK_WAITS} a write is refused 503 before it commits and a read 503,
     * and /status still answers. Before, the 49th..64th writes also waited and the rest queued
     * behind them, /status included, so a blocked leader could not say that it was blocked. The
     * read's 503 carries {@code Walship-LSN} (the commit point, as every 503 to a read): it had none.
     */
    @Test
    void blockedWritesLeaveThreadsForStatusAndRefuseBeyondTheirShare() throws Exception {
        start(Mode.SEMI_SYNC, 1, LONG, OnTimeout.BLOCK);
        FakeFollower early = follower("early", true); // acks one commit, then goes away: a commit point above 0
        HttpResponse<String> first = done(put("first", "v", null));
        assertEquals("semi-sync", syncOf(first));
        early.close();
        List<CompletableFuture<HttpResponse<String>>> waiting = new ArrayList<>();
        for (int i = 0; i < LeaderNode.MAX_ACK_WAITS; i++) {
            waiting.add(put("k" + i, "v", null));
        }
        awaitWaiting(LeaderNode.MAX_ACK_WAITS);
        long last = store.lastLsn();
        List<CompletableFuture<HttpResponse<String>>> more = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            more.add(put("more" + i, "v", null));
        }
        for (CompletableFuture<HttpResponse<String>> m : more) {
            HttpResponse<String> r = m.get(20, TimeUnit.SECONDS);
            assertEquals(503, r.statusCode(), r.body());
            assertTrue(r.body().contains("wait for follower acks"), r.body());
        }
        assertEquals(last, store.lastLsn(), "a refused write committed nothing");
        String visible = sync().get("visibleLsn").asText();
        assertEquals(Lsn.format(lsnOf(first)), visible);
        for (String path : List.of("/kv/k0", "/scan", "/digest", "/snapshot")) {
            HttpResponse<String> read = get(path).get(20, TimeUnit.SECONDS);
            assertEquals(503, read.statusCode(), path + ": a read that would wait for acks is refused, not queued");
            assertTrue(read.body().contains("wait for follower acks"), read.body());
            // as every read answer and every other 503 to a read: what the leader shows, its commit point
            assertEquals(visible, read.headers().firstValue("Walship-LSN").orElse("(none)"), path + ": Walship-LSN");
        }
        HttpResponse<String> st = get("/status").get(20, TimeUnit.SECONDS);
        assertEquals(200, st.statusCode());
        assertEquals(LeaderNode.MAX_ACK_WAITS, sync().get("waiting").asInt());
        for (CompletableFuture<HttpResponse<String>> w : waiting) {
            assertFalse(w.isDone(), "block: still waiting");
        }
        FakeFollower f = FakeFollower.connect(replication.address(), store.systemId(), store.timeline(), 1, "f1", true);
        followers.add(f);
        for (CompletableFuture<HttpResponse<String>> w : waiting) {
            HttpResponse<String> r = done(w);
            assertEquals(200, r.statusCode());
            assertEquals("semi-sync", syncOf(r));
            assertTrue(f.flushedSent >= lsnOf(r));
        }
        assertEquals(200, done(get("/kv/k0")).statusCode());
    }

    /**
     * review11: one follower node with two sessions (it reconnected before the leader timed out the
     * old one, or connected twice) flushed the commit: that is one disk, not a quorum of two. Both
     * sessions then ack a later async commit, so their FEEDBACK for the first is processed in full.
     */
    @Test
    void twoSessionsOfOneFollowerAreNotAQuorumOfTwo() throws Exception {
        HttpResponse<String> r = twoSessionsOfOneFollowerThenAnother("f1");
        assertEquals(2, sync().get("synchronous").size(), "f1 once and f2: " + sync().get("synchronous"));
    }

    /**
     * review11 (round 2): a follower that sends no node id (the protocol allows "") was counted per
     * connection (its host:port), so one such follower that reconnected before the leader timed out
     * its old session — a new source port — was a quorum of two: an acknowledged commit on one disk.
     * Sessions without a node id count once per remote host.
     */
    @Test
    void twoSessionsOfOneFollowerWithoutANodeIdAreNotAQuorumOfTwo() throws Exception {
        twoSessionsOfOneFollowerThenAnother("");
    }

    /**
     * Two sessions named {@code nodeId} ("": none, one host) flush a sync commit under quorum 2:
     * it stays waiting; a second follower's ack answers it. Returns that answer.
     */
    private HttpResponse<String> twoSessionsOfOneFollowerThenAnother(String nodeId) throws Exception {
        start(Mode.SYNC, 2, LONG, OnTimeout.BLOCK);
        for (int i = 0; i < 2; i++) {
            followers.add(FakeFollower.connect(replication.address(), store.systemId(), store.timeline(),
                    store.durableLsn() + 1, nodeId, false));
        }
        await("two sessions of '" + nodeId + "'", () -> replication.sessions().stream()
                .filter(x -> x.nodeId().equals(nodeId)).count() == 2);
        CompletableFuture<HttpResponse<String>> w = put("k", "v", null);
        awaitWaiting(1);
        long lsn = store.lastLsn();
        followers.get(0).autoAck(true);
        followers.get(1).autoAck(true);
        assertEquals("async", syncOf(done(put("k2", "v", "sync=async"))));
        long later = store.lastLsn();
        await("both sessions of '" + nodeId + "' flushed LSN " + later, () -> replication.sessions().stream()
                .filter(x -> x.nodeId().equals(nodeId) && x.flushLsn() >= later).count() == 2);
        assertEquals(1, replication.acks().waiting(), "two sessions of '" + nodeId + "' acknowledged LSN " + lsn
                + " as a quorum of 2");
        assertTrue(replication.acks().ackedLsn(2) < lsn);
        assertFalse(w.isDone());
        FakeFollower f2 = follower("f2", false);
        f2.ack(lsn);
        HttpResponse<String> r = done(w);
        assertEquals("sync", syncOf(r));
        assertEquals(lsn, lsnOf(r));
        return r;
    }

    @Test
    void withNoFollowerDegradeAnswersAfterTheTimeoutSaysSoAndRecovers() throws Exception {
        start(Mode.SEMI_SYNC, 1, Duration.ofMillis(300), OnTimeout.DEGRADE);
        long t0 = System.nanoTime();
        HttpResponse<String> r = done(put("k", "v", null));
        long waitedMs = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(200, r.statusCode());
        assertEquals("degraded", syncOf(r));
        assertTrue(waitedMs >= 300, "answered after " + waitedMs + " ms, before the timeout");
        JsonNode s = sync();
        assertTrue(s.get("degraded").asBoolean());
        assertEquals(1, s.get("degradations").asInt());
        assertEquals(Lsn.format(lsnOf(r)), s.get("degradedUntilLsn").asText());
        assertEquals("degraded", syncOf(done(put("k2", "v", null))), "degraded: answered at once, says so");
        assertTrue(done(get("/metrics")).body().contains("walship_sync_degradations_total 1.0"));
        FakeFollower f = follower("f", true); // catches up to the LSN the leader had when it degraded: ends it
        await("degraded mode ends", () -> !replication.acks().degraded());
        HttpResponse<String> after = done(put("k3", "v", null));
        assertEquals("semi-sync", syncOf(after));
        assertTrue(f.flushedSent >= lsnOf(after));
        assertEquals(1, sync().get("degradations").asInt());
    }

    /** sync, quorum 2, three followers whose acks come and go: every acknowledged commit is flushed by two. */
    @Test
    void syncQuorumTwoOfThreeHoldsEveryAcknowledgedCommitOnTwo() throws Exception {
        long seed = System.nanoTime();
        System.out.println("SyncCommitTest quorum seed " + seed);
        Random random = new Random(seed);
        start(Mode.SYNC, 2, LONG, OnTimeout.BLOCK);
        FakeFollower[] fs = {follower("f1", true), follower("f2", true), follower("f3", false)};
        ConcurrentLinkedQueue<String> violations = new ConcurrentLinkedQueue<>();
        ConcurrentLinkedQueue<Long> acked = new ConcurrentLinkedQueue<>();
        List<Thread> writers = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            int id = t;
            Thread th = new Thread(() -> {
                for (int i = 0; i < 40; i++) {
                    try {
                        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url + "/kv/w" + id + "-" + i))
                                .PUT(HttpRequest.BodyPublishers.ofString("v")).build(),
                                HttpResponse.BodyHandlers.ofString());
                        long lsn = lsnOf(r);
                        int holders = 0;
                        for (FakeFollower f : fs) {
                            holders += f.flushedSent >= lsn ? 1 : 0;
                        }
                        if (r.statusCode() != 200 || !"sync".equals(syncOf(r)) || holders < 2) {
                            violations.add("LSN " + lsn + ": " + r.statusCode() + " " + syncOf(r) + ", " + holders
                                    + " holder(s)");
                        }
                        acked.add(lsn);
                    } catch (Exception e) {
                        violations.add(e.toString());
                    }
                }
            });
            writers.add(th);
            th.start();
        }
        // rotate which follower withholds its acks while the writers run
        for (int round = 0; round < 6; round++) {
            int silent = random.nextInt(3);
            for (int i = 0; i < 3; i++) {
                fs[i].autoAck(i != silent);
            }
            long target = store.lastLsn() + 5;
            await("progress past LSN " + target, () -> store.lastLsn() >= target || writers.stream().noneMatch(Thread::isAlive));
        }
        for (int i = 0; i < 3; i++) {
            fs[i].autoAck(true);
        }
        for (Thread th : writers) {
            th.join(LONG.toMillis());
        }
        assertTrue(violations.isEmpty(), "seed " + seed + ": " + violations);
        assertEquals(160, acked.size());
        for (long lsn : acked) {
            int holders = 0;
            for (FakeFollower f : fs) {
                holders += f.received.containsKey(lsn) ? 1 : 0;
            }
            assertTrue(holders >= 2, "LSN " + lsn + " is held by " + holders);
        }
    }

    @Test
    void aWriteMayAskForAWeakerModeNeverAStrongerOne() throws Exception {
        start(Mode.SYNC, 2, LONG, OnTimeout.BLOCK);
        FakeFollower one = follower("one", false);
        HttpResponse<String> async = done(put("a", "v", "sync=async"));
        assertEquals(200, async.statusCode());
        assertEquals("async", syncOf(async), "no follower acked anything, yet the async commit is answered");
        assertTrue(store.marks().syncAcked().isEmpty(), "an async commit is not recorded as acknowledged in sync");
        CompletableFuture<HttpResponse<String>> semi = put("b", "v", "sync=semi-sync");
        awaitWaiting(1);
        one.ack(store.lastLsn());
        HttpResponse<String> r = done(semi);
        assertEquals("semi-sync", syncOf(r), "one follower is enough for ?sync=semi-sync on a sync leader");
        for (String bad : new String[] {"sync=quorum", "durability=async&sync=sync"}) {
            HttpResponse<String> e = done(put("c", "v", bad));
            assertEquals(400, e.statusCode(), bad);
            assertEquals(1, e.body().lines().count(), e.body());
        }
        server.close();
        replication.close();
        start(Mode.SEMI_SYNC, 1, LONG, OnTimeout.BLOCK);
        long before = store.lastLsn();
        HttpResponse<String> stronger = done(put("c", "v", "sync=sync"));
        assertEquals(400, stronger.statusCode());
        assertTrue(stronger.body().startsWith("error: sync=sync is stronger than this leader's --sync-mode semi-sync"),
                stronger.body());
        assertEquals(before, store.lastLsn(), "a refused override commits nothing");
        assertEquals("async", syncOf(done(put("d", "v", "durability=async"))));
    }

    /**
     * AFTER_SYNC: while the WAL sync is held, and then while the follower's ack is withheld, a GET
     * on the leader does not answer with the new value; it does once both are done. A read path
     * that showed what is merely applied would answer at once with the new value and fail here.
     */
    @Test
    void aReaderSeesACommitOnlyOnceItIsDurableAndAcknowledged() throws Exception {
        faults = new Faults(tmp.resolve("leader"));
        store = faults.store;
        start(Mode.SEMI_SYNC, 1, LONG, OnTimeout.BLOCK);
        FakeFollower f = follower("f", true);
        assertEquals(200, done(put("k", "old", null)).statusCode());
        f.autoAck(false);
        long before = store.lastLsn();
        faults.holdSyncs();
        CompletableFuture<HttpResponse<String>> w;
        CompletableFuture<HttpResponse<String>> read;
        try {
            w = put("k", "new", null);
            await("the commit is applied (not durable)", () -> store.lastLsn() == before + 1);
            read = get("/kv/k");
            assertThrows(TimeoutException.class, () -> read.get(500, TimeUnit.MILLISECONDS),
                    "a GET answered while the commit's WAL sync was still held");
            assertTrue(store.durableLsn() <= before);
        } finally {
            faults.releaseSyncs();
        }
        awaitWaiting(2); // the writer and the reader, both on the follower's ack
        assertFalse(read.isDone(), "a GET answered while the commit waited for its ack");
        assertFalse(w.isDone());
        f.ack(before + 1);
        HttpResponse<String> r = done(read);
        assertEquals("new", r.body());
        assertEquals(before + 1, lsnOf(r));
        assertEquals("semi-sync", syncOf(done(w)));
        assertEquals(Lsn.format(before + 1), sync().get("visibleLsn").asText());
    }

    /** 200 keys k000..k199 of 1000 bytes: dozens of leaves, so k000 and k199 share no page but the root's parents. */
    private void manyLeaves() throws Exception {
        StringBuilder b = new StringBuilder("{\"ops\":[");
        String value = "v".repeat(1000);
        for (int i = 0; i < 200; i++) {
            b.append(i == 0 ? "" : ",").append("{\"op\":\"put\",\"key\":\"").append(String.format("k%03d", i))
                    .append("\",\"value\":\"").append(value).append("\"}");
        }
        b.append("]}");
        HttpResponse<String> r = done(http.sendAsync(HttpRequest.newBuilder(URI.create(url + "/batch"))
                .POST(HttpRequest.BodyPublishers.ofString(b.toString())).build(), HttpResponse.BodyHandlers.ofString()));
        assertEquals(200, r.statusCode(), r.body());
    }

    /**
     * AFTER_SYNC, made precise: a read waits only for the commits its answer depends on (the pages
     * it touched), not for the newest commit of the store. While k199's commit waits for its ack, a
     * GET and a scan of k000..k009 answer at once with the old state and the commit point, a GET of
     * k199, a digest and a /snapshot (reads of everything) wait; a 503 to a read with min_lsn names
     * the commit point, never the waiting LSN. Fails if reads waited for the store's last LSN (the
     * untouched read would hang), if visibility came first (k199 would answer "new"), or if the 503
     * revealed the unacknowledged LSN.
     */
    @Test
    void aReadWaitsOnlyForTheCommitsWhosePagesItReadAndNamesNoWaitingLsn() throws Exception {
        start(Mode.SEMI_SYNC, 1, LONG, OnTimeout.BLOCK);
        FakeFollower f = follower("f", true);
        manyLeaves();
        long before = store.lastLsn();
        await("the follower acknowledged everything", () -> replication.acks().visibleLsn() == before);
        f.autoAck(false);
        CompletableFuture<HttpResponse<String>> w = put("k199", "new", null);
        awaitWaiting(1);
        assertEquals(before + 1, store.durableLsn(), "durable on the leader, waiting for its ack");

        HttpResponse<String> untouched = done(get("/kv/k000"));
        assertEquals(200, untouched.statusCode());
        assertEquals(before, lsnOf(untouched), "the answer names the commit point, not the waiting commit");
        HttpResponse<String> scan = done(get("/scan?from=k000&to=k010"));
        assertEquals(200, scan.statusCode());
        assertEquals(10, scan.body().lines().count());
        assertEquals(before, lsnOf(scan));
        HttpResponse<String> named = done(get("/kv/k000?min_lsn=" + Lsn.format(before + 1)));
        assertEquals(200, named.statusCode(), "the state at the LSN the client named holds k000 unchanged");
        assertEquals(before + 1, lsnOf(named));

        HttpResponse<String> ahead = done(get("/kv/k000?min_lsn=" + Lsn.format(before + 2)));
        assertEquals(503, ahead.statusCode());
        assertEquals(before, lsnOf(ahead), "a 503 names the commit point");
        assertTrue(ahead.body().contains(Lsn.format(before)), ahead.body());
        assertFalse(ahead.body().contains(Lsn.format(before + 1)), "the waiting LSN is revealed: " + ahead.body());

        CompletableFuture<HttpResponse<String>> touched = get("/kv/k199");
        CompletableFuture<HttpResponse<String>> digest = get("/digest");
        CompletableFuture<HttpResponse<String>> snapshot = http.sendAsync(HttpRequest.newBuilder(
                URI.create(url + "/snapshot")).GET().build(), HttpResponse.BodyHandlers.discarding())
                .thenApply(r -> (HttpResponse<String>) (HttpResponse<?>) r);
        awaitWaiting(4); // the writer, the GET, the digest and the snapshot, all on the follower's ack
        assertFalse(touched.isDone() || digest.isDone() || snapshot.isDone(),
                "a read of the waiting commit's page answered before its ack");
        f.ack(before + 1);
        HttpResponse<String> r = done(touched);
        assertEquals("new", r.body());
        assertEquals(before + 1, lsnOf(r));
        assertEquals(before + 1, lsnOf(done(digest)));
        HttpResponse<String> snap = done(snapshot);
        assertEquals(200, snap.statusCode());
        assertEquals(before + 1, lsnOf(snap));
        assertEquals("semi-sync", syncOf(done(w)));
    }

    /**
     * In async mode a read waits for the leader's sync only if it read a page that a commit still
     * being synced changed: with the WAL sync held, a GET of another leaf answers at once.
     */
    @Test
    void inAsyncModeAReadOfOtherPagesDoesNotWaitForAPendingSync() throws Exception {
        faults = new Faults(tmp.resolve("leader"));
        store = faults.store;
        start(Mode.ASYNC, 1, LONG, OnTimeout.DEGRADE);
        manyLeaves();
        long before = store.lastLsn();
        faults.holdSyncs();
        CompletableFuture<HttpResponse<String>> w;
        CompletableFuture<HttpResponse<String>> touched;
        try {
            w = put("k199", "new", null);
            await("the commit is applied (not durable)", () -> store.lastLsn() == before + 1);
            HttpResponse<String> untouched = done(get("/kv/k000"));
            assertEquals(200, untouched.statusCode());
            assertEquals(before, lsnOf(untouched));
            touched = get("/kv/k199");
            assertThrows(TimeoutException.class, () -> touched.get(500, TimeUnit.MILLISECONDS),
                    "a GET of the page answered while its commit's WAL sync was held");
        } finally {
            faults.releaseSyncs();
        }
        assertEquals("new", done(touched).body());
        assertEquals(200, done(w).statusCode());
    }

    /**
     * A new follower bootstraps from {@code /snapshot?for=follower}: as new as the WAL stream
     * (durable, not acknowledged), since its own acks may be what the leader waits for — a fresh
     * block-mode leader with no follower has acknowledged nothing, not even its first LSN, so a
     * plain /snapshot (a read, bounded by the commit point) waits while the bootstrap one answers.
     * It needs the write token when the leader has one; another {@code for} is a 400.
     */
    @Test
    void aFollowersBootstrapSnapshotIsNotHeldBackButAPlainOneIs() throws Exception {
        store = Store.open(tmp.resolve("leader"));
        replication = new ReplicationServer(store, new InetSocketAddress("127.0.0.1", 0),
                ReplicationOptions.defaults().withTimeouts(Duration.ofMillis(200), Duration.ofSeconds(30)),
                new SyncOptions(Mode.SEMI_SYNC, 1, LONG, OnTimeout.BLOCK)).start();
        server = new LeaderServer(store, new InetSocketAddress("127.0.0.1", 0), null, replication,
                io.walship.protocol.AuthToken.of("s3cret-token-for-tests")).start();
        url = "http://127.0.0.1:" + server.address().getPort();
        CompletableFuture<HttpResponse<String>> plain = get("/snapshot");
        awaitWaiting(1);
        HttpResponse<String> noToken = done(get("/snapshot?for=follower"));
        assertEquals(401, noToken.statusCode(), noToken.body());
        assertEquals(400, done(get("/snapshot?for=backup")).statusCode());
        HttpResponse<byte[]> boot = http.send(HttpRequest.newBuilder(URI.create(url + "/snapshot?for=follower"))
                .header("Authorization", "Bearer s3cret-token-for-tests").GET().build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, boot.statusCode());
        assertEquals(store.durableLsn(), Lsn.parse(boot.headers().firstValue("Walship-LSN").orElseThrow()));
        assertFalse(plain.isDone(), "a plain /snapshot showed what no follower acknowledged");
        FakeFollower f = follower("f", true);
        assertEquals(200, done(plain).statusCode());
        assertTrue(f.flushedSent >= store.durableLsn());
    }
    /**
     * review11 (round 2): {@code GET /wal?from=1} streamed a leader's durable WAL — the physical
     * page changes, keys and values in them — to anyone, commits no follower had acknowledged
     * included: a way around AFTER_SYNC (a plain read would wait) and around the write token that
     * {@code /snapshot?for=follower} and HELLO ask for. It is a replication consumer's endpoint (a
     * promoting follower fetching from a peer): it needs the write token as they do.
     */
    @Test
    void theWalOverHttpNeedsTheWriteTokenLikeTheFollowersSnapshot() throws Exception {
        store = Store.open(tmp.resolve("leader"));
        replication = new ReplicationServer(store, new InetSocketAddress("127.0.0.1", 0),
                ReplicationOptions.defaults().withTimeouts(Duration.ofMillis(200), Duration.ofSeconds(30)),
                new SyncOptions(Mode.SEMI_SYNC, 1, LONG, OnTimeout.BLOCK)).start();
        server = new LeaderServer(store, new InetSocketAddress("127.0.0.1", 0), null, replication,
                io.walship.protocol.AuthToken.of("s3cret-token-for-tests")).start();
        url = "http://127.0.0.1:" + server.address().getPort();
        CompletableFuture<HttpResponse<String>> w = http.sendAsync(HttpRequest.newBuilder(URI.create(url + "/kv/secret"))
                .header("Authorization", "Bearer s3cret-token-for-tests")
                .PUT(HttpRequest.BodyPublishers.ofString("unacknowledged")).build(), HttpResponse.BodyHandlers.ofString());
        awaitWaiting(1);
        CompletableFuture<HttpResponse<String>> read = get("/kv/secret"); // waits for the ack (AFTER_SYNC)
        HttpResponse<String> noToken = done(get("/wal?from=1"));
        assertEquals(401, noToken.statusCode(), "GET /wal without the token answered " + noToken.statusCode()
                + " while the commit waited for its ack (" + noToken.body().length() + " bytes)");
        HttpResponse<byte[]> withToken = http.send(HttpRequest.newBuilder(URI.create(url + "/wal?from=1"))
                .header("Authorization", "Bearer s3cret-token-for-tests").GET().build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, withToken.statusCode());
        assertTrue(withToken.body().length > 0);
        assertFalse(w.isDone());
        assertFalse(read.isDone(), "a plain read showed what no follower acknowledged");
        FakeFollower f = follower("f", true);
        assertEquals(200, done(w).statusCode());
        assertEquals("unacknowledged", done(read).body());
        assertTrue(f.flushedSent >= store.durableLsn());
    }
}
