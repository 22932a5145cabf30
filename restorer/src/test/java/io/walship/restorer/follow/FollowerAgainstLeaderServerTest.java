package io.walship.restorer.follow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.BooleanSupplier;

import io.walship.protocol.AuthToken;
import io.walship.protocol.HostPort;
import io.walship.protocol.repl.RefusalCode;
import javax.net.ServerSocketFactory;
import io.walship.shipper.repl.ReplicationOptions;
import io.walship.shipper.repl.ReplicationServer;
import io.walship.wal.ControlFile;
import io.walship.wal.Durability;
import io.walship.wal.Poll;
import io.walship.wal.Snapshot;
import io.walship.wal.SnapshotLoader;
import io.walship.wal.Store;
import io.walship.wal.StoreOptions;
import io.walship.wal.WalEntry;
import io.walship.wal.WalReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The follower loop against the leader's real replication server, in one JVM: the two ends agree on the protocol. */
class FollowerAgainstLeaderServerTest {
    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static void await(String what, BooleanSupplier cond) {
        Poll.until(Duration.ofSeconds(60), cond, () -> "until " + what);
    }

    private Store standbyOf(Store leader, String name) throws Exception {
        return Standbys.of(leader, tmp.resolve(name));
    }

    @Test
    void followsALeaderThatKeepsWritingOnASlotAndAWrongTokenIsFatal() throws Exception {
        long seed = System.nanoTime();
        System.out.println("seed " + seed);
        Random rnd = new Random(seed);
        try (Store leader = Store.open(tmp.resolve("leader"))) {
            for (int i = 0; i < 500; i++) {
                leader.put(b("k" + rnd.nextInt(300)), b("v" + i), Durability.ASYNC);
            }
            AuthToken token = AuthToken.of("s3cret");
            try (Store follower = standbyOf(leader, "f");
                 ReplicationServer repl = new ReplicationServer(leader, new InetSocketAddress("127.0.0.1", 0),
                         ReplicationOptions.defaults().withAuthToken(token).withIdentity("leader-1", "http://127.0.0.1:9"))
                         .start()) {
                HostPort at = new HostPort("127.0.0.1", repl.address().getPort());
                try (FollowerLoop loop = new FollowerLoop(follower, null, FollowerLoop.Options.defaults(at)
                        .withSlot("f1").withAuthToken("s3cret").withNodeId("f1")
                        .withBackoff(Duration.ofMillis(10), Duration.ofMillis(200), seed)).start()) {
                    for (int i = 0; i < 5_000; i++) {
                        if (rnd.nextInt(5) == 0) {
                            leader.delete(b("k" + rnd.nextInt(300)), Durability.ASYNC);
                        } else {
                            leader.put(b("k" + rnd.nextInt(300)), b("w" + i), i % 10 == 0 ? Durability.DURABLE : Durability.ASYNC);
                        }
                    }
                    leader.awaitDurable(leader.lastLsn(), Duration.ofSeconds(10));
                    await("the follower applied everything", () -> follower.lastLsn() == leader.lastLsn());
                    assertEquals(leader.digest(), follower.digest());
                    assertEquals("stream", loop.status().source());
                    assertEquals("http://127.0.0.1:9", loop.status().leaderUrl());
                    await("the leader saw the follower's replay position", () -> repl.sessions().stream()
                            .anyMatch(s -> s.nodeId().equals("f1") && s.replayLsn() == leader.lastLsn()));
                }
                try (Store other = standbyOf(leader, "g");
                     FollowerLoop bad = new FollowerLoop(other, null, FollowerLoop.Options.defaults(at)
                             .withAuthToken("wrong").withBackoff(Duration.ofMillis(10), Duration.ofMillis(200), seed)).start()) {
                    assertTrue(bad.awaitStopped(Duration.ofSeconds(30)));
                    assertEquals(RefusalCode.AUTH_FAILED, assertInstanceOf(FollowerStoppedException.class, bad.failure()).code());
                }
            }
        }
    }

