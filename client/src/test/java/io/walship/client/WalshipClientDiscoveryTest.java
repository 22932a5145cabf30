package io.walship.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
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

import io.walship.archive.LeaseKeeper;
import io.walship.archive.LeaseRecord;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ManualLeaseClock;
import io.walship.protocol.Headers;
import io.walship.protocol.Json;
import io.walship.protocol.StatusResponse;
import io.walship.server.LeaderServer;
import io.walship.shipper.repl.ReplicationOptions;
import io.walship.shipper.repl.ReplicationServer;
import io.walship.shipper.repl.SyncOptions;
import io.walship.wal.Store;
import io.walship.protocol.TestPorts;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Leader discovery of {@link WalshipClient} against real in-process leaders ({@link LeaderServer}):
 * a leader that is gone (connection refused) is replaced by the node that says it leads, and the
 * write that never reached the dead one is sent there; a leader fenced by the lease another node
 * took answers 503 {@code Walship-Committed: no} naming it, and the client moves there although it
 * was never configured with it; a write whose outcome is unknown (the leader took it and did not
 * answer in time) is never resent, even with a writable leader at hand. The process-level
 * failover (a promoted follower) is in the cli module's FailoverProcessTest.
 */
class WalshipClientDiscoveryTest {
    static final Duration TTL = Duration.ofSeconds(10);
    static final Duration MARGIN = Duration.ofSeconds(1);

    @TempDir
    Path tmp;
    private final List<AutoCloseable> open = new ArrayList<>();
    private final HttpClient http = HttpClient.newHttpClient();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    private <T extends AutoCloseable> T opened(T c) {
        open.add(c);
        return c;
    }

    private static String url(LeaderServer s) {
        return "http://127.0.0.1:" + s.address().getPort();
    }


