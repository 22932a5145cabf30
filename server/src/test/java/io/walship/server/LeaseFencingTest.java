package io.walship.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;

import io.walship.archive.FaultyLeaseStore;
import io.walship.archive.LeaseKeeper;
import io.walship.archive.LeaseRecord;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ManualLeaseClock;
import io.walship.protocol.Json;
import io.walship.protocol.StatusResponse;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fencing over real HTTP on an in-process leader whose archive fails on demand, with a manual
 * clock: renewals failing make writes 503 before the lease could expire, reads go on, /status and
 * /metrics say why; a clean renewal resumes; a lease taken by another node fences for good.
 */
class LeaseFencingTest {
    static final Duration TTL = Duration.ofSeconds(10);
    static final Duration MARGIN = Duration.ofSeconds(1);

    @TempDir
    Path tmp;
    private final HttpClient http = HttpClient.newHttpClient();
    private final ManualLeaseClock clock = new ManualLeaseClock(1_780_000_000_000_000L);

    private HttpResponse<String> send(LeaderServer s, String method, String path, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.address().getPort() + path));
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private StatusResponse.Lease lease(LeaderServer s) throws Exception {
        return Json.read(send(s, "GET", "/status", null).body().getBytes(), StatusResponse.class).lease();
    }

    @Test
    void failingRenewalsFenceWritesBeforeExpiryAndACleanRenewalResumes() throws Exception {
        LocalObjectStore archive = new LocalObjectStore(tmp.resolve("archive"));
        FaultyLeaseStore faulty = new FaultyLeaseStore(archive);
        LeaseRecord.Holder me = new LeaseRecord.Holder("leader-a", "http://127.0.0.1:1", "");
        try (Store store = Store.open(tmp.resolve("data"));
             LeaseKeeper keeper = LeaseKeeper.manual(faulty, me, store.timeline(), TTL, MARGIN, clock);
             LeaderServer s = new LeaderServer(store, new InetSocketAddress("127.0.0.1", 0), null, null, null, null,
                     keeper).start()) {
            HttpResponse<String> before = send(s, "PUT", "/kv/k0", "v0");
            assertEquals(503, before.statusCode(), "no lease taken yet: " + before.body());
            assertEquals(1, store.lastLsn(), "refused before committing");

            keeper.tick();
            assertEquals(200, send(s, "PUT", "/kv/k1", "v1").statusCode());
            StatusResponse.Lease held = lease(s);
            assertEquals("HELD", held.state());
            assertTrue(held.writable());
            assertEquals(1, held.term());

            faulty.down = true; // every renewal fails from here
            for (int i = 1; i <= 2; i++) {
                clock.advance(TTL.dividedBy(3));
                keeper.tick();
                assertEquals(200, send(s, "PUT", "/kv/k" + (1 + i), "v").statusCode(), "renewal " + i + " failed,"
                        + " but the lease is still valid");
            }
            clock.advance(TTL.minus(MARGIN).minus(TTL.dividedBy(3).multipliedBy(2))); // expiry minus the margin
            long lsn = store.lastLsn();
            HttpResponse<String> fenced = send(s, "PUT", "/kv/late", "v");
            assertEquals(503, fenced.statusCode(), fenced.body());
            assertEquals(1, fenced.body().lines().count(), fenced.body());
            assertTrue(fenced.body().contains("could not be renewed before its expiry minus the skew margin"),
                    fenced.body());
            assertEquals(lsn, store.lastLsn(), "nothing committed");
            assertTrue(clock.wallMicros() < archive.getVersioned("lease/leader.json").map(v ->
                    LeaseRecord.read(v.content(), "lease").expiresAtMicros()).orElseThrow(),
                    "fenced before the lease expired for anyone else");
            assertEquals(503, send(s, "POST", "/batch", "{\"ops\":[{\"op\":\"put\",\"key\":\"b\",\"value\":\"v\"}]}")
                    .statusCode());
            assertEquals(503, send(s, "DELETE", "/kv/k1", null).statusCode());
            assertEquals(200, send(s, "GET", "/kv/k1", null).statusCode(), "reads go on");

            StatusResponse.Lease st = lease(s);
            assertEquals("FENCED", st.state());
            assertFalse(st.writable());
            assertTrue(st.reason().contains("HTTP 503 after every retry"), st.reason());
            assertEquals(1, st.fencings());
            String metrics = send(s, "GET", "/metrics", null).body();
            assertTrue(metrics.contains("walship_lease_writable 0.0"), metrics);
            assertTrue(metrics.contains("walship_lease_state{state=\"fenced\"} 1.0"), metrics);

            faulty.down = false;
            keeper.tick(); // nobody took it: renewing the same version is a clean re-acquisition
            assertEquals(200, send(s, "PUT", "/kv/again", "v").statusCode());
            assertEquals("HELD", lease(s).state());
        }
    }

    @Test
    void aLeaseTakenByAnotherNodeFencesTheOldLeaderForGood() throws Exception {
        LocalObjectStore archive = new LocalObjectStore(tmp.resolve("archive"));
        FaultyLeaseStore faulty = new FaultyLeaseStore(archive);
        LeaseRecord.Holder a = new LeaseRecord.Holder("leader-a", "http://127.0.0.1:1", "");
        LeaseRecord.Holder b = new LeaseRecord.Holder("leader-b", "http://127.0.0.1:2", "");
        try (Store store = Store.open(tmp.resolve("data"));
             LeaseKeeper keeper = LeaseKeeper.manual(faulty, a, store.timeline(), TTL, MARGIN, clock);
             LeaderServer s = new LeaderServer(store, new InetSocketAddress("127.0.0.1", 0), null, null, null, null,
                     keeper).start()) {
            keeper.tick();
            assertEquals(200, send(s, "PUT", "/kv/k", "v").statusCode());
            faulty.down = true; // a partition from the archive longer than the lease (or a SIGSTOP)
            clock.advance(TTL.plus(MARGIN).plusMillis(1));
            LeaseKeeper other = LeaseKeeper.manual(archive, b, 2, TTL, MARGIN, clock);
            other.tick();
            assertTrue(other.writable());
            faulty.down = false;
            keeper.tick();
            HttpResponse<String> r = send(s, "PUT", "/kv/k2", "v");
            assertEquals(503, r.statusCode());
            assertTrue(r.body().contains("leader-b"), r.body());
            StatusResponse.Lease st = lease(s);
            assertEquals("LOST", st.state());
            assertTrue(st.holder().contains("leader-b"), st.holder());
            clock.advance(TTL.multipliedBy(3));
            other.close(); // even once B is gone, its timeline 2 is newer: A never writes again
            keeper.tick();
            assertEquals("SUPERSEDED", lease(s).state());
            assertEquals(503, send(s, "PUT", "/kv/k3", "v").statusCode());
        }
    }
}
