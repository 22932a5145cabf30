package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ArchiveListing;
import io.walship.archive.LeaseRecord;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.TimelineHistory;
import io.walship.protocol.Headers;
import io.walship.protocol.Json;
import io.walship.protocol.StatusResponse;
import io.walship.wal.ChildJvm;
import io.walship.wal.Lsn;
import io.walship.protocol.TestPorts;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Jepsen-style run of automatic failover with real processes on 127.0.0.1 and a {@code file://}
 * archive: a {@code walship leader} and two {@code walship follow --failover auto}, three client
 * threads writing unique keys to whoever leads and recording every acknowledged write (key, value,
 * LSN, timeline, node, when it was sent and answered), and per round one fault, in a seeded
 * rotation whose first round always hits the leader:
 * <ul>
 *   <li>{@code KILL_LEADER}: kill -9 of the leader; a follower must take over by itself;</li>
 *   <li>{@code PAUSE_LEADER}: SIGSTOP of the leader until another node leads (longer than the lease),
 *       then SIGCONT: it must have fenced itself — no acknowledgement after its lease lapsed;</li>
 *   <li>{@code KILL_FOLLOWER}: kill -9 of a follower, restarted on its data directory.</li>
 * </ul>
 * A replaced leader cannot rejoin yet (no rewind): it is killed and re-cloned as a new
 * {@code follow --failover auto} on a fresh data directory (from the archive), under the same node
 * name and ports, so each round starts with three nodes again.
 *
 * <p>The checker: (1) with {@code --sync-mode semi-sync --on-sync-timeout block} on every node, no
 * write acknowledged {@code semi-sync} is lost; with async, a lost write must be inside a reported
 * window — on a timeline that a newer timeline forked from before its LSN (the history files say
 * where); (2) no node acknowledges a write while another node holds the lease: the lease object is
 * sampled all along, and every ack's [sent, answered] interval must meet a term held by the node
 * that answered; (3) after every round all three nodes have the same digest; (4) consecutive terms
 * of different holders never overlap. Time to failover (kill to the first ack of the new leader) is
 * printed per round.
 *
 * <p>Rounds: {@code -Djepsen.rounds=N} semi-sync (default 2; 50 with {@code -Pjepsen}) and
 * {@code -Djepsen.async.rounds=N} async (default 1; 50 with {@code -Pjepsen}). Seed: {@code -Djepsen.seed}.
 * Clients find the leader by asking every node's {@code /status} (a test-local stand-in for
 * WalshipClient discovery).
 */
class JepsenFailoverTest {
    @TempDir
    Path tmp;

    /**
     * The lease and heartbeat times of every node: short by default so that a round is short;
     * {@code -Djepsen.lease-ttl=10s -Djepsen.skew-margin=1s -Djepsen.heartbeat-timeout=5s} runs the
     * defaults of {@code walship leader/follow}.
     */
    private static final List<String> TIMES = List.of("--lease-ttl", System.getProperty("jepsen.lease-ttl", "2s"),
            "--lease-skew-margin", System.getProperty("jepsen.skew-margin", "200ms"));
    private static final String HEARTBEAT = System.getProperty("jepsen.heartbeat-timeout", "2500ms");

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private final List<Process> processes = new CopyOnWriteArrayList<>();
    private final List<Ack> acks = new CopyOnWriteArrayList<>();
    private final Map<Long, Term> terms = new ConcurrentHashMap<>();
    private final java.util.concurrent.atomic.AtomicReference<Exception> samplerFailure =
            new java.util.concurrent.atomic.AtomicReference<>();
    private final AtomicBoolean stop = new AtomicBoolean();
    private final AtomicBoolean paused = new AtomicBoolean();
    private final AtomicLong attempts = new AtomicLong();
    private volatile String leaderUrl;
    private final List<Thread> threads = new ArrayList<>();

    enum Fault { KILL_LEADER, PAUSE_LEADER, KILL_FOLLOWER }

    /** An acknowledged write. */
    record Ack(String key, String value, long lsn, int timeline, String node, long sentMicros, long answeredMicros,
               String sync) {
    }

    /** One term of the lease as sampled: holder, when it began, the latest expiry seen. */
    static final class Term {
        final long term;
        final String node;
        final long acquiredMicros;
        volatile long expiresMicros;
        volatile boolean released;

        Term(LeaseRecord r) {
            term = r.term();
            node = r.nodeId();
            acquiredMicros = r.acquiredAtMicros();
            expiresMicros = r.expiresAtMicros();
            released = r.released();
        }
    }

