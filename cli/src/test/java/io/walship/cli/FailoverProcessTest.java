package io.walship.cli;

import static io.walship.cli.Nodes.awaitSameDigest;
import static io.walship.cli.Nodes.digest;
import static io.walship.protocol.TestPorts.free;
import static io.walship.cli.Nodes.get;
import static io.walship.cli.Nodes.read;
import static io.walship.cli.Nodes.segments;
import static io.walship.cli.Nodes.send;
import static io.walship.cli.Nodes.status;
import static io.walship.cli.Nodes.tail;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import com.sun.net.httpserver.HttpServer;
import io.walship.protocol.Headers;
import io.walship.protocol.Json;
import io.walship.protocol.StatusResponse;
import io.walship.wal.ChildJvm;
import io.walship.wal.Lsn;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Failover with real processes ({@code walship leader}, two {@code walship follow}): the leader is
 * killed with SIGKILL, a follower is promoted in place ({@code walship promote --url}), and the other
 * follower, given both addresses ({@code --leader A,B}), switches to the new leader's timeline and
 * receives its writes; two promotions racing for the same timeline have exactly one winner; a
 * promotion fetches what a more advanced peer holds first, and refuses, naming it, a peer ahead it
 * cannot fetch from.
 */
class FailoverProcessTest {
    @TempDir
    Path tmp;
    private final List<Process> processes = new ArrayList<>();
    private final List<HttpServer> fakes = new ArrayList<>();
    private final List<CuttableProxy> proxies = new ArrayList<>();

    @AfterEach
    void killAll() throws InterruptedException {
        for (Process p : processes) {
            p.destroyForcibly();
            p.waitFor(30, TimeUnit.SECONDS);
        }
        fakes.forEach(f -> f.stop(0));
        for (CuttableProxy p : proxies) {
            try {
                p.close();
            } catch (IOException e) {
                // the next one anyway
            }
        }
    }

    private Process start(List<String> args, Path log) throws IOException {
        Process p = ChildJvm.start(Main.class, args, log);
        processes.add(p);
        Poll.until(Duration.ofSeconds(60), () -> {
            assertTrue(p.isAlive(), "process died: " + read(log));
            return read(log);
        }, l -> l.contains("serving"));
        return p;
    }

    /** A node: its process, HTTP URL and replication address. */
    private record Node(Process process, String url, String repl) {
    }

    /** The leader lease's times for every node here: short, so that a killed leader's lease expires soon. */
    private static final List<String> LEASE = List.of("--lease-ttl", "4s", "--lease-skew-margin", "500ms");

    private Node leader(String archive, String shipInterval, int httpPort, int replPort, String log) throws IOException {
        List<String> args = new ArrayList<>(List.of("leader", "--data", tmp.resolve("leader").toString(), "--http",
                "127.0.0.1:" + httpPort, "--archive", archive, "--ship-interval", shipInterval, "--repl",
                "127.0.0.1:" + replPort, "--node-id", "leader"));
        args.addAll(LEASE);
        Process p = start(args, tmp.resolve(log));
        return new Node(p, "http://127.0.0.1:" + httpPort, "127.0.0.1:" + replPort);
    }

    private Node follower(String name, String archive, String leaders, int httpPort, int replPort) throws IOException {
        return follower(name, archive, leaders, httpPort, replPort, List.of());
    }

    private Node follower(String name, String archive, String leaders, int httpPort, int replPort, List<String> extra)
            throws IOException {
        List<String> args = new ArrayList<>(List.of("follow", "--data", tmp.resolve(name).toString(), "--leader", leaders,
                "--archive", archive, "--http", "127.0.0.1:" + httpPort, "--repl", "127.0.0.1:" + replPort,
                "--node-id", name, "--repl-timeout", "3s", "--backoff-seed", "7"));
        args.addAll(LEASE);
        args.addAll(extra);
        Process p = start(args, tmp.resolve(name + ".log"));
        return new Node(p, "http://127.0.0.1:" + httpPort, "127.0.0.1:" + replPort);
    }

    /** A PUT of {@code key} on the node at {@code url}, whatever it answers. */
    private static HttpResponse<String> putRaw(String url, String key, String value) {
        return send(HttpRequest.newBuilder(URI.create(url + "/kv/" + key)).PUT(HttpRequest.BodyPublishers.ofString(value)));
    }

    private long put(String url, String key, String value) {
        HttpResponse<String> r = putRaw(url, key, value);
        assertEquals(200, r.statusCode(), r.body());
        return Lsn.parse(r.headers().firstValue(Headers.LSN).orElseThrow());
    }