    @Test
    void aFollowerServesItsWalToAFollowerFurtherDown() throws Exception {
        long seed = System.nanoTime();
        System.out.println("seed " + seed);
        Random rnd = new Random(seed);
        try (Store leader = Store.open(tmp.resolve("leader"))) {
            for (int i = 0; i < 300; i++) {
                leader.put(b("k" + rnd.nextInt(200)), b("v" + i), Durability.ASYNC);
            }
            try (Store middle = standbyOf(leader, "middle");
                 Store bottom = standbyOf(leader, "bottom");
                 ReplicationServer top = new ReplicationServer(leader, new InetSocketAddress("127.0.0.1", 0),
                         ReplicationOptions.defaults()).start();
                 FollowerLoop first = new FollowerLoop(middle, null, FollowerLoop.Options.defaults(
                         new HostPort("127.0.0.1", top.address().getPort())).withNodeId("middle")
                         .withBackoff(Duration.ofMillis(10), Duration.ofMillis(200), seed)).start();
                 ReplicationServer cascade = new ReplicationServer(middle, new InetSocketAddress("127.0.0.1", 0),
                         ReplicationOptions.defaults()).start();
                 FollowerLoop second = new FollowerLoop(bottom, null, FollowerLoop.Options.defaults(
                         new HostPort("127.0.0.1", cascade.address().getPort())).withNodeId("bottom")
                         .withBackoff(Duration.ofMillis(10), Duration.ofMillis(200), seed + 1))
                         // the lease names the leader: on the same timeline the configured upstream is kept
                         .withLeaderSource(() -> java.util.List.of(new HostPort("127.0.0.1", top.address().getPort())))
                         .start()) {
                for (int i = 0; i < 3_000; i++) {
                    leader.put(b("k" + rnd.nextInt(200)), b("w" + i), Durability.ASYNC);
                }
                leader.awaitDurable(leader.lastLsn(), Duration.ofSeconds(10));
                await("the follower of the follower applied everything", () -> bottom.lastLsn() == leader.lastLsn());
                assertEquals(leader.digest(), bottom.digest());
                assertEquals(leader.digest(), middle.digest());
                assertTrue(cascade.sessions().stream().anyMatch(s -> s.nodeId().equals("bottom")));
                await("the leader has no session of the cascaded follower (it was asked, and let go)",
                        () -> top.sessions().stream().noneMatch(s -> s.nodeId().equals("bottom")));
            }
        }
    }

    /**
     * A follower of the old leader follows a promoted one onto its new timeline: the new leader serves
     * the ancestor timeline up to the fork and sends TIMELINE; offered both leaders, the follower picks
     * the one on the newer timeline. A follower with WAL past the fork is refused FOLLOWER_AHEAD.
     */
    @Test
    void followsAPromotedLeaderOntoItsTimelineAndOneWithWalPastTheForkIsRefused() throws Exception {
        long seed = System.nanoTime();
        System.out.println("seed " + seed);
        Random rnd = new Random(seed);
        Path pDir = tmp.resolve("p");
        long fork;
        try (Store old = Store.open(tmp.resolve("old"));
             ReplicationServer oldRepl = new ReplicationServer(old, new InetSocketAddress("127.0.0.1", 0),
                     ReplicationOptions.defaults()).start()) {
            HostPort oldAt = new HostPort("127.0.0.1", oldRepl.address().getPort());
            for (int i = 0; i < 10; i++) {
                old.put(b("k" + i), b("v" + i), Durability.DURABLE);
            }
            Store a = standbyOf(old, "a");
            try (Store p = standbyOf(old, "p")) {
                for (int i = 0; i < 290; i++) {
                    old.put(b("k" + rnd.nextInt(100)), b("w" + i), Durability.ASYNC);
                }
                old.awaitDurable(old.lastLsn(), Duration.ofSeconds(10));
                long first = old.lastLsn();
                try (FollowerLoop la = new FollowerLoop(a, null, FollowerLoop.Options.defaults(oldAt).withNodeId("a")
                        .withBackoff(Duration.ofMillis(10), Duration.ofMillis(200), seed)).start()) {
                    await("a caught up", () -> a.lastLsn() == first);
                }
                for (int i = 0; i < 20; i++) {
                    old.put(b("k" + rnd.nextInt(100)), b("x" + i), Durability.DURABLE);
                }
                try (FollowerLoop lp = new FollowerLoop(p, null, FollowerLoop.Options.defaults(oldAt).withNodeId("p")
                        .withBackoff(Duration.ofMillis(10), Duration.ofMillis(200), seed)).start()) {
                    await("p caught up", () -> p.lastLsn() == old.lastLsn());
                }
                fork = p.lastLsn();
            }
            // p is promoted onto timeline 2 after the fork; the old leader goes on writing timeline 1
            ControlFile.read(pDir).promoted(2).write(pDir);
            for (int i = 0; i < 10; i++) {
                old.put(b("k" + rnd.nextInt(100)), b("y" + i), Durability.DURABLE);
            }
            try (Store p = Store.open(pDir);
                 Store ahead = standbyOf(old, "ahead");
                 ReplicationServer pRepl = new ReplicationServer(p, new InetSocketAddress("127.0.0.1", 0),
                         ReplicationOptions.defaults()).withAncestors(java.util.Map.of(1, fork)).start()) {
                for (int i = 0; i < 30; i++) {
                    p.put(b("k" + rnd.nextInt(100)), b("z" + i), Durability.DURABLE);
                }
                HostPort pAt = new HostPort("127.0.0.1", pRepl.address().getPort());
                try (a; FollowerLoop la = new FollowerLoop(a, null, FollowerLoop.Options.defaults(java.util.List.of(oldAt, pAt))
                        .withNodeId("a").withBackoff(Duration.ofMillis(10), Duration.ofMillis(200), seed)).start()) {
                    await("a follows p on timeline 2", () -> a.lastLsn() == p.lastLsn());
                    assertEquals(2, a.timeline());
                    assertEquals(p.digest(), a.digest());
                    assertEquals(pAt.toString(), la.status().leader());
                    p.put(b("after"), b("switch"), Durability.DURABLE);
                    await("a keeps following", () -> a.lastLsn() == p.lastLsn());
                }
                assertEquals(2, ControlFile.read(tmp.resolve("a")).timeline(), "the switch is in the control file");
                try (FollowerLoop bad = new FollowerLoop(ahead, null, FollowerLoop.Options.defaults(pAt)
                        .withBackoff(Duration.ofMillis(10), Duration.ofMillis(200), seed)).start()) {
                    assertTrue(bad.awaitStopped(Duration.ofSeconds(30)));
                    FollowerStoppedException f = assertInstanceOf(FollowerStoppedException.class, bad.failure());
                    assertEquals(RefusalCode.FOLLOWER_AHEAD, f.code());
                    assertTrue(f.getMessage().contains("past the fork"), f.getMessage());
                    assertEquals(1, ahead.timeline());
                }
            }
        }
    }