    /** A node: a name, fixed ports, and its current process (a new generation after a re-clone). */
    final class Node {
        final String name;
        final int http;
        final int repl;
        volatile Process process;
        volatile int generation;
        volatile Path log;

        Node(String name) throws IOException {
            this.name = name;
            this.http = TestPorts.free();
            this.repl = TestPorts.free();
        }

        String url() {
            return "http://127.0.0.1:" + http;
        }

        String replAddress() {
            return "127.0.0.1:" + repl;
        }

        Path data() {
            return tmp.resolve(name + "-g" + generation);
        }
    }

    @AfterEach
    void cleanUp() throws InterruptedException {
        stop.set(true);
        for (Thread t : threads) {
            t.join(TimeUnit.SECONDS.toMillis(30));
        }
        for (Process p : processes) {
            ProcessHandle.of(p.pid()).ifPresent(h -> signal(p, "CONT"));
            p.destroyForcibly();
            p.waitFor(30, TimeUnit.SECONDS);
        }
    }

    @Test
    void semiSyncLosesNoAcknowledgedWriteAndNeverHasTwoLeaders() throws Exception {
        run("semi-sync", Integer.getInteger("jepsen.rounds", 2));
    }

    @Test
    void asyncLosesOnlyInsideTheReportedWindowAndNeverHasTwoLeaders() throws Exception {
        run("async", Integer.getInteger("jepsen.async.rounds", 1));
    }

    private void run(String mode, int rounds) throws Exception {
        long seed = Long.getLong("jepsen.seed", System.nanoTime());
        System.out.println("jepsen " + mode + ": seed " + seed + ", rounds " + rounds + ", " + String.join(" ", TIMES)
                + " --heartbeat-timeout " + HEARTBEAT);
        Random rnd = new Random(seed);
        long t0 = System.nanoTime();
        String archive = "file://" + tmp.resolve("archive");
        Node[] nodes = {new Node("n0"), new Node("n1"), new Node("n2")};

        // the base backup the followers bootstrap from: a semi-sync leader with no follower yet would
        // hold the backup's snapshot back for ever (block), so it is taken under async, then the
        // leader restarts (clean stop: it releases its lease) in the run's mode
        startLeader(nodes[0], archive, "async");
        leaderUrl = nodes[0].url();
        for (int i = 0; i < 20; i++) {
            String key = "seed-" + i;
            // a 503 while the new leader's lease is taken (or one renewal is late on a loaded machine) passes
            Poll.until(Duration.ofSeconds(60), () -> put(nodes[0].url(), key, "v").statusCode(), c -> c == 200);
        }
        CliRunner.Result backup = CliRunner.run("backup", "--url", nodes[0].url(), "--archive", archive);
        assertEquals(0, backup.exit(), backup.err());
        if (!mode.equals("async")) {
            nodes[0].process.destroy();
            assertTrue(nodes[0].process.waitFor(60, TimeUnit.SECONDS));
            startLeader(nodes[0], archive, mode);
        }
        startFollowers(nodes, archive, mode, nodes[1], nodes[2]);
        awaitConverged(nodes, "start");
        System.out.println("cluster up after " + (System.nanoTime() - t0) / 1_000_000 + " ms");

        Thread sampler = new Thread(() -> sampleLease(tmp.resolve("archive")), "lease-sampler");
        sampler.setDaemon(true);
        threads.add(sampler);
        sampler.start();
        for (int c = 0; c < 3; c++) {
            int client = c;
            Thread t = new Thread(() -> client(client, nodes), "client-" + c);
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }

        Fault[] order = Fault.values();
        int offset = rnd.nextInt(2); // the first round always hits the leader (a 1-round run still fails over)
        List<Long> failoverMillis = new ArrayList<>();
        for (int round = 0; round < rounds; round++) {
            Fault fault = order[(offset + round) % order.length];
            long acksBefore = acks.size();
            // some load before the fault
            Poll.until(Duration.ofSeconds(60), acks::size, n -> n >= acksBefore + 20);
            Node leader = currentLeader(nodes).orElseThrow(() -> new AssertionError("no leader before the fault"));
            int timeline = status(leader.url()).timeline();
            System.out.println("round " + round + ": " + fault + " (leader " + leader.name + ", timeline " + timeline
                    + ", " + acks.size() + " acks so far)");
            long faultMicros = nowMicros();
            switch (fault) {
                case KILL_LEADER -> {
                    leader.process.destroyForcibly();
                    assertTrue(leader.process.waitFor(30, TimeUnit.SECONDS));
                    Node next = awaitNewLeader(nodes, leader, timeline);
                    failoverMillis.add(firstAckAfter(nodes, next.name, faultMicros) / 1000);
                    System.out.println("  " + next.name + " leads; " + lines(next.log, "failover:"));
                    reclone(leader, nodes, archive, mode);
                }
                case PAUSE_LEADER -> {
                    signal(leader.process, "STOP");
                    Node next;
                    try {
                        next = awaitNewLeader(nodes, leader, timeline);
                    } finally {
                        signal(leader.process, "CONT");
                    }
                    failoverMillis.add(firstAckAfter(nodes, next.name, faultMicros) / 1000);
                    System.out.println("  " + next.name + " leads; " + lines(next.log, "failover:"));
                    // the old leader, awake again, must refuse: it is fenced (its lease lapsed while paused)
                    Poll.until(Duration.ofSeconds(60), () -> status(leader.url()),
                            s -> s != null && s.lease() != null && !s.lease().writable());
                    leader.process.destroyForcibly();
                    assertTrue(leader.process.waitFor(30, TimeUnit.SECONDS));
                    reclone(leader, nodes, archive, mode);
                }
                case KILL_FOLLOWER -> {
                    List<Node> followers = new ArrayList<>();
                    for (Node n : nodes) {
                        if (n != leader) {
                            followers.add(n);
                        }
                    }
                    Node victim = followers.get(rnd.nextInt(followers.size()));
                    victim.process.destroyForcibly();
                    assertTrue(victim.process.waitFor(30, TimeUnit.SECONDS));
                    startFollower(victim, nodes, archive, mode); // same data directory: it resumes
                }
            }
            long after = acks.size();
            Poll.until(Duration.ofSeconds(120), acks::size, n -> n >= after + 10);
            paused.set(true);
            try {
                awaitConverged(nodes, "round " + round);
            } finally {
                paused.set(false);
            }
            check(mode, archive, false);
            System.out.println("round " + round + " done after " + (System.nanoTime() - t0) / 1_000_000 + " ms");
        }
        stop.set(true);
        for (Thread t : threads) {
            t.join(TimeUnit.SECONDS.toMillis(30));
        }
        awaitConverged(nodes, "end");
        check(mode, archive, true);
        System.out.println("jepsen " + mode + ": " + rounds + " rounds, " + acks.size() + " acks of " + attempts.get()
                + " attempts, " + terms.size() + " lease terms seen, time to failover (ms) " + failoverMillis);
    }