    private StatusResponse status(String url) throws Exception {
        HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(URI.create(url + "/status")).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        return Json.read(r.body(), StatusResponse.class);
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void aDeadLeadersWriteGoesToTheNodeThatLeadsNow() throws Exception {
        Store a = opened(Store.open(tmp.resolve("a")));
        Store b = opened(Store.open(tmp.resolve("b")));
        LeaderServer sa = new LeaderServer(a, new InetSocketAddress("127.0.0.1", 0)).start();
        LeaderServer sb = opened(new LeaderServer(b, new InetSocketAddress("127.0.0.1", 0)).start());
        String urlA = url(sa);
        sa.close(); // the leader is gone before the client ever reached it: its port refuses connections

        StatusResponse.Leader named = status(url(sb)).leader();
        assertTrue(named.self(), "a leader without a lease names itself: " + named);
        assertEquals(Boolean.TRUE, named.writable());
        assertEquals(url(sb), named.url());
        assertNull(named.lease());

        // discovery off: the write fails at once, and says that it never reached the node
        try (WalshipClient off = WalshipClient.builder(urlA).follower(url(sb)).discoverLeader(Duration.ZERO).build()) {
            NodeUnreachableException e = assertThrows(NodeUnreachableException.class, () -> off.put("k", "v"));
            assertTrue(e.connectFailed(), e.getMessage());
            assertEquals(URI.create(urlA), off.leader());
        }
        assertTrue(b.get(utf8("k")) == null, "nothing sent with discovery off");

        try (WalshipClient client = WalshipClient.builder(urlA).follower(url(sb)).build()) {
            long lsn = client.put("k", "v");
            assertEquals(URI.create(url(sb)), client.leader(), "the client moved to the node that leads");
            assertEquals(b.lastLsn(), lsn);
            assertArrayEquals(utf8("v"), b.get(utf8("k")));
            assertEquals(lsn + 1, client.put("k2", "v2"), "later writes go straight to the new leader");
        }
    }

    @Test
    void aFencedLeaderNamesTheLeaseHolderAndTheClientMovesThere() throws Exception {
        LocalObjectStore archive = new LocalObjectStore(tmp.resolve("archive"));
        ManualLeaseClock clock = new ManualLeaseClock(1_780_000_000_000_000L);
        Store a = opened(Store.open(tmp.resolve("a")));
        Store b = opened(Store.open(tmp.resolve("b")));
        LeaseKeeper ka = opened(LeaseKeeper.manual(archive, new LeaseRecord.Holder("a", "", ""), 1, TTL, MARGIN, clock));
        LeaderServer sa = opened(new LeaderServer(a, new InetSocketAddress("127.0.0.1", 0), null, null, null, null, ka)
                .start());
        int portB = TestPorts.free();
        String urlB = "http://127.0.0.1:" + portB;
        LeaseKeeper kb = opened(LeaseKeeper.manual(archive, new LeaseRecord.Holder("b", urlB, ""), 1, TTL, MARGIN, clock));
        LeaderServer sb = opened(new LeaderServer(b, new InetSocketAddress("127.0.0.1", portB), null, null, null, null,
                kb).start());
        ka.tick();
        kb.tick(); // a holds the lease: b waits
        assertFalse(status(urlB).leader().self(), "b names a, who holds the lease: " + status(urlB).leader());

        // the client knows only a
        try (WalshipClient client = WalshipClient.builder(url(sa)).build()) {
            long first = client.put("k1", "v1");
            assertEquals(a.lastLsn(), first);
            StatusResponse.Leader self = status(url(sa)).leader();
            assertTrue(self.self());
            assertEquals("HELD", self.lease());
            assertEquals(Boolean.TRUE, self.writable());

            clock.advance(TTL.plus(MARGIN).plus(MARGIN)); // a's renewals stopped: its lease expired
            kb.tick(); // b takes it
            ka.tick(); // a sees that it lost it
            StatusResponse.Leader other = status(url(sa)).leader();
            assertFalse(other.self(), "a names b now: " + other);
            assertEquals(urlB, other.url());
            HttpResponse<String> refused = http.send(HttpRequest.newBuilder(URI.create(url(sa) + "/kv/x"))
                    .PUT(HttpRequest.BodyPublishers.ofString("y")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(503, refused.statusCode(), refused.body());
            assertEquals("no", refused.headers().firstValue(Headers.COMMITTED).orElse(null));
            assertEquals(urlB, refused.headers().firstValue(Headers.LEADER).orElse(null));

            try (WalshipClient off = WalshipClient.builder(url(sa)).discoverLeader(Duration.ZERO).build()) {
                UnavailableException e = assertThrows(UnavailableException.class, () -> off.put("k", "v"));
                assertTrue(e.notCommitted(), "a refused it before committing: " + e.getMessage());
                assertEquals(URI.create(url(sa)), off.leader(), "discovery off: the client stays");
            }
            long lsnA = a.lastLsn();
            long second = client.put("k2", "v2");
            assertEquals(URI.create(urlB), client.leader());
            assertTrue(client.knownNodes().contains(URI.create(urlB)), "learnt from a's 503: " + client.knownNodes());
            assertEquals(b.lastLsn(), second);
            assertArrayEquals(utf8("v2"), b.get(utf8("k2")));
            assertEquals(lsnA, a.lastLsn(), "the fenced leader committed nothing");
            assertTrue(a.get(utf8("k2")) == null);
        }
    }

    @Test
    void aWriteWhoseOutcomeIsUnknownIsNeverResent() throws Exception {
        Store a = opened(Store.open(tmp.resolve("a")));
        Store b = opened(Store.open(tmp.resolve("b")));
        // a waits for a follower's ack that never comes (semi-sync, block): the write is committed
        // there and never answered
        ReplicationServer repl = opened(new ReplicationServer(a, new InetSocketAddress("127.0.0.1", 0),
                ReplicationOptions.defaults(), new SyncOptions(SyncOptions.Mode.SEMI_SYNC, 1, Duration.ofHours(1),
                SyncOptions.OnTimeout.BLOCK)).start());
        LeaderServer sa = opened(new LeaderServer(a, new InetSocketAddress("127.0.0.1", 0), null, repl, null).start());
        LeaderServer sb = opened(new LeaderServer(b, new InetSocketAddress("127.0.0.1", 0)).start());
        long bBefore = b.lastLsn();
        try (WalshipClient client = WalshipClient.builder(url(sa)).follower(url(sb))
                .requestTimeout(Duration.ofMillis(1500)).build()) {
            long aBefore = a.lastLsn();
            NodeUnreachableException e = assertThrows(NodeUnreachableException.class, () -> client.put("k", "v"));
            assertFalse(e.connectFailed(), "the request reached a: " + e.getMessage());
            assertEquals(aBefore + 1, a.lastLsn(), "a committed it (and waits for its ack)");
            assertEquals(bBefore, b.lastLsn(), "never resent to b, although b takes writes");
            assertTrue(b.get(utf8("k")) == null);
        }
    }
}
