package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
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
import io.walship.restorer.Promotion;
import io.walship.restorer.follow.FollowerLoop;
import io.walship.server.ConflictException;
import io.walship.server.FollowerNode;
import io.walship.server.HttpApi;
import io.walship.server.Node;
import io.walship.shipper.repl.ReplicationOptions;
import io.walship.wal.ControlFile;
import io.walship.wal.Durability;
import io.walship.wal.Snapshot;
import io.walship.wal.SnapshotLoader;
import io.walship.wal.Store;
import io.walship.wal.WalEntry;
import io.walship.wal.WalReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a live promotion fetches from a peer ({@code GET /wal}): only what the peer's {@code /status}
 * showed on this node's timeline. A peer promoted between its {@code /status} and the {@code /wal}
 * (two promotions racing) has WAL of its new timeline past its fork; taking it would put the new
 * timeline's entries into this node's old one, and after losing the claim it could never follow
 * the winner (it would be past the fork).
 */
class LiveFollowerFetchTest {
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

    /** A standby copy "f1" of a leader that wrote 10 entries. */
    private Path tenEntryStandby() throws Exception {
        try (Store leader = Store.open(tmp.resolve("leader"))) {
            for (int i = 0; i < 10; i++) {
                leader.put(b("k" + i), b("v" + i));
            }
            return standbyCopy(leader, "f1");
        }
    }

    /**
     * Standby copies "f1" and "f2" of a leader that wrote 10 entries; returns the 15 entries it
     * wrote after them (for a peer to apply).
     */
    private List<WalEntry> twoStandbysThenFifteenEntries() throws Exception {
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
        return entries;
    }

    /** Follower f1 over {@code fdir}, its leader unreachable (it never connects in these tests). */
    private static LiveFollower.Config config(Path fdir, LocalObjectStore archive) {
        FollowerLoop.Options options = FollowerLoop.Options.defaults(List.of(new HostPort("127.0.0.1", 1)))
                .withBackoff(Duration.ofSeconds(10), Duration.ofSeconds(10), 42);
        return new LiveFollower.Config(fdir, archive, options, null, null, null,
                ReplicationOptions.defaults(), ReplicationOptions.defaults(), Duration.ofSeconds(1),
                Duration.ZERO, null, "f1", null, new LiveFollower.Lease("f1", Duration.ofSeconds(2),
                Duration.ofMillis(200), io.walship.archive.LeaseClock.SYSTEM, Duration.ofSeconds(3),
                PromotionLease.REAL));
    }

    /** Follower f1 over {@code fdir} with a lease clock and sleeper of the test's (the old leader's lease waited out). */
    static LiveFollower.Config config(Path fdir, io.walship.archive.ObjectStore archive, io.walship.archive.LeaseClock clock,
                                      Duration ttl, Duration margin, PromotionLease.Sleeper sleeper) {
        FollowerLoop.Options options = FollowerLoop.Options.defaults(List.of(new HostPort("127.0.0.1", 1)))
                .withBackoff(Duration.ofSeconds(10), Duration.ofSeconds(10), 42);
        return new LiveFollower.Config(fdir, archive, options, null, null, null,
                ReplicationOptions.defaults(), ReplicationOptions.defaults(), Duration.ofSeconds(1),
                Duration.ZERO, null, "f1", null, new LiveFollower.Lease("f1", ttl, margin, clock,
                PromotionLease.maxWait(ttl, margin), sleeper));
    }