    // ---- the checker ------------------------------------------------------------------------

    private void check(String mode, String archive, boolean end) throws Exception {
        // (4) the arbiter: a term of another node begins only after the previous one expired or was released
        assertTrue(samplerFailure.get() == null, "the lease sampler failed: " + samplerFailure.get());
        assertTrue(!terms.isEmpty(), "the lease sampler saw no lease");
        List<Term> byTerm = new ArrayList<>(terms.values());
        byTerm.sort((a, b) -> Long.compare(a.term, b.term));
        for (int i = 1; i < byTerm.size(); i++) {
            Term a = byTerm.get(i - 1);
            Term b = byTerm.get(i);
            if (!a.node.equals(b.node) && !a.released) {
                assertTrue(b.acquiredMicros > a.expiresMicros, "term " + b.term + " of " + b.node + " began at "
                        + b.acquiredMicros + ", before term " + a.term + " of " + a.node + " expired at " + a.expiresMicros);
            }
        }
        // (2) every ack meets a lease term of the node that answered it
        for (Ack a : acks) {
            String holderAtSend = holderAt(byTerm, a.sentMicros());
            boolean ok = a.node().equals(holderAtSend);
            for (Term t : byTerm) {
                ok |= t.node.equals(a.node()) && t.acquiredMicros > a.sentMicros() && t.acquiredMicros <= a.answeredMicros();
            }
            assertTrue(ok, "two leaders: " + a + " was acknowledged by " + a.node() + " but the lease was "
                    + holderAtSend + "'s from before it was sent until it was answered; terms " + describe(byTerm));
        }
        if (!end) {
            return;
        }
        // (1) losses
        Map<Integer, Long> forkAfter = new TreeMap<>(); // parent timeline -> the lowest fork LSN of a child
        try (ObjectStore a = ObjectStores.open(archive)) {
            for (TimelineHistory h : TimelineHistory.readAll(a, ArchiveListing.of(a)).values()) {
                forkAfter.merge(h.parent(), h.forkLsnValue(), Math::min);
            }
        }
        HttpResponse<String> scan = get(leaderUrl + "/scan");
        assertEquals(200, scan.statusCode(), scan.body());
        Map<String, String> state = new java.util.HashMap<>();
        for (String line : scan.body().split("\n")) {
            int tab = line.indexOf('\t');
            if (tab > 0) {
                state.put(line.substring(0, tab), line.substring(tab + 1));
            }
        }
        int lost = 0;
        int windowLost = 0;
        for (Ack a : acks) {
            String got = state.get(a.key());
            if (a.value().equals(got)) {
                continue;
            }
            Long fork = forkAfter.get(a.timeline());
            boolean inWindow = fork != null && a.lsn() > fork;
            boolean semiSyncAck = "semi-sync".equals(a.sync());
            if (mode.equals("semi-sync")) {
                assertTrue(!semiSyncAck, "an acknowledged semi-sync write was lost: " + a + " (read: " + got
                        + "); forks " + forkAfter);
            }
            assertTrue(inWindow, "a write was lost outside the reported window: " + a + " (read: " + got
                    + "); forks (parent timeline -> fork LSN) " + forkAfter);
            lost++;
            windowLost++;
        }
        System.out.println("jepsen " + mode + ": " + lost + " acknowledged writes lost, all inside the reported window ("
                + windowLost + "); forks " + forkAfter);
    }