    private void writes(String url, int n, Random rnd, String tag) {
        for (int i = 0; i < n; i++) {
            put(url, "key" + rnd.nextInt(500), tag + "-" + i + "-" + "x".repeat(rnd.nextInt(200)));
        }
    }

    private static void kill9(Node n) throws InterruptedException {
        n.process().destroyForcibly();
        assertTrue(n.process().waitFor(30, TimeUnit.SECONDS));
    }

    /** Leader, backup, two followers that both caught up with the leader's writes. */
    private Node[] cluster(Random rnd, String archive, boolean crossList) throws Exception {
        return cluster(rnd, archive, crossList, "200ms");
    }

    private Node[] cluster(Random rnd, String archive, boolean crossList, String shipInterval) throws Exception {
        return cluster(rnd, archive, crossList, shipInterval, null);
    }

    /** As above; with {@code f1Proxy} non-null, f1 reaches the leader through a proxy made there (its {@code [0]}). */
    private Node[] cluster(Random rnd, String archive, boolean crossList, String shipInterval, CuttableProxy[] f1Proxy)
            throws Exception {
        Node leader = backedUpLeader(archive, shipInterval, free(), free(), rnd, 200);
        String f1Leader = leader.repl();
        if (f1Proxy != null) {
            io.walship.protocol.HostPort hp = io.walship.protocol.HostPort.parse(leader.repl());
            f1Proxy[0] = new CuttableProxy(hp.host(), hp.port());
            proxies.add(f1Proxy[0]);
            f1Leader = f1Proxy[0].address();
        }
        int h1 = free();
        int r1 = free();
        int h2 = free();
        int r2 = free();
        Node f1 = follower("f1", archive, crossList ? f1Leader + ",127.0.0.1:" + r2 : f1Leader, h1, r1);
        Node f2 = follower("f2", archive, leader.repl() + ",127.0.0.1:" + r1, h2, r2);
        writesCaughtUp(leader, 300, rnd, "streamed", f1, f2);
        return new Node[] {leader, f1, f2};
    }

    /** {@code n} writes on {@code leader}, then both followers have its state. */
    private void writesCaughtUp(Node leader, int n, Random rnd, String tag, Node f1, Node f2) {
        writes(leader.url(), n, rnd, tag);
        awaitSameDigest("f1 catches up", leader.url(), f1.url());
        awaitSameDigest("f2 catches up", leader.url(), f2.url());
    }

    /** A Random seeded from {@code -Dfailover.seed} or the clock; the seed is printed. */
    private static Random seeded() {
        long seed = Long.getLong("failover.seed", System.nanoTime());
        System.out.println("seed " + seed);
        return new Random(seed);
    }

    /** The archive every node here ships to. */
    private String archive() {
        return "file://" + tmp.resolve("archive");
    }