    @Test
    void aPeerIsFetchedFromOnlyUpToWhatItsStatusShowedOnThisTimeline() throws Exception {
        List<WalEntry> entries = twoStandbysThenFifteenEntries();
        Path fdir = tmp.resolve("f1");
        Path pdir = tmp.resolve("f2");
        assertEquals(15, entries.size());
        LocalObjectStore archive = new LocalObjectStore(tmp.resolve("archive"));
        archive.verifyAccess();
        StatusResponse.Follower view = new StatusResponse.Follower("stream", "stream", "127.0.0.1:1",
                "http://127.0.0.1:1", null, null, 0, 0, 0, null);
        try (Store peer = Store.open(pdir)) {
            peer.applyAll(entries.subList(0, 10), Durability.DURABLE);
            long shown = peer.lastLsn();
            FollowerNode peerFollower = new FollowerNode(peer, () -> view, Duration.ZERO, null);
            StatusResponse before = peerFollower.status(); // what the promoting node reads first
            // the peer is promoted meanwhile (it claims timeline 2) and takes writes on it
            Promotion.claimNext(archive, 1, shown, 0, "the peer's promotion");
            peer.applyAll(entries.subList(10, 15), Durability.DURABLE);
            Node stale = new Node() {
                public Store store() {
                    return peer;
                }

                public long put(byte[] key, byte[] value, Durability d) {
                    throw new UnsupportedOperationException();
                }

                public long delete(byte[] key, Durability d) {
                    throw new UnsupportedOperationException();
                }

                public long write(io.walship.wal.WriteBatch batch, Durability d) {
                    throw new UnsupportedOperationException();
                }

                public StatusResponse status() {
                    return before;
                }

                public String metrics() {
                    return "";
                }
            };
            HttpApi api = new HttpApi(stale, new InetSocketAddress("127.0.0.1", 0), null).start();
            try {
                String peerUrl = "http://127.0.0.1:" + api.address().getPort();
                Store mine = Store.open(fdir);
                LiveFollower.Config config = config(fdir, archive);
                try (LiveFollower live = new LiveFollower(config, mine).start()) {
                    ConflictException e = assertThrows(ConflictException.class, () -> live.promote(false, List.of(peerUrl)));
                    // refused by the lease step (the archive already holds timeline 2) or, without it, by the claim
                    assertTrue(e.getMessage().contains("timeline 2"), e.getMessage());
                    // (the lease step comes before the peers are asked, so it may refuse before any fetch)
                    assertTrue(live.store().lastLsn() <= shown, "fetched past what the peer showed on timeline 1");
                    assertEquals(1, live.store().timeline());
                }
            } finally {
                api.close();
            }
        }
    }