    private static String holderAt(List<Term> byTerm, long micros) {
        String holder = null;
        long best = Long.MIN_VALUE;
        for (Term t : byTerm) {
            if (t.acquiredMicros <= micros && t.acquiredMicros > best) {
                best = t.acquiredMicros;
                holder = t.node;
            }
        }
        return holder;
    }

    private static String describe(List<Term> byTerm) {
        StringBuilder b = new StringBuilder();
        for (Term t : byTerm) {
            b.append("\n  term ").append(t.term).append(' ').append(t.node).append(" from ").append(t.acquiredMicros)
                    .append(" to ").append(t.expiresMicros).append(t.released ? " released" : "");
        }
        return b.toString();
    }

    private long firstAckAfter(Node[] nodes, String node, long micros) {
        try {
            return Poll.until(Duration.ofSeconds(60), () -> acks.stream().filter(a -> a.node().equals(node)
                            && a.sentMicros() > micros).mapToLong(Ack::answeredMicros).min().orElse(-1),
                    v -> v > 0) - micros;
        } catch (AssertionError e) {
            StringBuilder b = new StringBuilder("no write acknowledged by the new leader " + node + ": " + e.getMessage());
            for (Node n : nodes) {
                b.append("\n---- ").append(n.name).append(" status: ").append(get(n.url() + "/status").body())
                        .append("\n---- log tail:\n").append(tail(read(n.log)));
            }
            throw new AssertionError(b.toString(), e);
        }
    }

    // ---- the cluster ------------------------------------------------------------------------

    private void startLeader(Node n, String archive, String mode) throws IOException {
        List<String> args = new ArrayList<>(List.of("leader", "--data", n.data().toString(), "--http",
                "127.0.0.1:" + n.http, "--repl", n.replAddress(), "--archive", archive, "--ship-interval", "200ms",
                "--node-id", n.name, "--sync-mode", mode));
        if (mode.equals("semi-sync")) {
            args.addAll(List.of("--on-sync-timeout", "block"));
        }
        args.addAll(TIMES);
        start(n, args);
    }

    private void startFollower(Node n, Node[] all, String archive, String mode) throws IOException {
        List<String> leaders = new ArrayList<>();
        for (Node o : all) {
            if (o != n) {
                leaders.add(o.replAddress());
            }
        }
        List<String> args = new ArrayList<>(List.of("follow", "--data", n.data().toString(), "--leader",
                String.join(",", leaders), "--archive", archive, "--http", "127.0.0.1:" + n.http, "--repl",
                n.replAddress(), "--node-id", n.name, "--repl-timeout", "3s", "--backoff-seed", "7",
                "--ship-interval", "200ms", "--failover", "auto", "--heartbeat-timeout", HEARTBEAT,
                "--status-interval", "200ms", "--sync-mode", mode));
        if (mode.equals("semi-sync")) {
            args.addAll(List.of("--on-sync-timeout", "block"));
        }
        args.addAll(TIMES);
        start(n, args);
    }