    /**
     * Polls (120 s) until {@code f} follows on {@code timeline}, streaming; on a timeout the error adds
     * {@code context} (the logs, read then).
     */
    private static void awaitStreamingOn(Node f, int timeline, java.util.function.Supplier<String> context) {
        try {
            Poll.until(Duration.ofSeconds(120), () -> status(f.url()), s -> s != null && s.timeline() == timeline
                    && s.follower() != null && "stream".equals(s.follower().source()));
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + context.get(), e);
        }
    }

    /** f2's liveness and log, then f1's log: what a stuck switch of f2 to f1 is read from. */
    private String f2AndF1Logs(Node f2) {
        return "\nf2 alive " + f2.process().isAlive() + ", its log:\n" + tail(read(tmp.resolve("f2.log")))
                + "\nf1's log:\n" + tail(read(tmp.resolve("f1.log")));
    }

    /** Polls (120 s) until {@code archive} holds {@code timeline} up to {@code n}'s last LSN. */
    private static void awaitArchived(String archive, int timeline, Node n) {
        long last = Lsn.parse(status(n.url()).lastLsn());
        try (io.walship.archive.ObjectStore a = io.walship.archive.ObjectStores.open(archive)) {
            Poll.until(Duration.ofSeconds(120), () -> io.walship.archive.ArchiveListing.of(a).lastArchivedLsn(timeline),
                    archived -> archived == last);
        }
    }

    /** A default restore of {@code archive} (into {@code restored}) has the state of the live node {@code n}. */
    private void assertDefaultRestoreIs(String archive, Node n, String message) {
        Path restored = tmp.resolve("restored");
        CliRunner.Result r = CliRunner.run("restore", "--archive", archive, "--target", restored.toString());
        assertEquals(0, r.exit(), r.out() + r.err());
        CliRunner.Result local = CliRunner.run("kv", "digest", "--data", restored.toString());
        CliRunner.Result live = CliRunner.run("kv", "digest", "--url", n.url());
        assertEquals(0, local.exit(), local.err());
        assertEquals(live.out().trim(), local.out().trim(), message);
    }

    @Test
    void aKilledLeadersFollowerIsPromotedAndTheOtherFollowsItOntoTheNewTimeline() throws Exception {
        Random rnd = seeded();
        String archive = archive();
        Node[] c = cluster(rnd, archive, false);
        Node leader = c[0];
        Node f1 = c[1];
        Node f2 = c[2];
        String before = digest(leader.url());
        kill9(leader);

        CliRunner.Result p = CliRunner.run("promote", "--url", f1.url(), "--peers", f2.url());
        assertEquals(0, p.exit(), p.out() + p.err());
        assertTrue(p.out().contains("timeline 2"), p.out());
        StatusResponse s1 = status(f1.url());
        assertEquals("leader", s1.role());
        assertEquals(2, s1.timeline());
        assertEquals("HELD", s1.lease().state(), "the promoted follower holds the leader lease");
        assertEquals(before, digest(f1.url()), "the promoted follower lost or added something at the promotion");

        // a second promotion of the same node: it is a leader now
        CliRunner.Result again = CliRunner.run("promote", "--url", f1.url());
        assertEquals(ExitCodes.REPLICATION_REFUSED, again.exit(), again.out() + again.err());

        // the other follower finds the new leader among its --leader addresses and switches timeline
        awaitStreamingOn(f2, 2, () -> f2AndF1Logs(f2));
        writes(f1.url(), 300, rnd, "after-failover");
        awaitSameDigest("f2 follows the new leader", f1.url(), f2.url());
        HttpResponse<String> w = putRaw(f2.url(), "x", "y");
        assertEquals(421, w.statusCode(), w.body());
        assertEquals(f1.url(), w.headers().firstValue(Headers.LEADER).orElse(""), "421 names the new leader");
        assertTrue(read(tmp.resolve("f2.log")).contains("switching"), read(tmp.resolve("f2.log")));

        // the new leader ships timeline 2; a restore of the archive reaches its state across the fork
        awaitArchived(archive, 2, f1);
        assertDefaultRestoreIs(archive, f1, "the restored archive is the new leader's state");
    }

    /**
     * review30: an inspection copy made with {@code restore --promote} from the production archive while the leader
     * runs claims timeline 2 (an offline promotion). The leader is killed; {@code walship promote --url} of its
     * follower passes over that claim (at the lease and at the claim) and leads timeline 3, forked from timeline 1;
     * the other follower switches to it, the new leader ships it, and a default restore gives its state, not the
     * copy's.
     */
    @Test
    void aLivePromotionAfterAnInspectionCopyLeadsTheNextFreeTimelineAndTheOthersFollowIt() throws Exception {
        Random rnd = seeded();
        String archive = archive();
        Node[] c = cluster(rnd, archive, false);
        Node leader = c[0];
        Node f1 = c[1];
        Node f2 = c[2];
        CliRunner.Result copy = CliRunner.run("restore", "--archive", archive, "--target", tmp.resolve("inspect").toString(),
                "--promote");
        assertEquals(0, copy.exit(), copy.out() + copy.err());
        try (io.walship.archive.ObjectStore a = io.walship.archive.ObjectStores.open(archive)) {
            io.walship.archive.TimelineHistory h = io.walship.archive.TimelineHistory.readOne(a, 2);
            assertEquals(io.walship.archive.TimelineHistory.OFFLINE, h.promotion(), "the copy claimed timeline 2");
        }
        writesCaughtUp(leader, 100, rnd, "after-copy", f1, f2);
        String before = digest(leader.url());
        kill9(leader);

        CliRunner.Result p = CliRunner.run("promote", "--url", f1.url(), "--peers", f2.url());
        assertEquals(0, p.exit(), p.out() + p.err() + "\nf1's log:\n" + tail(read(tmp.resolve("f1.log"))));
        assertTrue(p.out().contains("timeline 3"), p.out());
        StatusResponse s1 = status(f1.url());
        assertEquals("leader", s1.role());
        assertEquals(3, s1.timeline());
        assertEquals("HELD", s1.lease().state());
        assertEquals(3, lease(archive).timeline(), "the lease names the live promotion's timeline");
        assertEquals(before, digest(f1.url()));
        assertTrue(read(tmp.resolve("f1.log")).contains("timeline 2 was claimed by an offline promotion"),
                tail(read(tmp.resolve("f1.log"))));
        try (io.walship.archive.ObjectStore a = io.walship.archive.ObjectStores.open(archive)) {
            io.walship.archive.TimelineHistory h = io.walship.archive.TimelineHistory.readOne(a, 3);
            assertEquals(1, h.parent(), "timeline 3 forked from the dead leader's timeline 1");
            assertEquals(io.walship.archive.TimelineHistory.LIVE, h.promotion());
        }

        // the other follower switches to timeline 3 (its parent is 1), never to the copy's 2
        awaitStreamingOn(f2, 3, () -> f2AndF1Logs(f2));
        writes(f1.url(), 200, rnd, "after-failover");
        awaitSameDigest("f2 follows the new leader", f1.url(), f2.url());

        // the new leader ships timeline 3; a default restore follows it (the newest timeline), not the copy's
        awaitArchived(archive, 3, f1);
        assertDefaultRestoreIs(archive, f1, "the default restore is the live leader's state");
    }

    /**
     * review30, automatic failover: with an inspection copy's claim of timeline 2 in the archive, the {@code
     * --failover auto} followers of a killed leader elect one, which leads timeline 3 (it used to be refused for
     * ever, every attempt); the other follows it.
     */
    @Test
    void automaticFailoverAfterAnInspectionCopyLeadsTheNextFreeTimeline() throws Exception {
        Random rnd = seeded();
        String archive = archive();
        Node leader = backedUpLeader(archive, "200ms", free(), free(), rnd, 200);
        List<String> auto = List.of("--failover", "auto", "--heartbeat-timeout", "2500ms", "--status-interval", "200ms");
        Node f1 = follower("f1", archive, leader.repl(), free(), free(), auto);
        Node f2 = follower("f2", archive, leader.repl(), free(), free(), auto);
        writesCaughtUp(leader, 200, rnd, "streamed", f1, f2);
        CliRunner.Result copy = CliRunner.run("restore", "--archive", archive, "--target", tmp.resolve("inspect").toString(),
                "--promote");
        assertEquals(0, copy.exit(), copy.out() + copy.err());
        kill9(leader);

        Node[] both = {f1, f2};
        Node winner;
        try {
            winner = Poll.until(Duration.ofSeconds(120), () -> {
                for (Node n : both) {
                    StatusResponse s = status(n.url());
                    if (s != null && "leader".equals(s.role())) {
                        return n;
                    }
                }
                return null;
            }, n -> n != null);
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "\nf1's log:\n" + tail(read(tmp.resolve("f1.log")))
                    + "\nf2's log:\n" + tail(read(tmp.resolve("f2.log"))), e);
        }
        Node other = winner == f1 ? f2 : f1;
        assertEquals(3, status(winner.url()).timeline(), "the winner leads the timeline after the copy's");
        try {
            Poll.until(Duration.ofSeconds(120), () -> status(other.url()), s -> s != null && s.timeline() == 3
                    && "follower".equals(s.role()) && s.follower() != null && "stream".equals(s.follower().source()));
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "\nits log:\n" + tail(read(tmp.resolve(
                    (other == f1 ? "f1" : "f2") + ".log"))), e);
        }
        writes(winner.url(), 100, rnd, "after-failover");
        awaitSameDigest("the other follows the new leader", winner.url(), other.url());
        assertEquals(3, lease(archive).timeline());
    }

    @Test
    void twoPromotionsRacingForTheSameTimelineHaveExactlyOneWinnerAndTheLoserFollowsIt() throws Exception {
        Random rnd = seeded();
        String archive = archive();
        Node[] c = cluster(rnd, archive, true);
        kill9(c[0]);
        CompletableFuture<HttpResponse<String>> a = CompletableFuture.supplyAsync(() -> promote(c[1].url()));
        CompletableFuture<HttpResponse<String>> b = CompletableFuture.supplyAsync(() -> promote(c[2].url()));
        HttpResponse<String> ra = a.get(120, TimeUnit.SECONDS);
        HttpResponse<String> rb = b.get(120, TimeUnit.SECONDS);
        System.out.println("f1: " + ra.statusCode() + " " + ra.body() + "\nf2: " + rb.statusCode() + " " + rb.body());
        assertEquals(List.of(200, 409), List.of(ra.statusCode(), rb.statusCode()).stream().sorted().toList(),
                "exactly one promotion wins");
        Node winner = ra.statusCode() == 200 ? c[1] : c[2];
        Node loser = winner == c[1] ? c[2] : c[1];
        String refusal = (ra.statusCode() == 409 ? ra : rb).body();
        // lost at the lease (taken by the winner first, or already moved to timeline 2) or at the claim
        String winnerId = winner == c[1] ? "f1" : "f2";
        assertTrue((refusal.contains("timeline 2 was already claimed") || refusal.contains("by " + winnerId)
                || refusal.contains("timeline 2")) && refusal.lines().count() == 1, refusal);
        assertEquals(2, status(winner.url()).timeline());
        StatusResponse l = status(loser.url());
        assertEquals("follower", l.role(), "the loser stays a follower");
        // the loser may already have found the winner and switched to its timeline: never to a third one
        assertTrue(l.timeline() == 1 || l.timeline() == 2, "the loser moved on to timeline " + l.timeline());
        assertTrue(!Files.exists(tmp.resolve("archive").resolve(io.walship.archive.ArchiveLayout.historyKey(3))),
                "no third timeline");
        assertTrue(Files.exists(tmp.resolve("archive").resolve(io.walship.archive.ArchiveLayout.historyKey(2))),
                "the path checked above is where a history is");
        // the loser follows the winner
        writes(winner.url(), 100, rnd, "after-race");
        awaitSameDigest("the loser follows the winner", winner.url(), loser.url());
        assertEquals(2, status(loser.url()).timeline());
    }

    private static io.walship.archive.LeaseRecord lease(String archive) {
        try (io.walship.archive.ObjectStore a = io.walship.archive.ObjectStores.open(archive)) {
            return io.walship.archive.LeaderLease.current(a).orElseThrow();
        }
    }

    /**
     * The lease and live promotion together: a promotion of a follower whose leader is alive is
     * refused naming it; after the leader's kill -9 the promotion waits out its lease and the promoted
     * node holds it; the other follower, given only the old leader's address, finds the new leader
     * through the lease; the old leader restarted on its data directory (same ports) refuses writes
     * and ships nothing, and the other follower keeps following the new leader.
     */
    @Test
    void aPromotedFollowerTakesTheLeaseTheOtherFindsItThereAndTheOldLeaderComesBackFenced() throws Exception {
        Random rnd = seeded();
        String archive = archive();
        int lh = free();
        int lr = free();
        Node leader = backedUpLeader(archive, lh, lr, rnd);
        // neither follower lists the other: f2 can only learn of f1 through the lease
        Node f1 = follower("f1", archive, leader.repl(), free(), free());
        Node f2 = follower("f2", archive, leader.repl(), free(), free());
        writesCaughtUp(leader, 200, rnd, "streamed", f1, f2);
        assertEquals("HELD", status(leader.url()).lease().state());

        // 1. the leader is alive and renews its lease: the promotion is refused, naming it
        CliRunner.Result refused = CliRunner.run("promote", "--url", f1.url(), "--peers", f2.url());
        assertEquals(ExitCodes.REPLICATION_REFUSED, refused.exit(), refused.out() + refused.err());
        assertTrue(refused.err().contains("held by leader (timeline 1"), refused.err());
        assertEquals("follower", status(f1.url()).role());
        assertEquals("leader", lease(archive).nodeId());
        writes(leader.url(), 20, rnd, "after-refusal");
        awaitSameDigest("f1 follows again after the refusal", leader.url(), f1.url());
        assertEquals(200, putRaw(leader.url(), "still", "leading").statusCode(), "the leader is not disturbed");
        awaitSameDigest("f2 too", leader.url(), f2.url());
        String before = digest(leader.url());

        // 2. kill -9: the promotion waits the lease out and takes it on timeline 2
        kill9(leader);
        // a write the killed leader committed and never shipped (it is past the fork: only its own)
        CliRunner.Result unshipped = CliRunner.run("kv", "put", "--data", tmp.resolve("leader").toString(), "unshipped", "1");
        assertEquals(0, unshipped.exit(), unshipped.err());
        CliRunner.Result p = CliRunner.run("promote", "--url", f1.url(), "--peers", f2.url());
        assertEquals(0, p.exit(), p.out() + p.err());
        StatusResponse s1 = status(f1.url());
        assertEquals(2, s1.timeline());
        assertEquals("HELD", s1.lease().state());
        assertTrue(s1.lease().holder().startsWith("f1 (timeline 2"), s1.lease().holder());
        assertEquals(before, digest(f1.url()));
        io.walship.archive.LeaseRecord l = lease(archive);
        assertEquals(List.of("f1", 2, f1.url(), f1.repl()), List.of(l.nodeId(), l.timeline(), l.httpUrl(), l.replUrl()));
        assertTrue(get(f1.url() + "/metrics").body().contains("walship_lease_writable 1.0"), "metrics show the lease");

        // 3. f2 was given only the dead leader's address: it finds f1 through the lease
        awaitStreamingOn(f2, 2, () -> "\nf2's log:\n" + tail(read(tmp.resolve("f2.log"))));
        writes(f1.url(), 100, rnd, "after-failover");
        awaitSameDigest("f2 follows f1", f1.url(), f2.url());
        awaitArchived(archive, 2, f1);
        java.util.Set<String> timeline1 = segments(archive, 1);

        // 4. the old leader comes back on its data directory and its ports: fenced, it ships nothing
        Node back = leader(archive, "100ms", lh, lr, "leader2.log");
        StatusResponse fenced = awaitSuperseded(back);
        assertTrue(fenced.lease().reason().contains("timeline 2"), fenced.lease().reason());
        HttpResponse<String> w = putRaw(back.url(), "split", "brain");
        assertEquals(503, w.statusCode(), w.body());
        StatusResponse paused = Poll.until(Duration.ofSeconds(60), () -> status(back.url()),
                s -> s != null && s.archive() != null && s.archive().lastError() != null);
        assertTrue(paused.archive().lastError().startsWith("not shipping: "), paused.archive().lastError());
        writes(f1.url(), 50, rnd, "with-the-old-leader-back");
        awaitSameDigest("f2 still follows f1", f1.url(), f2.url());
        assertEquals(2, status(f2.url()).timeline());
        back.process().destroy(); // a clean stop: its last shipment is fenced too
        assertTrue(back.process().waitFor(60, TimeUnit.SECONDS));
        assertEquals(timeline1, segments(archive, 1), "the old leader uploaded nothing to its timeline");
        try (io.walship.wal.Store old = io.walship.wal.Store.open(tmp.resolve("leader"));
             io.walship.archive.ObjectStore a = io.walship.archive.ObjectStores.open(archive)) {
            assertTrue(old.lastLsn() > io.walship.archive.ArchiveListing.of(a).lastArchivedLsn(1),
                    "the old leader had WAL to ship");
        }
        assertEquals("f1", lease(archive).nodeId());
        assertTrue(read(tmp.resolve("leader2.log")).contains("refuses writes and ships nothing"),
                read(tmp.resolve("leader2.log")));
    }

    /**
     * A client follows a failover on its own (README, "Clients and failover"), and the promoted
     * follower runs the commit mode it was started with: the leader is killed, f1 (started with
     * {@code --sync-mode semi-sync --on-sync-timeout block}) is promoted, and the client's write
     * made meanwhile finds the dead leader's port closed, looks for the leader until f1 says it leads,
     * and is sent there, where it waits for f2's flush ({@code Walship-Sync: semi-sync}). The old
     * leader, back and superseded, answers 503 {@code Walship-Committed: no} naming f1, and a client
     * that knows only it moves to f1. With f2 killed, a write on f1 waits (block).
     */
    @Test
    void aClientFindsThePromotedFollowerWhichKeepsItsSemiSyncCommitMode() throws Exception {
        Random rnd = seeded();
        String archive = archive();
        int lh = free();
        int lr = free();
        Node leader = backedUpLeader(archive, lh, lr, rnd);
        int r1 = free();
        Node f1 = follower("f1", archive, leader.repl(), free(), r1,
                List.of("--sync-mode", "semi-sync", "--on-sync-timeout", "block", "--sync-timeout", "1s"));
        Node f2 = follower("f2", archive, leader.repl() + ",127.0.0.1:" + r1, free(), free());
        try (io.walship.client.WalshipClient client = io.walship.client.WalshipClient.builder(leader.url())
                .followers(List.of(f1.url(), f2.url())).requestTimeout(Duration.ofSeconds(60))
                .discoverLeader(Duration.ofSeconds(180)).build()) {
            client.put("before", "the-kill");
            StatusResponse.Leader named = Poll.until(Duration.ofSeconds(60), () -> status(f1.url()),
                    s -> s != null && s.leader() != null && leader.url().equals(s.leader().url())).leader();
            assertEquals(List.of(false, leader.repl(), 1), List.of(named.self(), named.repl(), named.timeline()),
                    "a follower names the leader it follows");
            StatusResponse.Leader self = status(leader.url()).leader();
            assertEquals(List.of(true, leader.url(), 1, true, "HELD"),
                    List.of(self.self(), self.url(), self.timeline(), self.writable(), self.lease()));

            kill9(leader);
            CompletableFuture<io.walship.client.WriteResult> during = CompletableFuture.supplyAsync(
                    () -> client.put(client.session(), "during", "the-failover", null));
            CliRunner.Result p = CliRunner.run("promote", "--url", f1.url(), "--peers", f2.url());
            assertEquals(0, p.exit(), p.out() + p.err());
            io.walship.client.WriteResult w;
            try {
                w = during.get(180, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException e) {
                // the write went out on a connection the client had pooled to the leader before it was
                // killed: its outcome is unknown, so it is not resent (WalshipClientDiscoveryTest), and
                // the next write looks for the leader first
                assertTrue(e.getCause() instanceof io.walship.client.NodeUnreachableException u && !u.connectFailed(),
                        String.valueOf(e.getCause()));
                System.out.println("the write during the failover had an unknown outcome: " + e.getCause());
                w = client.put(client.session(), "after", "the-failover", null);
            }
            assertEquals(URI.create(f1.url()), client.leader(), "the client moved to the promoted follower");
            assertEquals("semi-sync", w.sync(), "the promoted follower waited for f2's flush");
            StatusResponse s1 = status(f1.url());
            assertEquals(List.of(true, 2, true, "HELD"), List.of(s1.leader().self(), s1.leader().timeline(),
                    s1.leader().writable(), s1.leader().lease()));
            assertEquals(List.of("semi-sync", "block"), List.of(s1.sync().mode(), s1.sync().onTimeout()));
            Poll.until(Duration.ofSeconds(60), () -> status(f2.url()), s -> s != null && s.leader() != null
                    && f1.url().equals(s.leader().url()) && s.leader().timeline() == 2);

            // the old leader comes back: superseded, it refuses writes before committing and names f1
            Node back = leader(archive, "100ms", lh, lr, "leader2.log");
            awaitSuperseded(back);
            HttpResponse<String> refused = putRaw(back.url(), "split", "brain");
            assertEquals(503, refused.statusCode(), refused.body());
            assertEquals("no", refused.headers().firstValue(Headers.COMMITTED).orElse(""));
            assertEquals(f1.url(), refused.headers().firstValue(Headers.LEADER).orElse(""));
            try (io.walship.client.WalshipClient stale = io.walship.client.WalshipClient.builder(back.url()).build()) {
                io.walship.client.WriteResult moved = stale.put(stale.session(), "stale", "client", null);
                assertEquals(URI.create(f1.url()), stale.leader());
                assertEquals("semi-sync", moved.sync());
            }
            assertEquals("HTTP 404", bodyOrStatus(back.url() + "/kv/stale"), "nothing committed on the old leader");
            back.process().destroy();

            // f2 dies: the promoted follower's block policy keeps the next write waiting
            kill9(f2);
            CompletableFuture<Long> blocked = CompletableFuture.supplyAsync(() -> client.put("blocked", "write"));
            Poll.until(Duration.ofSeconds(60), () -> status(f1.url()), s -> s != null && s.sync().blocked());
            assertTrue(!blocked.isDone(), "the write waits for a follower's flush: " + (blocked.isDone()
                    ? blocked.handle((v, e) -> v + " / " + e).join() : ""));
        }
    }

    /** The body of a GET of {@code url} if 200, else "HTTP status". */
    private String bodyOrStatus(String url) {
        HttpResponse<String> r = get(url);
        return r.statusCode() == 200 ? r.body() : "HTTP " + r.statusCode();
    }

    /** The status of an old leader back on its data directory once it found itself superseded. */
    private StatusResponse awaitSuperseded(Node back) {
        return Poll.until(Duration.ofSeconds(60), () -> status(back.url()),
                s -> s != null && s.lease() != null && "SUPERSEDED".equals(s.lease().state()));
    }

    /** A leader on these ports with 100 writes, and a base backup of it in {@code archive}. */
    private Node backedUpLeader(String archive, int httpPort, int replPort, Random rnd) throws IOException {
        return backedUpLeader(archive, "200ms", httpPort, replPort, rnd, 100);
    }

    /** A leader shipping every {@code shipInterval} on these ports with {@code n} writes, and a base backup of it. */
    private Node backedUpLeader(String archive, String shipInterval, int httpPort, int replPort, Random rnd, int n)
            throws IOException {
        Node leader = leader(archive, shipInterval, httpPort, replPort, "leader.log");
        writes(leader.url(), n, rnd, "before-backup");
        CliRunner.Result backup = CliRunner.run("backup", "--url", leader.url(), "--archive", archive);
        assertEquals(0, backup.exit(), backup.err());
        return leader;
    }

    private HttpResponse<String> promote(String url) {
        return send(HttpRequest.newBuilder(URI.create(url + "/promote")).POST(HttpRequest.BodyPublishers.noBody()));
    }

    @Test
    void aPromotionFetchesWhatAMoreAdvancedPeerHoldsAndRefusesAPeerAheadItCannotFetchFrom() throws Exception {
        Random rnd = seeded();
        String archive = archive();
        // the leader ships nothing after the base backup: what f1 misses is on f2 only, not in the archive
        // f1 reaches the leader through a proxy: cut, it passes nothing more to f1
        CuttableProxy[] proxy = new CuttableProxy[1];
        Node[] c = cluster(rnd, archive, false, "1h", proxy);
        Node leader = c[0];
        Node f1 = c[1];
        Node f2 = c[2];
        // f1 falls behind: stopped, it cannot connect anywhere (the lease names the leader's own
        // address), and cut off, it receives nothing more; stopping it alone is not enough, its
        // kernel would queue the leader's next frames in its socket and it would apply them on SIGCONT
        signal("STOP", f1.process());
        proxy[0].cut();
        try {
            writes(leader.url(), 200, rnd, "only-f2");
            awaitSameDigest("f2 has the writes f1 missed", leader.url(), f2.url());
            String before = digest(leader.url());
            kill9(leader);
            signal("CONT", f1.process());
            long f1Lsn = Lsn.parse(Poll.until(Duration.ofSeconds(60), () -> status(f1.url()), s -> s != null).durableLsn());
            long f2Lsn = Lsn.parse(status(f2.url()).durableLsn());
            assertTrue(f1Lsn < f2Lsn, "f1 " + Lsn.format(f1Lsn) + " is not behind f2 " + Lsn.format(f2Lsn));

            // a peer that claims more and cannot serve it: refused, naming it; f1 stays a follower
            String fake = fakePeer(status(f2.url()), f2Lsn + 50);
            CliRunner.Result refused = CliRunner.run("promote", "--url", f1.url(), "--peers", f2.url() + "," + fake);
            assertEquals(ExitCodes.REPLICATION_REFUSED, refused.exit(), refused.out() + refused.err());
            assertTrue(refused.err().contains("peer " + fake), refused.err());
            assertEquals("follower", status(f1.url()).role());

            CliRunner.Result ok = CliRunner.run("promote", "--url", f1.url(), "--peers", f2.url());
            assertEquals(0, ok.exit(), ok.out() + ok.err());
            // f1 may still have applied frames it had received before it was stopped; the rest came from f2
            assertTrue(ok.out().contains(" entries fetched from " + f2.url()), ok.out());
            assertEquals(before, digest(f1.url()), "the promoted follower has every write f2 held");
            StatusResponse s = status(f1.url());
            assertEquals(2, s.timeline());
            assertEquals(Lsn.format(f2Lsn), s.lastLsn());
        } finally {
            signal("CONT", f1.process());
        }
    }

    private static void signal(String sig, Process p) throws Exception {
        Process k = new ProcessBuilder("kill", "-" + sig, Long.toString(p.pid())).inheritIO().start();
        assertEquals(0, k.waitFor());
    }

    /** A stand-in peer on the same store and timeline that says it holds WAL up to {@code lsn}, and fails to send it. */
    private String fakePeer(StatusResponse like, long lsn) throws IOException {
        HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 8);
        StatusResponse claims = new StatusResponse("follower", like.systemId(), like.timeline(), Lsn.format(lsn),
                Lsn.format(lsn), like.checkpointLsn(), "/nowhere", like.archiveLag(), null, like.pageCache(), false, null);
        byte[] body = Json.write(claims).getBytes(StandardCharsets.UTF_8);
        s.createContext("/status", ex -> {
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        s.createContext("/wal", ex -> {
            byte[] b = "error: the disk is on fire".getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(500, b.length);
            ex.getResponseBody().write(b);
            ex.close();
        });
        s.start();
        fakes.add(s);
        return "http://127.0.0.1:" + s.getAddress().getPort();
    }
}