    /**
     * A peer that sends the headers of {@code /wal} and then nothing: HttpClient's request timeout ends
     * at the headers, so the promotion used to wait on the body for ever, holding the promotion (every
     * later one 409 "already being promoted") with the follower loop stopped. It gives up after the
     * idle timeout, refuses naming the peer and follows again.
     */
    @Test
    @org.junit.jupiter.api.Timeout(60)
    void aPeerWhoseWalStallsIsGivenUpAfterTheIdleTimeout() throws Exception {
        Path fdir = tenEntryStandby();
        LocalObjectStore archive = new LocalObjectStore(tmp.resolve("archive"));
        archive.verifyAccess();
        java.util.concurrent.CountDownLatch end = new java.util.concurrent.CountDownLatch(1);
        com.sun.net.httpserver.HttpServer peer = com.sun.net.httpserver.HttpServer.create(
                new InetSocketAddress("127.0.0.1", 0), 0);
        peer.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
        try (Store mine = Store.open(fdir)) {
            // the peer claims 5 entries more than this node on its timeline
            StatusResponse ahead = statusAt(mine, mine.lastLsn() + 5);
            peer.createContext("/status", ex -> {
                byte[] body = io.walship.protocol.Json.writeBytes(ahead);
                ex.sendResponseHeaders(200, body.length);
                ex.getResponseBody().write(body);
                ex.close();
            });
            peer.createContext("/wal", ex -> {
                ex.sendResponseHeaders(200, 0);
                ex.getResponseBody().flush();
                try {
                    end.await(); // then nothing, until the test ends
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                ex.close();
            });
            peer.start();
            String peerUrl = "http://127.0.0.1:" + peer.getAddress().getPort();
            LiveFollower.Config config = config(fdir, archive);
            long before = mine.lastLsn();
            try (LiveFollower live = new LiveFollower(config, mine).start()) {
                live.fetchIdleTimeout = Duration.ofMillis(500);
                ConflictException e = assertThrows(ConflictException.class, () -> live.promote(false, List.of(peerUrl)));
                assertTrue(e.getMessage().contains(peerUrl) && e.getMessage().contains("sent nothing"), e.getMessage());
                assertEquals(before, live.store().lastLsn());
                assertTrue(live.loop() != null && !live.promoted(), "following again");
            }
        } finally {
            end.countDown();
            peer.stop(0);
        }
    }

    /**
     * The lease is taken before the peers are asked: while a promotion waits out the old leader's
     * lease, that leader may still acknowledge commits that a peer flushes (semi-sync). The fork must
     * include them; asking the peers first fixed the fork before the wait, and those acknowledged
     * commits were lost to the new timeline although a reachable follower held them.
     */
    @Test
    @org.junit.jupiter.api.Timeout(120)
    void whatAPeerFlushesWhileTheOldLeadersLeaseIsWaitedOutIsFetched() throws Exception {
        List<WalEntry> entries = twoStandbysThenFifteenEntries();
        Path fdir = tmp.resolve("f1");
        Path pdir = tmp.resolve("f2");
        LocalObjectStore archive = new LocalObjectStore(tmp.resolve("archive"));
        archive.verifyAccess();
        io.walship.archive.ManualLeaseClock clock = new io.walship.archive.ManualLeaseClock(1_700_000_000_000_000L);
        Duration ttl = Duration.ofSeconds(10);
        Duration margin = Duration.ofSeconds(1);
        // the old leader's lease, renewed just now: it may acknowledge commits until it expires
        io.walship.archive.LeaderLease.acquire(archive, new io.walship.archive.LeaseRecord.Holder("old", "http://old:1",
                "old:2"), 1, ttl, margin, clock);
        StatusResponse.Follower view = new StatusResponse.Follower("stream", "stream", "127.0.0.1:1",
                "http://127.0.0.1:1", null, null, 0, 0, 0, null);
        try (Store peer = Store.open(pdir)) {
            peer.applyAll(entries.subList(0, 5), Durability.DURABLE);
            HttpApi api = new HttpApi(new FollowerNode(peer, () -> view, Duration.ZERO, null),
                    new InetSocketAddress("127.0.0.1", 0), null).start();
            java.util.concurrent.atomic.AtomicBoolean flushed = new java.util.concurrent.atomic.AtomicBoolean();
            PromotionLease.Sleeper sleeper = d -> {
                clock.advance(d);
                if (flushed.compareAndSet(false, true)) {
                    // meanwhile the old leader commits 10 more, which the peer flushes (and acks)
                    peer.applyAll(entries.subList(5, 15), Durability.DURABLE);
                }
            };
            try {
                String peerUrl = "http://127.0.0.1:" + api.address().getPort();
                Store mine = Store.open(fdir);
                LiveFollower.Config config = config(fdir, archive, clock, ttl, margin, sleeper);
                try (LiveFollower live = new LiveFollower(config, mine).start()) {
                    io.walship.protocol.PromoteResponse r = live.promote(false, List.of(peerUrl)).response();
                    assertTrue(flushed.get(), "the promotion waited for the old leader's lease");
                    long peerEnd = peer.lastLsn();
                    assertEquals(io.walship.wal.Lsn.format(peerEnd), r.forkLsn(),
                            "the fork leaves out commits the peer flushed while the lease was waited out");
                    assertEquals(2, r.timeline());
                }
            } finally {
                api.close();
            }
        }
    }

    /**
     * A peer list may name nodes of another cluster (a stale status object, a reused address) or
     * nodes answering garbage: none holds anything of this system, so each is skipped with a warning
     * — one of them used to refuse the whole promotion (and so every automatic one, for ever).
     */
    @Test
    @org.junit.jupiter.api.Timeout(60)
    void peersOfAnotherSystemOrAnsweringGarbageAreSkipped() throws Exception {
        Path fdir = tenEntryStandby();
        LocalObjectStore archive = new LocalObjectStore(tmp.resolve("archive"));
        archive.verifyAccess();
        com.sun.net.httpserver.HttpServer peer = com.sun.net.httpserver.HttpServer.create(
                new InetSocketAddress("127.0.0.1", 0), 0);
        Store mine = Store.open(fdir);
        try {
            StatusResponse.Follower view = new StatusResponse.Follower("stream", "stream", "127.0.0.1:1",
                    "http://127.0.0.1:1", null, null, 0, 0, 0, null);
            StatusResponse st = new FollowerNode(mine, () -> view, Duration.ZERO, null).status();
            String ahead = io.walship.protocol.Json.write(st).replace("\"durableLsn\":\"" + st.durableLsn() + "\"",
                    "\"durableLsn\":\"" + io.walship.wal.Lsn.format(mine.lastLsn() + 5) + "\"");
            String ours = "\"systemId\":\"" + st.systemId() + "\"";
            assertTrue(ahead.contains(ours), ahead);
            java.util.Map<String, String> answers = new java.util.LinkedHashMap<>();
            answers.put("/foreign", ahead.replace(ours, "\"systemId\":\"1234abcd\""));
            answers.put("/nullid", ahead.replace(ours, "\"systemId\":null"));
            answers.put("/garbage", "{\"role\":");
            answers.put("/jsonnull", "null");
            answers.put("/badlsn", ahead.replace("\"durableLsn\":\"", "\"durableLsn\":\"zz"));
            List<String> urls = new ArrayList<>();
            for (var a : answers.entrySet()) {
                byte[] body = a.getValue().getBytes(StandardCharsets.UTF_8);
                peer.createContext(a.getKey() + "/status", ex -> {
                    ex.sendResponseHeaders(200, body.length);
                    ex.getResponseBody().write(body);
                    ex.close();
                });
                urls.add("http://127.0.0.1:" + peer.getAddress().getPort() + a.getKey());
            }
            peer.start();
            LiveFollower.Config config = config(fdir, archive);
            long before = mine.lastLsn();
            try (LiveFollower live = new LiveFollower(config, mine).start()) {
                var r = live.promote(false, urls);
                assertEquals(2, r.response().timeline(), "promoted despite the foreign and garbage peers");
                assertEquals(null, r.response().fetchedFrom());
                assertEquals(before, live.store().lastLsn());
            }
        } finally {
            peer.stop(0);
            mine.close();
        }
    }

    /**
     * A forced promotion whose peer answers {@code GET /wal} with a whole but short body (here: no
     * entry at all, the chunked body ended normally) loses the WAL the peer's {@code /status} showed
     * past this node. Forced, that is allowed, but not silently: when the fetch fails with an error
     * the loss is a WARN naming the peer and its LSN ("it is lost to the new timeline"); when the
     * stream merely came up short it was only an INFO "fetched 0 entries", and the answer
     * ({@code PromoteResponse}) says nothing of the peer's LSN either, so nobody learns that acknowledged
     * commits the peer held are not on the new timeline.
     */
    @Test
    @org.junit.jupiter.api.Timeout(120)
    void aForcedPromotionAfterAShortButWholeWalAnswerWarnsOfWhatIsLost() throws Exception {
        Path fdir = tenEntryStandby();
        LocalObjectStore archive = new LocalObjectStore(tmp.resolve("archive"));
        archive.verifyAccess();
        com.sun.net.httpserver.HttpServer peer = com.sun.net.httpserver.HttpServer.create(
                new InetSocketAddress("127.0.0.1", 0), 0);
        peer.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
        java.io.PrintStream realErr = System.err;
        java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
        try (Store mine = Store.open(fdir)) {
            long peerDurable = mine.lastLsn() + 5; // the peer shows 5 entries more than this node
            StatusResponse ahead = statusAt(mine, peerDurable);
            peer.createContext("/status", ex -> {
                byte[] body = io.walship.protocol.Json.writeBytes(ahead);
                ex.sendResponseHeaders(200, body.length);
                ex.getResponseBody().write(body);
                ex.close();
            });
            peer.createContext("/wal", ex -> {
                ex.sendResponseHeaders(200, 0); // chunked, then ended at once: whole, and short
                ex.close();
            });
            peer.start();
            String peerUrl = "http://127.0.0.1:" + peer.getAddress().getPort();
            long before = mine.lastLsn();
            try (LiveFollower live = new LiveFollower(config(fdir, archive), mine).start()) {
                // unforced, the shortfall is refused (this is what force overrides)
                ConflictException refused = assertThrows(ConflictException.class,
                        () -> live.promote(false, List.of(peerUrl)));
                assertTrue(refused.getMessage().contains("could be fetched"), refused.getMessage());
                io.walship.protocol.PromoteResponse r;
                System.setErr(new java.io.PrintStream(new TeeStream(realErr, captured), true));
                try {
                    r = live.promote(true, List.of(peerUrl)).response();
                } finally {
                    System.setErr(realErr);
                }
                assertEquals(io.walship.wal.Lsn.format(before), r.forkLsn(), "the 5 entries were not fetched");
                String log = captured.toString(StandardCharsets.UTF_8);
                boolean warned = log.lines().anyMatch(l -> l.contains("WARN") && l.contains(peerUrl)
                        && l.contains(io.walship.wal.Lsn.format(peerDurable)));
                assertTrue(warned, "a forced promotion that left " + (peerDurable - before) + " entries of peer "
                        + peerUrl + " (up to LSN " + io.walship.wal.Lsn.format(peerDurable)
                        + ") behind warns of it; the log was:\n" + log);
            }
        } finally {
            System.setErr(realErr);
            peer.stop(0);
        }
    }

    /** A peer's {@code /status}: this follower's own, but showing WAL up to {@code durable} on its timeline. */
    private static StatusResponse statusAt(Store mine, long durable) throws java.io.IOException {
        StatusResponse.Follower view = new StatusResponse.Follower("stream", "stream", "127.0.0.1:1",
                "http://127.0.0.1:1", null, null, 0, 0, 0, null);
        StatusResponse st = new FollowerNode(mine, () -> view, Duration.ZERO, null).status();
        StatusResponse ahead = io.walship.protocol.Json.read(io.walship.protocol.Json.write(st)
                .replace("\"durableLsn\":\"" + st.durableLsn() + "\"", "\"durableLsn\":\""
                        + io.walship.wal.Lsn.format(durable) + "\""), StatusResponse.class);
        assertEquals(durable, io.walship.wal.Lsn.parse(ahead.durableLsn()));
        return ahead;
    }

    /** Writes to both: the real stream (the build's output) and a copy the test reads. */
    private static final class TeeStream extends java.io.OutputStream {
        private final java.io.OutputStream a;
        private final java.io.OutputStream b;

        TeeStream(java.io.OutputStream a, java.io.OutputStream b) {
            this.a = a;
            this.b = b;
        }

        @Override
        public synchronized void write(int c) throws java.io.IOException {
            a.write(c);
            b.write(c);
        }

        @Override
        public synchronized void write(byte[] buf, int off, int len) throws java.io.IOException {
            a.write(buf, off, len);
            b.write(buf, off, len);
        }

        @Override
        public void flush() throws java.io.IOException {
            a.flush();
        }
    }

    /**
     * review30: a live promotion passes over a timeline an offline promotion claimed ({@code walship promote --data},
     * {@code restore --promote}). Nothing renews its lease on the old timeline while it asks its peers: if the lease
     * lapses meanwhile and that offline-promoted store, started as the leader, takes it on the claimed timeline and
     * takes writes, this promotion must not claim past it (its fork would lose those writes once it took the lease):
     * it renews its lease before claiming, finds it taken, and refuses without claiming anything.
     */
    @Test
    @org.junit.jupiter.api.Timeout(60)
    void aPromotionWhoseLeaseWasTakenWhileItAskedItsPeersClaimsNothing() throws Exception {
        Path fdir = tenEntryStandby();
        LocalObjectStore archive = new LocalObjectStore(tmp.resolve("archive"));
        archive.verifyAccess();
        io.walship.archive.ManualLeaseClock clock = new io.walship.archive.ManualLeaseClock(1_700_000_000_000_000L);
        Duration ttl = Duration.ofSeconds(10);
        Duration margin = Duration.ofSeconds(1);
        io.walship.archive.LeaseRecord.Holder offlineLeader = new io.walship.archive.LeaseRecord.Holder("f9",
                "http://f9:1", "f9:2");
        com.sun.net.httpserver.HttpServer peer = com.sun.net.httpserver.HttpServer.create(
                new InetSocketAddress("127.0.0.1", 0), 0);
        try (Store mine = Store.open(fdir)) {
            // f9 was promoted offline: it claimed timeline 2 and has not started yet
            Promotion.claim(archive, 1, mine.lastLsn(), 0, "promote at LSN " + io.walship.wal.Lsn.format(mine.lastLsn()));
            StatusResponse same = statusAt(mine, mine.lastLsn());
            java.util.concurrent.atomic.AtomicReference<Throwable> failed = new java.util.concurrent.atomic.AtomicReference<>();
            peer.createContext("/status", ex -> {
                try {
                    // this promotion holds the lease on timeline 1 now; it lapses while the peer is slow to answer,
                    // and f9 starts as the leader of timeline 2 and takes it
                    clock.advance(ttl.plus(margin).plusMillis(1));
                    io.walship.archive.LeaderLease.acquire(archive, offlineLeader, 2, ttl, margin, clock);
                } catch (Throwable t) {
                    failed.set(t);
                }
                byte[] body = io.walship.protocol.Json.writeBytes(same);
                ex.sendResponseHeaders(200, body.length);
                ex.getResponseBody().write(body);
                ex.close();
            });
            peer.start();
            String peerUrl = "http://127.0.0.1:" + peer.getAddress().getPort();
            FollowerLoop.Options options = FollowerLoop.Options.defaults(List.of(new HostPort("127.0.0.1", 1)))
                    .withBackoff(Duration.ofSeconds(10), Duration.ofSeconds(10), 42);
            LiveFollower.Config config = new LiveFollower.Config(fdir, archive, options, null, null, null,
                    ReplicationOptions.defaults(), ReplicationOptions.defaults(), Duration.ofSeconds(1),
                    Duration.ZERO, null, "f1", null, new LiveFollower.Lease("f1", ttl, margin, clock,
                    PromotionLease.maxWait(ttl, margin), d -> clock.advance(d)));
            try (LiveFollower live = new LiveFollower(config, mine).start()) {
                ConflictException e = assertThrows(ConflictException.class, () -> live.promote(false, List.of(peerUrl)));
                assertEquals(null, failed.get(), "f9 took the lease");
                assertTrue(e.getMessage().contains("was taken by another node"), e.getMessage());
                assertEquals(java.util.Set.of(2), io.walship.archive.ArchiveListing.of(archive).histories(),
                        "nothing claimed past the offline promotion's timeline");
                assertEquals(2, io.walship.archive.LeaderLease.current(archive).orElseThrow().timeline());
                assertEquals(1, live.store().timeline());
                assertTrue(live.loop() != null && !live.promoted(), "following again");
            }
        } finally {
            peer.stop(0);
        }
    }

    /**
     * The old leader shipped WAL that no follower received (its last async commits, with the followers lagging or cut
     * off) before it died: a live promotion replays it from the archive before it forks, as a PostgreSQL standby
     * replays its restore_command's WAL before it ends recovery. It used to fork at its own end and lose them.
     */
    @Test
    @org.junit.jupiter.api.Timeout(120)
    void whatTheOldLeaderShippedPastEveryFollowerIsReplayedFromTheArchiveBeforeTheFork() throws Exception {
        List<WalEntry> later = twoStandbysThenFifteenEntries(); // the leader ends at LSN 25, f1 at 10
        Path leaderDir = tmp.resolve("leader");
        Path fdir = tmp.resolve("f1");
        long leaderEnd = later.get(later.size() - 1).lsn();
        LocalObjectStore archive = new LocalObjectStore(tmp.resolve("archive"));
        archive.verifyAccess();
        io.walship.archive.ManualLeaseClock clock = new io.walship.archive.ManualLeaseClock(1_700_000_000_000_000L);
        Duration ttl = Duration.ofSeconds(10);
        Duration margin = Duration.ofSeconds(1);
        io.walship.archive.LeaderLease.acquire(archive, new io.walship.archive.LeaseRecord.Holder("old", "http://old:1",
                "old:2"), 1, ttl, margin, clock);
        java.util.concurrent.atomic.AtomicBoolean shipped = new java.util.concurrent.atomic.AtomicBoolean();
        PromotionLease.Sleeper sleeper = d -> {
            clock.advance(d);
            if (shipped.compareAndSet(false, true)) {
                // while its lease is waited out, the old leader's last shipment lands (after the follower loop's
                // own archive catch-up at start, which found nothing)
                try (io.walship.shipper.WalShipper w = new io.walship.shipper.WalShipper(leaderDir, archive,
                        io.walship.shipper.WalShipper.Options.defaults())) {
                    w.shipOnce();
                }
            }
        };
        Store mine = Store.open(fdir);
        try (LiveFollower live = new LiveFollower(config(fdir, archive, clock, ttl, margin, sleeper), mine).start()) {
            io.walship.protocol.PromoteResponse r = live.promote(false, List.of()).response();
            assertTrue(shipped.get(), "the promotion waited for the old leader's lease");
            assertEquals(io.walship.archive.ArchiveListing.of(archive).lastArchivedLsn(1), leaderEnd);
            assertEquals(io.walship.wal.Lsn.format(leaderEnd), r.forkLsn(),
                    "the fork holds every commit the old leader shipped");
            assertEquals(2, r.timeline());
            assertEquals(leaderEnd, live.store().lastLsn());
        }
    }

    /**
     * The archive holds WAL of the old timeline past a gap: what lies past it cannot be replayed, so the promotion
     * refuses (it would lose those commits) and follows again; forced, it forks at what it could replay and says so.
     */
    @Test
    @org.junit.jupiter.api.Timeout(120)
    void archivedWalPastAGapRefusesThePromotionUnlessForced() throws Exception {
        List<WalEntry> later = twoStandbysThenFifteenEntries();
        long leaderEnd = later.get(later.size() - 1).lsn();
        Path fdir = tmp.resolve("f1");
        LocalObjectStore archive = new LocalObjectStore(tmp.resolve("archive"));
        archive.verifyAccess();
        try (io.walship.shipper.WalShipper w = new io.walship.shipper.WalShipper(tmp.resolve("leader"), archive,
                io.walship.shipper.WalShipper.Options.defaults())) {
            w.shipOnce();
        }
        // a later segment whose predecessors are missing (lost, or never uploaded): its name is what counts here
        archive.create(new io.walship.archive.ArchiveLayout.SegmentName(1, leaderEnd + 10, leaderEnd + 12).key(),
                new java.io.ByteArrayInputStream(new byte[]{1}));
        Store mine = Store.open(fdir);
        try (LiveFollower live = new LiveFollower(config(fdir, archive), mine).start()) {
            ConflictException e = assertThrows(ConflictException.class, () -> live.promote(false, List.of()));
            assertTrue(e.getMessage().contains("to LSN " + io.walship.wal.Lsn.format(leaderEnd + 12))
                    && e.getMessage().contains("a gap in the archive"), e.getMessage());
            assertEquals(1, live.store().timeline(), "nothing claimed");
            assertEquals(leaderEnd, live.store().lastLsn(), "what lies before the gap was replayed");
            io.walship.protocol.PromoteResponse r = live.promote(true, List.of()).response();
            assertEquals(io.walship.wal.Lsn.format(leaderEnd), r.forkLsn());
        }
    }
}
