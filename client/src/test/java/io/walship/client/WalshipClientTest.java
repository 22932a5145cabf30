package io.walship.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import io.walship.server.LeaderServer;
import io.walship.wal.Lsn;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * WalshipClient against a real in-process leader, and against follower stand-ins that behave as the
 * spec says (421 on writes naming the leader, 503 while min_lsn is not reached): writes and their
 * LSNs, session tokens, reads with min_lsn, the fallback order, redirects, and the exception for
 * every documented status.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class WalshipClientTest {
    /** One leader for the class (stopping one takes its HTTP server ~2 s); tests run one at a time. */
    @TempDir
    static Path tmp;
    private Store store;
    private LeaderServer leader;
    private String leaderUrl;
    private final List<AutoCloseable> toClose = new java.util.ArrayList<>();

    @BeforeAll
    void start() throws Exception {
        store = Store.open(tmp.resolve("leader"));
        leader = new LeaderServer(store, new InetSocketAddress("127.0.0.1", 0)).start();
        leaderUrl = "http://127.0.0.1:" + leader.address().getPort();
    }

    @AfterEach
    void closeClientsAndStandIns() throws Exception {
        for (AutoCloseable c : toClose) {
            c.close();
        }
        toClose.clear();
    }

    @AfterAll
    void stop() {
        leader.close();
        store.close();
    }

    private <T extends AutoCloseable> T closing(T c) {
        toClose.add(c);
        return c;
    }

    private FollowerStandIn standIn() throws Exception {
        return closing(new FollowerStandIn(leaderUrl));
    }

    private WalshipClient client(String leader, FollowerStandIn... followers) {
        WalshipClient.Builder b = WalshipClient.builder(leader).requestTimeout(Duration.ofSeconds(20));
        for (FollowerStandIn f : followers) {
            b.follower(f.url());
        }
        return closing(b.build());
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    // ---- writes, tokens, reads on the leader ------------------------------------------------

    @Test
    void writesReturnTheCommitLsnAndMoveTheSessionToIt() {
        WalshipClient c = client(leaderUrl);
        Session s = new Session();
        long put = c.put(s, "user/1", "alice");
        assertEquals(store.lastLsn(), put);
        assertEquals(put, s.lsn());
        assertEquals("alice", new String(store.get(utf8("user/1")), StandardCharsets.UTF_8));

        long batch = c.batch(s, new Batch().put("a", "1").put(new byte[] {0, (byte) 0xFF}, new byte[] {9}).delete("user/1"));
        assertEquals(put + 1, batch, "a batch is one commit");
        assertEquals(batch, s.lsn());
        assertNull(store.get(utf8("user/1")));
        assertArrayEquals(new byte[] {9}, store.get(new byte[] {0, (byte) 0xFF}));

        long del = c.delete(s, "a");
        assertEquals(batch + 1, del);
        assertEquals(del, s.lsn());
        assertNull(store.get(utf8("a")));
        assertThrows(IllegalArgumentException.class, () -> c.batch(s, new Batch()));

        // the client's own session is used by the forms without one
        long own = c.put("k", "v");
        assertEquals(own, c.session().lsn());
        assertEquals(del, s.lsn(), "another session is not moved");
    }

    @Test
    void readsCarryTheirLsnAndMoveTheSessionForward() {
        WalshipClient c = client(leaderUrl);
        Session writer = new Session();
        long lsn = c.put(writer, "r", "v1");
        Session reader = new Session();
        GetResult r = c.get(reader, "r");
        assertTrue(r.found());
        assertEquals("v1", r.valueString());
        assertEquals(lsn, r.lsn());
        assertEquals(lsn, reader.lsn());
        assertEquals(URI.create(leaderUrl), r.node());

        GetResult absent = c.get(reader, "nope");
        assertFalse(absent.found());
        assertNull(absent.valueString());
        assertEquals(lsn, absent.lsn(), "an absent key still says which state it was read from");

        // binary keys (percent-encoded in the path) and values round-trip
        byte[] key = new byte[256];
        byte[] value = new byte[256];
        for (int i = 0; i < 256; i++) {
            key[i] = (byte) i;
            value[i] = (byte) (255 - i);
        }
        key[0] = 1;
        c.put(writer, key, value);
        assertArrayEquals(value, c.get(reader, key).value());
    }

    @Test
    void scanAndDigestReadOneStateAndUnescapeIt() {
        WalshipClient c = client(leaderUrl);
        c.put("scan/a", "1");
        c.put("scan/b", "tab\there\nnewline\\");
        c.put("scan/c", "3");
        long last = c.put("scan/d", "4");
        ScanResult all = c.scan("scan/", "scan0", 0);
        assertEquals(List.of("scan/a", "scan/b", "scan/c", "scan/d"),
                all.entries().stream().map(ScanResult.Entry::keyString).toList());
        assertEquals("tab\there\nnewline\\", all.entries().get(1).valueString());
        assertEquals(last, all.lsn());
        ScanResult some = c.scan("scan/b", "scan/d", 0);
        assertEquals(List.of("scan/b", "scan/c"), some.entries().stream().map(ScanResult.Entry::keyString).toList());
        assertEquals(List.of("scan/a"), c.scan("scan/", null, 1).entries().stream().map(ScanResult.Entry::keyString).toList());
        assertTrue(c.scan(null, null, 0).entries().size() >= 4, "unbounded");

        DigestResult d = c.digest();
        StateDigest expected = store.digest();
        assertEquals(expected.lsn(), d.lsn());
        assertEquals(expected.pairs(), d.pairs());
        assertEquals(expected.sha256(), d.sha256());
    }

    @Test
    void aSessionTravelsAsAStringAndNeverGoesBack() {
        Session s = new Session();
        assertEquals("0000000000000000", s.token());
        assertTrue(s.observe(42));
        assertFalse(s.observe(41), "a token never moves back");
        assertEquals(42, s.lsn());
        assertEquals("000000000000002A", s.token());
        assertEquals(42, Session.parse(s.token()).lsn());
        assertEquals(42, Session.parse("0x2a").lsn());
        assertEquals(42, Session.parse("42").lsn());
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> Session.parse("-1"));
        assertTrue(bad.getMessage().startsWith("not an LSN: '-1'"), bad.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Session.parse("zz"));
        Session other = new Session(7);
        other.merge(s);
        assertEquals(42, other.lsn());
    }

    // ---- followers: min_lsn, round-robin, fallback, redirects --------------------------------

    @Test
    void readsGoToTheFollowersInTurnWithTheSessionsLsn() throws Exception {
        FollowerStandIn f1 = standIn();
        FollowerStandIn f2 = standIn();
        WalshipClient c = client(leaderUrl, f1, f2);
        Session s = new Session();
        assertFalse(c.get(s, "turns").found());
        assertNull(f1.seen().get(0).query().get(WalshipClient.MIN_LSN), "a session that saw nothing sends no min_lsn");
        long lsn = c.put(s, "turns", "v");
        assertEquals(0, f1.count("PUT") + f2.count("PUT"), "writes go to the leader");
        for (int i = 0; i < 4; i++) {
            GetResult r = c.get(s, "turns");
            assertEquals("v", r.valueString());
            assertTrue(r.node().toString().equals(f1.url()) || r.node().toString().equals(f2.url()), r.node().toString());
        }
        assertEquals(3, f1.count("GET"));
        assertEquals(2, f2.count("GET"));
        for (FollowerStandIn f : List.of(f1, f2)) {
            for (FollowerStandIn.Seen seen : f.seen().subList(f == f1 ? 1 : 0, f.seen().size())) {
                assertEquals(Lsn.format(lsn), seen.query().get(WalshipClient.MIN_LSN));
            }
        }
    }

    @Test
    void aFollowerBehindTheSessionIsSkippedForTheNextAndFinallyForTheLeader() throws Exception {
        FollowerStandIn behind = standIn().applied(() -> 0);
        FollowerStandIn caughtUp = standIn();
        WalshipClient c = client(leaderUrl, behind, caughtUp);
        Session s = new Session();
        c.put(s, "k", "v1");
        for (int i = 0; i < 4; i++) {
            GetResult r = c.get(s, "k");
            assertEquals("v1", r.valueString());
            assertEquals(caughtUp.url(), r.node().toString(), "read " + i);
        }
        assertEquals(2, behind.count("GET"), "asked on its turns, refused with 503");

        caughtUp.applied(() -> 0);
        long lsn = c.put(s, "k", "v2");
        GetResult r = c.get(s, "k");
        assertEquals("v2", r.valueString(), "read-your-writes through the leader");
        assertEquals(leaderUrl, r.node().toString());
        assertEquals(lsn, r.lsn());

        // a follower that cannot be reached is skipped too
        caughtUp.close();
        behind.applied(() -> Long.MAX_VALUE);
        for (int i = 0; i < 2; i++) {
            assertEquals("v2", c.get(s, "k").valueString());
        }
    }

    @Test
    void aFollowerAnsweringBelowTheSessionIsNotBelieved() throws Exception {
        // a node that ignores min_lsn and answers from an old state (LSN 1 and an old value)
        FollowerStandIn stale = standIn().override((ex, q, fromLeader) -> {
            FollowerStandIn.send(ex, 200, "old", 1L);
            return true;
        });
        WalshipClient c = client(leaderUrl, stale);
        Session s = new Session();
        c.put(s, "k", "old");
        long lsn = c.put(s, "k", "new");
        GetResult r = c.get(s, "k");
        assertEquals("new", r.valueString());
        assertEquals(leaderUrl, r.node().toString());
        assertTrue(r.lsn() >= lsn);
        assertEquals(1, stale.count("GET"));
    }

    @Test
    void whenEveryNodeFailsTheLeadersAnswerIsThrownWithTheOthersAttached() throws Exception {
        FollowerStandIn behind = standIn().applied(() -> 5);
        FollowerStandIn standInLeader = standIn().answerAll(503, "error: store failed: WAL sync failed");
        WalshipClient c = client(standInLeader.url(), behind);
        Session s = new Session(9);
        UnavailableException e = assertThrows(UnavailableException.class, () -> c.get(s, "k"));
        assertEquals(URI.create(standInLeader.url()), e.node());
        assertEquals("store failed: WAL sync failed", e.reason());
        assertEquals(1, e.getSuppressed().length);
        UnavailableException refused = assertInstanceOf(UnavailableException.class, e.getSuppressed()[0]);
        assertEquals(URI.create(behind.url()), refused.node());
        assertEquals(5, refused.nodeLsn().orElseThrow(), "the follower said where it was");
        assertEquals(9, s.lsn(), "a failed read does not move the token");
    }

    @Test
    void aWriteSentToAFollowerFollowsTheLeaderItNames() throws Exception {
        FollowerStandIn follower = standIn();
        WalshipClient c = client(follower.url());
        Session s = new Session();
        long lsn = c.put(s, "k", "v");
        assertEquals(store.lastLsn(), lsn);
        assertEquals(URI.create(leaderUrl), c.leader(), "the named leader becomes the client's leader");
        assertEquals(1, follower.count("PUT"));
        c.delete(s, "k");
        assertEquals(1, follower.count("PUT") + follower.count("DELETE"), "later writes go straight to the leader");

        // a follower that names no leader, and two that name each other
        FollowerStandIn orphan = closing(new FollowerStandIn(null));
        MisdirectedRequestException none = assertThrows(MisdirectedRequestException.class,
                () -> client(orphan.url()).put("k", "v"));
        assertNull(none.leader());
        assertEquals(421, none.status());
        assertTrue(none.getMessage().contains("names no leader in Walship-Leader"), none.getMessage());

        // a follower that knows only the leader's replication address names that: not followed
        FollowerStandIn replOnly = standIn().leader("127.0.0.1:7071");
        MisdirectedRequestException repl = assertThrows(MisdirectedRequestException.class,
                () -> client(replOnly.url()).put("k", "v"));
        assertEquals("127.0.0.1:7071", repl.leader());
        assertTrue(repl.getMessage().contains("'127.0.0.1:7071' is not an HTTP URL"), repl.getMessage());
        assertEquals(1, repl.getMessage().lines().count());

        FollowerStandIn a = standIn();
        FollowerStandIn b = standIn().leader(a.url());
        a.leader(b.url());
        MisdirectedRequestException loop = assertThrows(MisdirectedRequestException.class,
                () -> client(a.url()).put("k", "v"));
        assertTrue(loop.getMessage().contains("gave up after 3 redirects"), loop.getMessage());
        assertEquals(4, a.count("PUT") + b.count("PUT"));
    }

    @Test
    void aTokenHandedToAnotherClientKeepsReadYourWrites() throws Exception {
        FollowerStandIn behind = standIn();
        WalshipClient writer = client(leaderUrl);
        WalshipClient reader = client(leaderUrl, behind);
        Session s = new Session();
        long before = writer.put(s, "k", "v1");
        behind.applied(() -> before);
        writer.put(s, "k", "v2");
        String token = s.token();

        // the reader process continues the session from its token: the behind follower refuses it
        GetResult r = reader.get(Session.parse(token), "k");
        assertEquals("v2", r.valueString());
        assertEquals(leaderUrl, r.node().toString());
        // a fresh session is content with the follower's state
        assertEquals(behind.url(), reader.get(new Session(), "k").node().toString());
    }

    @Test
    void aFollowerThatDoesNotAnswerInTimeIsSkipped() throws Exception {
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        FollowerStandIn hanging = standIn().override((ex, q, fromLeader) -> {
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return false;
        });
        try {
            WalshipClient c = closing(WalshipClient.builder(leaderUrl).follower(hanging.url())
                    .requestTimeout(Duration.ofMillis(300)).build());
            Session s = new Session();
            c.put(s, "slow", "v");
            long start = System.nanoTime();
            GetResult r = c.get(s, "slow");
            assertEquals("v", r.valueString());
            assertEquals(leaderUrl, r.node().toString());
            assertTrue(System.nanoTime() - start >= Duration.ofMillis(300).toNanos(), "waited for the timeout first");
        } finally {
            release.countDown();
        }
    }

    @Test
    void asyncDurabilityIsAskedForOnWrites() throws Exception {
        FollowerStandIn follower = standIn();
        WalshipClient c = closing(WalshipClient.builder(follower.url()).durability(Durability.ASYNC).build());
        long lsn = c.put("async", "v");
        assertEquals("async", follower.seen().get(0).query().get("durability"));
        assertTrue(lsn > 0);
        assertEquals("v", new String(store.get(utf8("async")), StandardCharsets.UTF_8));
        WalshipClient durable = client(follower.url());
        durable.put("durable", "v");
        assertNull(follower.seen().get(1).query().get("durability"), "durable is the default and not spelled out");
    }

    // ---- errors -----------------------------------------------------------------------------

    @Test
    void theLeadersRefusalsMapToTheirExceptions() throws Exception {
        long start = store.lastLsn();
        WalshipClient c = client(leaderUrl);
        BadRequestException tooBig = assertThrows(BadRequestException.class, () -> c.put(new byte[] {1}, new byte[2000]));
        assertEquals(400, tooBig.status());
        assertTrue(tooBig.getMessage().startsWith(leaderUrl + ": HTTP 400: "), tooBig.getMessage());
        assertFalse(tooBig.reason().startsWith("error:"), tooBig.reason());
        assertTrue(tooBig.getMessage().lines().count() == 1);

        assertThrows(BadRequestException.class, () -> c.put(new byte[300], new byte[1]), "a key over 256 bytes");

        PayloadTooLargeException huge = assertThrows(PayloadTooLargeException.class,
                () -> c.put(new byte[] {1}, new byte[5 << 20]));
        assertEquals(413, huge.status());

        NotFoundException wrongBase = assertThrows(NotFoundException.class,
                () -> client(leaderUrl + "/not-walship").get("k"));
        assertTrue(wrongBase.reason().contains("no such endpoint"), wrongBase.reason());

        int freePort = io.walship.protocol.TestPorts.free();
        // nobody else to ask: the write looks for a leader for 500 ms, then fails saying it never reached one
        WalshipClient nobody = closing(WalshipClient.builder("http://127.0.0.1:" + freePort)
                .discoverLeader(Duration.ofMillis(500)).build());
        NodeUnreachableException down = assertThrows(NodeUnreachableException.class, () -> nobody.put("k", "v"));
        assertEquals(0, down.status());
        assertTrue(down.connectFailed(), down.getMessage());
        assertTrue(down.getSuppressed().length == 1 && down.getSuppressed()[0].getMessage().contains(
                "no node claimed to be a writable leader"), java.util.Arrays.toString(down.getSuppressed()));
        assertThrows(NodeUnreachableException.class, () -> nobody.get("k"));
        assertEquals(start, store.lastLsn(), "nothing was written by the refused requests");
    }

    @Test
    void everyDocumentedStatusHasItsException() throws Exception {
        Map<Integer, Class<? extends WalshipException>> expected = Map.of(
                400, BadRequestException.class,
                401, UnauthorizedException.class,
                404, NotFoundException.class,
                413, PayloadTooLargeException.class,
                421, MisdirectedRequestException.class,
                503, UnavailableException.class,
                507, InsufficientStorageException.class,
                500, ServerErrorException.class,
                502, ServerErrorException.class,
                409, WalshipException.class);
        FollowerStandIn node = standIn();
        WalshipClient c = client(node.url());
        for (Map.Entry<Integer, Class<? extends WalshipException>> e : expected.entrySet()) {
            node.answerAll(e.getKey(), "error: reason " + e.getKey() + "\nsecond line");
            WalshipException w = assertThrows(e.getValue(), () -> c.put("k", "v"));
            assertEquals(e.getValue(), w.getClass(), "status " + e.getKey());
            assertEquals(e.getKey(), w.status());
            assertTrue(w.reason().startsWith("reason " + e.getKey()), w.reason());
            assertTrue(w.getMessage().startsWith(node.url() + ": HTTP " + e.getKey() + ": reason " + e.getKey()), w.getMessage());
            assertEquals(1, w.getMessage().lines().count(), w.getMessage());
            // the same for a read (a 404 without Walship-LSN is not an absent key)
            WalshipException r = assertThrows(e.getValue(), () -> c.get("k"), "read, status " + e.getKey());
            assertEquals(e.getKey(), r.status());
        }
        assertEquals(0, c.session().lsn());
    }

    @Test
    void aBearerTokenFromAFileGoesWithTheRequests() throws Exception {
        FollowerStandIn guarded = standIn().requireToken("s3cret");
        WalshipClient anonymous = client(guarded.url());
        UnauthorizedException e = assertThrows(UnauthorizedException.class, () -> anonymous.put("k", "v"));
        assertEquals("missing or wrong bearer token", e.reason());

        Path file = tmp.resolve("token");
        Files.writeString(file, "  s3cret\n");
        WalshipClient c = closing(WalshipClient.builder(guarded.url()).authTokenFile(file).build());
        guarded.answerAll(0, "");
        // the stand-in's leader is the real one: the write follows the 421 with the token
        long lsn = c.put("k", "v");
        assertEquals(store.lastLsn(), lsn);
        assertEquals("Bearer s3cret", guarded.seen().get(1).authorization());

        Files.writeString(file, " \n");
        IllegalArgumentException empty = assertThrows(IllegalArgumentException.class,
                () -> WalshipClient.builder(leaderUrl).authTokenFile(file));
        assertEquals("auth token file " + file + " is empty", empty.getMessage());
        assertThrows(IllegalArgumentException.class, () -> WalshipClient.builder(leaderUrl).authTokenFile(tmp.resolve("missing")));
    }

    @Test
    void badUrlsAndSettingsAreRefusedAtBuildTime() {
        assertThrows(IllegalArgumentException.class, () -> WalshipClient.builder("ftp://host:1"));
        assertThrows(IllegalArgumentException.class, () -> WalshipClient.builder("http://host:1/?x=1"));
        assertThrows(IllegalArgumentException.class, () -> WalshipClient.builder(leaderUrl).requestTimeout(Duration.ZERO));
        assertThrows(IllegalArgumentException.class, () -> WalshipClient.builder(leaderUrl).maxRedirects(-1));
        assertEquals(URI.create("http://127.0.0.1:8080"), WalshipClient.baseUrl("127.0.0.1:8080/"));
        assertEquals(URI.create("http://[::1]:8080/prefix"), WalshipClient.baseUrl("http://[::1]:8080/prefix/"));
    }

    @Test
    void theReadOrderFollowsThePolicyAndEndsWithTheLeader() {
        String f1 = "http://127.0.0.1:1";
        String f2 = "http://127.0.0.1:2";
        URI l = URI.create(leaderUrl);
        URI u1 = URI.create(f1);
        URI u2 = URI.create(f2);
        WalshipClient first = client(leaderUrl);
        assertEquals(List.of(l), first.readOrder(), "no followers: the leader");
        WalshipClient ff = closing(WalshipClient.builder(leaderUrl).follower(f1).follower(f2).build());
        assertEquals(List.of(u1, u2, l), ff.readOrder());
        assertEquals(List.of(u2, u1, l), ff.readOrder());
        assertEquals(List.of(u1, u2, l), ff.readOrder());
        WalshipClient rr = closing(WalshipClient.builder(leaderUrl).followers(List.of(f1, f2))
                .readPolicy(ReadPolicy.ROUND_ROBIN).build());
        assertEquals(List.of(u1, u2, l), rr.readOrder());
        assertEquals(List.of(u2, u1, l), rr.readOrder());
        assertEquals(List.of(l), rr.readOrder());
        WalshipClient lo = closing(WalshipClient.builder(leaderUrl).follower(f1).readPolicy(ReadPolicy.LEADER_ONLY).build());
        assertEquals(List.of(l), lo.readOrder());
    }

    @Test
    void theWriteTokenGoesOnlyToConfiguredNodesNotToWhateverA421Names() throws Exception {
        FollowerStandIn stranger = closing(new FollowerStandIn(null)); // not configured; answers 421 naming no one
        FollowerStandIn follower = closing(new FollowerStandIn(stranger.url()));
        WalshipClient c = WalshipClient.builder(follower.url()).authToken("s3cret")
                .requestTimeout(Duration.ofSeconds(20)).build();
        assertThrows(MisdirectedRequestException.class, () -> c.put("k", "v"));
        assertEquals("Bearer s3cret", follower.seen().get(0).authorization(), "the configured node gets the token");
        assertEquals(1, stranger.seen().size(), "the 421 was followed");
        assertNull(stranger.seen().get(0).authorization(), "a node only named by a 421 never sees the token");
    }
}