    /** Starts followers at once (their JVMs start in parallel), waiting for each to serve. */
    private void startFollowers(Node[] all, String archive, String mode, Node... which) throws Exception {
        List<java.util.concurrent.CompletableFuture<Void>> started = new ArrayList<>();
        for (Node n : which) {
            started.add(java.util.concurrent.CompletableFuture.runAsync(() -> {
                try {
                    startFollower(n, all, archive, mode);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }));
        }
        for (var f : started) {
            f.get(180, TimeUnit.SECONDS);
        }
    }

    /** The old leader cannot rejoin (no rewind yet): a new follower on a fresh data directory, same name and ports. */
    private void reclone(Node n, Node[] all, String archive, String mode) throws IOException {
        n.generation++;
        startFollower(n, all, archive, mode);
    }

    private void start(Node n, List<String> args) throws IOException {
        Path log = tmp.resolve(n.name + "-g" + n.generation + "-" + System.nanoTime() + ".log");
        // timestamps in the log: the failover steps' timing is read from it
        Process p = ChildJvm.start(Main.class, List.of("-Dorg.slf4j.simpleLogger.showDateTime=true",
                "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS"), args, log);
        processes.add(p);
        n.process = p;
        n.log = log;
        Poll.until(Duration.ofSeconds(120), () -> {
            assertTrue(p.isAlive(), n.name + " died: " + read(log));
            return read(log);
        }, l -> l.contains("serving"));
    }

    private Node awaitNewLeader(Node[] nodes, Node old, int timeline) {
        try {
            return Poll.until(Duration.ofSeconds(90), () -> {
                for (Node n : nodes) {
                    if (n == old) {
                        continue;
                    }
                    StatusResponse s = status(n.url());
                    if (s != null && "leader".equals(s.role()) && s.timeline() > timeline && s.lease() != null
                            && s.lease().writable()) {
                        return n;
                    }
                }
                return null;
            }, n -> n != null);
        } catch (AssertionError e) {
            StringBuilder b = new StringBuilder(e.getMessage());
            throw new AssertionError(b.append(diagnostics(nodes)).toString(), e);
        }
    }

    /** Each node's log tail, then what its automatic failover did (the tails are mostly replication chatter). */
    private String diagnostics(Node[] nodes) {
        StringBuilder b = new StringBuilder();
        for (Node n : nodes) {
            b.append("\n---- ").append(n.name).append(" log tail:\n").append(tail(read(n.log)));
        }
        for (Node n : nodes) {
            StatusResponse s = status(n.url());
            b.append("\n---- ").append(n.name).append(" status: ").append(s == null ? "no answer"
                    : s.role() + " timeline " + s.timeline() + " failover " + s.failover());
            List<String> events = new ArrayList<>();
            for (String l : read(n.log).split("\n")) {
                if (l.contains("failover:") || l.contains("promot") || l.contains("Promot") || l.contains("ERROR")) {
                    events.add(l);
                }
            }
            b.append("\n---- ").append(n.name).append(" failover events (last 40 of ").append(events.size()).append("):\n")
                    .append(String.join("\n", events.subList(Math.max(0, events.size() - 40), events.size())));
        }
        return b.toString();
    }

    private Optional<Node> currentLeader(Node[] nodes) {
        Node best = null;
        int bestTimeline = -1;
        for (Node n : nodes) {
            StatusResponse s = status(n.url());
            if (s != null && "leader".equals(s.role()) && (s.lease() == null || s.lease().writable())
                    && s.timeline() > bestTimeline) {
                best = n;
                bestTimeline = s.timeline();
            }
        }
        return Optional.ofNullable(best);
    }

    private void awaitConverged(Node[] nodes, String what) {
        try {
            Poll.until(Duration.ofSeconds(120), () -> {
                List<String> d = new ArrayList<>();
                for (Node n : nodes) {
                    d.add(digest(n.url()));
                }
                return d;
            }, d -> d.stream().distinct().count() == 1 && !d.get(0).startsWith("HTTP") && !d.get(0).startsWith("unreachable"));
        } catch (AssertionError e) {
            StringBuilder b = new StringBuilder(what + ": the nodes did not converge to one digest: " + e.getMessage());
            throw new AssertionError(b.append(diagnostics(nodes)).toString(), e);
        }
        currentLeader(nodes).ifPresent(l -> leaderUrl = l.url());
    }

    // ---- clients and the lease sampler ---------------------------------------------------------

    private void client(int id, Node[] nodes) {
        long seq = 0;
        while (!stop.get()) {
            if (paused.get()) {
                LockSupport.parkNanos(5_000_000);
                continue;
            }
            String target = leaderUrl;
            String key = "c" + id + "-" + seq++;
            String value = "v" + id + "-" + seq;
            attempts.incrementAndGet();
            long sent = nowMicros();
            HttpResponse<String> r;
            try {
                r = put(target, key, value);
            } catch (RuntimeException e) {
                r = null;
            }
            long answered = nowMicros();
            if (r != null && r.statusCode() == 200) {
                String node = nodeOf(nodes, target);
                acks.add(new Ack(key, value, Lsn.parse(r.headers().firstValue(Headers.LSN).orElseThrow()),
                        Integer.parseInt(r.headers().firstValue(Headers.TIMELINE).orElseThrow()), node, sent, answered,
                        r.headers().firstValue(Headers.SYNC).orElse("")));
                continue;
            }
            // not acknowledged (unknown outcome): find the leader again, asking every node's /status
            currentLeader(nodes).ifPresent(l -> leaderUrl = l.url());
            LockSupport.parkNanos(20_000_000);
        }
    }

    private static String nodeOf(Node[] nodes, String url) {
        for (Node n : nodes) {
            if (n.url().equals(url)) {
                return n.name;
            }
        }
        throw new IllegalStateException(url);
    }

    private void sampleLease(Path archive) {
        try (ObjectStore store = ObjectStores.open("file://" + archive)) {
            while (!stop.get()) {
                Optional<ObjectStore.Versioned> v = store.getVersioned(ArchiveLayout.LEASE); // empty: not taken yet
                if (v.isPresent()) {
                    LeaseRecord r = LeaseRecord.read(v.get().content(), ArchiveLayout.LEASE);
                    Term t = terms.computeIfAbsent(r.term(), k -> new Term(r));
                    t.expiresMicros = Math.max(t.expiresMicros, r.expiresAtMicros());
                    t.released |= r.released();
                }
                LockSupport.parkNanos(10_000_000);
            }
        } catch (Exception e) {
            samplerFailure.set(e);
        }
    }

    // ---- plumbing -----------------------------------------------------------------------------

    private HttpResponse<String> put(String url, String key, String value) {
        return send(HttpRequest.newBuilder(URI.create(url + "/kv/" + key)).timeout(Duration.ofSeconds(5))
                .PUT(HttpRequest.BodyPublishers.ofString(value)));
    }

    private HttpResponse<String> get(String url) {
        return send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).GET());
    }

    private HttpResponse<String> send(HttpRequest.Builder b) {
        try {
            return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private StatusResponse status(String url) {
        try {
            HttpResponse<String> r = send(HttpRequest.newBuilder(URI.create(url + "/status"))
                    .timeout(Duration.ofSeconds(2)).GET());
            return r.statusCode() == 200 ? Json.read(r.body(), StatusResponse.class) : null;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private String digest(String url) {
        try {
            HttpResponse<String> r = get(url + "/digest");
            return r.statusCode() == 200 ? r.body() : "HTTP " + r.statusCode();
        } catch (RuntimeException e) {
            return "unreachable: " + e;
        }
    }

    private static void signal(Process p, String sig) {
        try {
            Process k = new ProcessBuilder("kill", "-" + sig, Long.toString(p.pid())).start();
            k.waitFor(10, TimeUnit.SECONDS);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static long nowMicros() {
        Instant i = Instant.now();
        return i.getEpochSecond() * 1_000_000L + i.getNano() / 1_000;
    }


    private static String read(Path p) {
        try {
            return p != null && Files.exists(p) ? Files.readString(p) : "";
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static String lines(Path log, String containing) {
        StringBuilder b = new StringBuilder();
        for (String l : read(log).split("\n")) {
            if (l.contains(containing)) {
                b.append("\n    ").append(l);
            }
        }
        return b.toString();
    }

    private static String tail(String log) {
        return log.length() > 5000 ? log.substring(log.length() - 5000) : log;
    }

    @SuppressWarnings("unused")
    private static List<Ack> sorted(List<Ack> in) {
        List<Ack> out = new ArrayList<>(in);
        Collections.sort(out, (a, b) -> Long.compare(a.answeredMicros(), b.answeredMicros()));
        return out;
    }
}
