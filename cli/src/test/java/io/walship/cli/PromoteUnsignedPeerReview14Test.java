package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import io.walship.archive.LocalObjectStore;
import io.walship.protocol.HostPort;
import io.walship.protocol.StatusResponse;
import io.walship.restorer.follow.FollowerLoop;
import io.walship.server.ConflictException;
import io.walship.server.FollowerNode;
import io.walship.server.HttpApi;
import io.walship.shipper.repl.ReplicationOptions;
import io.walship.wal.ControlFile;
import io.walship.wal.Durability;
import io.walship.wal.Lsn;
import io.walship.wal.Snapshot;
import io.walship.wal.SnapshotLoader;
import io.walship.wal.Store;
import io.walship.wal.WalEntry;
import io.walship.wal.WalReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * df78a15 made {@code LiveFollower.bestPeer} rank peers' durable LSNs unsigned, but {@code promote}
 * still compares the chosen peer's LSN with this store's signed ({@code best.durable() >
 * store.lastLsn()}). A peer whose {@code /status} shows an LSN with the top bit set (a corrupt or
 * buggy peer: {@link Lsn#parse} takes any 16 hex digits) now wins the ranking and then reads as
 * negative, so nothing is fetched, not even from a healthy peer that holds writes this node lacks:
 * the promotion forks before them and they are lost to the new timeline (before df78a15 the healthy
 * peer won and was fetched from). Expected: the healthy peer's writes are fetched, or the promotion
 * refuses.
 */
class PromoteUnsignedPeerReview14Test {
    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private Path standbyCopy(Store leader, String name) throws Exception {
        Path dir = tmp.resolve(name);
        try (Snapshot s = leader.snapshot(); InputStream in = s.openStream()) {
            SnapshotLoader.load(in, dir);
        }
        ControlFile.read(dir).asStandby().write(dir);
        return dir;
    }

    @Test
    @org.junit.jupiter.api.Timeout(120)
    void aPeerShowingAnLsnWithTheTopBitSetDoesNotHideAHealthyPeerAhead() throws Exception {
        List<WalEntry> entries = new ArrayList<>();
        try (Store leader = Store.open(tmp.resolve("leader"))) {
            for (int i = 0; i < 10; i++) {
                leader.put(b("k" + i), b("v" + i));
            }
            standbyCopy(leader, "f1");
            standbyCopy(leader, "f2");
            long from = leader.lastLsn() + 1;
            for (int i = 10; i < 25; i++) {
                leader.put(b("k" + i), b("v" + i));
            }
            try (WalReader r = leader.walReader()) {
                r.seek(from);
                WalEntry e;
                while ((e = r.next()) != null) {
                    entries.add(e);
                }
            }
        }
        LocalObjectStore archive = new LocalObjectStore(tmp.resolve("archive"));
        archive.verifyAccess();
        StatusResponse.Follower view = new StatusResponse.Follower("stream", "stream", "127.0.0.1:1",
                "http://127.0.0.1:1", null, null, 0, 0, 0, null);
        com.sun.net.httpserver.HttpServer bogus = com.sun.net.httpserver.HttpServer.create(
                new InetSocketAddress("127.0.0.1", 0), 0);
        try (Store peer = Store.open(tmp.resolve("f2"))) {
            peer.applyAll(entries, Durability.DURABLE); // the healthy peer holds 15 writes f1 lacks
            HttpApi api = new HttpApi(new FollowerNode(peer, () -> view, Duration.ZERO, null),
                    new InetSocketAddress("127.0.0.1", 0), null).start();
            try {
                StatusResponse st = new FollowerNode(peer, () -> view, Duration.ZERO, null).status();
                String claims = io.walship.protocol.Json.write(st).replace("\"durableLsn\":\"" + st.durableLsn() + "\"",
                        "\"durableLsn\":\"8000000000000000\"");
                assertTrue(claims.contains("8000000000000000"), claims);
                byte[] body = claims.getBytes(StandardCharsets.UTF_8);
                bogus.createContext("/status", ex -> {
                    ex.sendResponseHeaders(200, body.length);
                    ex.getResponseBody().write(body);
                    ex.close();
                });
                bogus.createContext("/wal", ex -> {
                    byte[] b = "error".getBytes(StandardCharsets.UTF_8);
                    ex.sendResponseHeaders(500, b.length);
                    ex.getResponseBody().write(b);
                    ex.close();
                });
                bogus.start();
                String healthy = "http://127.0.0.1:" + api.address().getPort();
                String bad = "http://127.0.0.1:" + bogus.getAddress().getPort();
                Path fdir = tmp.resolve("f1");
                Store mine = Store.open(fdir);
                FollowerLoop.Options options = FollowerLoop.Options.defaults(List.of(new HostPort("127.0.0.1", 1)))
                        .withBackoff(Duration.ofSeconds(10), Duration.ofSeconds(10), 42);
                LiveFollower.Config config = new LiveFollower.Config(fdir, archive, options, null, null, null,
                        ReplicationOptions.defaults(), ReplicationOptions.defaults(), Duration.ofSeconds(1),
                        Duration.ZERO, null, "f1", null, new LiveFollower.Lease("f1", Duration.ofSeconds(2),
                        Duration.ofMillis(200), io.walship.archive.LeaseClock.SYSTEM, Duration.ofSeconds(3),
                        PromotionLease.REAL));
                try (LiveFollower live = new LiveFollower(config, mine).start()) {
                    long peerEnd = peer.lastLsn();
                    try {
                        live.promote(false, List.of(healthy, bad));
                    } catch (ConflictException refused) {
                        return; // refusing is acceptable: nothing lost
                    }
                    assertEquals(Lsn.format(peerEnd), Lsn.format(live.store().lastLsn()),
                            "promoted without the writes the healthy peer " + healthy + " holds: they are lost to the new"
                                    + " timeline (a peer showing 8000000000000000 won the unsigned ranking, then read as"
                                    + " negative)");
                }
            } finally {
                api.close();
            }
        } finally {
            bogus.stop(0);
        }
    }
    /**
     * The same change ranks a peer's timeline unsigned: a peer whose {@code /status} shows a negative
     * timeline (garbage) now refuses every promotion as "newer than this follower's" (with automatic
     * failover: for ever); before it was skipped with a warning, as peers answering garbage are.
     */
    @Test
    @org.junit.jupiter.api.Timeout(120)
    void aPeerShowingANegativeTimelineIsSkippedNotARefusal() throws Exception {
        try (Store leader = Store.open(tmp.resolve("leader"))) {
            for (int i = 0; i < 10; i++) {
                leader.put(b("k" + i), b("v" + i));
            }
            standbyCopy(leader, "f1");
        }
        LocalObjectStore archive = new LocalObjectStore(tmp.resolve("archive"));
        archive.verifyAccess();
        StatusResponse.Follower view = new StatusResponse.Follower("stream", "stream", "127.0.0.1:1",
                "http://127.0.0.1:1", null, null, 0, 0, 0, null);
        com.sun.net.httpserver.HttpServer bogus = com.sun.net.httpserver.HttpServer.create(
                new InetSocketAddress("127.0.0.1", 0), 0);
        Path fdir = tmp.resolve("f1");
        Store mine = Store.open(fdir);
        try {
            StatusResponse st = new FollowerNode(mine, () -> view, Duration.ZERO, null).status();
            String claims = io.walship.protocol.Json.write(st).replace("\"timeline\":" + st.timeline() + ",",
                    "\"timeline\":-1,");
            assertTrue(claims.contains("\"timeline\":-1,"), claims);
            byte[] body = claims.getBytes(StandardCharsets.UTF_8);
            bogus.createContext("/status", ex -> {
                ex.sendResponseHeaders(200, body.length);
                ex.getResponseBody().write(body);
                ex.close();
            });
            bogus.start();
            String bad = "http://127.0.0.1:" + bogus.getAddress().getPort();
            FollowerLoop.Options options = FollowerLoop.Options.defaults(List.of(new HostPort("127.0.0.1", 1)))
                    .withBackoff(Duration.ofSeconds(10), Duration.ofSeconds(10), 42);
            LiveFollower.Config config = new LiveFollower.Config(fdir, archive, options, null, null, null,
                    ReplicationOptions.defaults(), ReplicationOptions.defaults(), Duration.ofSeconds(1),
                    Duration.ZERO, null, "f1", null, new LiveFollower.Lease("f1", Duration.ofSeconds(2),
                    Duration.ofMillis(200), io.walship.archive.LeaseClock.SYSTEM, Duration.ofSeconds(3),
                    PromotionLease.REAL));
            try (LiveFollower live = new LiveFollower(config, mine).start()) {
                live.promote(false, List.of(bad)); // a ConflictException here is the defect
                assertEquals(2, live.store().timeline());
            }
        } finally {
            bogus.stop(0);
        }
    }
}