    /**
     * review11 (round 2): a follower whose store has entries applied but not yet synced (an
     * applyAll cut short, say by a full disk) says HELLO from its durable LSN + 1, as it must, and
     * the leader sends those entries again, a frame at a time. The follower skipped them, synced,
     * and answered the first frame with FEEDBACK naming its last applied (and now durable) LSN —
     * past the last LSN the leader had sent, a protocol error that ended the session and cost a
     * reconnect. FEEDBACK names no LSN past what the session has received.
     */
    @Test
    void aFollowerResumingFromItsDurableLsnReportsNothingPastWhatTheLeaderSent() throws Exception {
        long seed = System.nanoTime();
        System.out.println("seed " + seed);
        Random rnd = new Random(seed);
        byte[] value = new byte[900];
        try (Store leader = Store.open(tmp.resolve("leader"))) {
            leader.put(b("k0"), b("v"), Durability.DURABLE);
            Path dir = tmp.resolve("f");
            try (Snapshot snap = leader.snapshot(); InputStream in = snap.openStream()) {
                SnapshotLoader.load(in, dir);
            }
            ControlFile.read(dir).asStandby().write(dir);
            long start = leader.lastLsn();
            for (int i = 0; i < 40; i++) {
                rnd.nextBytes(value);
                leader.put(b("k" + i), value, Durability.DURABLE);
            }
            // the follower has applied all of them, synced none (no timed flush within the test)
            try (Store follower = Store.open(dir, StoreOptions.defaults().withAsyncFlushMillis(3_600_000))) {
                List<WalEntry> entries = new ArrayList<>();
                try (WalReader r = leader.walReader()) {
                    r.seek(start + 1);
                    for (WalEntry e = r.next(); e != null; e = r.next()) {
                        entries.add(e);
                    }
                }
                assertEquals(40, entries.size());
                follower.applyAll(entries, Durability.ASYNC);
                assertEquals(start, follower.durableLsn());
                ReplicationOptions d = ReplicationOptions.defaults();
                ReplicationOptions small = new ReplicationOptions(null, 16, d.maxSlotWalKeep(), d.keepalive(),
                        d.timeout(), 4096, "leader", "", Clock.systemUTC(), ServerSocketFactory.getDefault());
                try (ReplicationServer repl = new ReplicationServer(leader, new InetSocketAddress("127.0.0.1", 0), small)
                        .start();
                     FollowerLoop loop = new FollowerLoop(follower, null, FollowerLoop.Options.defaults(
                             new HostPort("127.0.0.1", repl.address().getPort())).withNodeId("f")
                             .withBackoff(Duration.ofMillis(10), Duration.ofMillis(200), seed)).start()) {
                    await("the leader saw the follower flush everything", () -> repl.sessions().stream()
                            .anyMatch(s -> s.nodeId().equals("f") && s.flushLsn() == leader.lastLsn()));
                    assertEquals(0, loop.status().reconnects(), "the session ended: " + loop.status().lastError());
                }
            }
        }
    }
}
