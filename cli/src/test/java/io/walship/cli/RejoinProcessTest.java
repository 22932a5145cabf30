package io.walship.cli;

import static io.walship.protocol.TestPorts.free;
import static io.walship.cli.Nodes.read;
import static io.walship.cli.Nodes.segments;
import static io.walship.cli.Nodes.send;
import static io.walship.cli.Nodes.status;
import static io.walship.cli.Nodes.tail;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.TimelineHistory;
import io.walship.protocol.Headers;
import io.walship.protocol.StatusResponse;
import io.walship.restorer.follow.Rejoin;
import io.walship.wal.ChildJvm;
import io.walship.wal.ControlFile;
import io.walship.wal.Lsn;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The old leader's rejoin with real processes: leader A and follower B, A killed with SIGKILL, B
 * promoted ({@code walship promote --url B}), then {@code walship follow --data A_DIR --leader B}. With
 * commits A made that B never got, A has diverged: {@code --no-rewind} refuses (exit 3), without it A
 * is re-cloned, the discarded range reported (log line and {@code rewind-report.json}), and A ends with
 * B's digest; with none, A just switches timeline. Either way it takes no writes and ships nothing to
 * its old timeline.
 */
class RejoinProcessTest {
    /** Short enough that a killed leader's lease expires soon, long enough that a loaded machine renews it in time. */
    private static final List<String> LEASE = List.of("--lease-ttl", "5s", "--lease-skew-margin", "500ms");
    @TempDir
    Path tmp;
    private final List<Process> processes = new ArrayList<>();

    private Random rnd;
    private String archive;
    private Path aDir;

    @BeforeEach
    void seed() {
        long seed = Long.getLong("rejoin.seed", System.nanoTime());
        System.out.println("seed " + seed);
        rnd = new Random(seed);
        archive = "file://" + tmp.resolve("archive");
        aDir = tmp.resolve("a");
    }

    @AfterEach
    void killAll() throws InterruptedException {
        for (Process p : processes) {
            p.destroyForcibly();
            p.waitFor(30, TimeUnit.SECONDS);
        }
    }

    private record Node(Process process, String url, String repl, Path log) {
    }

    private Node start(String name, List<String> args) throws IOException {
        int h = free();
        int r = free();
        List<String> all = new ArrayList<>(args);
        all.addAll(List.of("--http", "127.0.0.1:" + h, "--repl", "127.0.0.1:" + r, "--node-id", name));
        all.addAll(LEASE);
        Path log = tmp.resolve(name + ".log");
        Process p = ChildJvm.start(Main.class, all, log);
        processes.add(p);
        Poll.until(Duration.ofSeconds(120), () -> {
            assertTrue(p.isAlive(), "process died: " + read(log));
            return read(log);
        }, l -> l.contains("serving"));
        return new Node(p, "http://127.0.0.1:" + h, "127.0.0.1:" + r, log);
    }

    private HttpResponse<String> put(String url, String key, String value) {
        return send(HttpRequest.newBuilder(URI.create(url + "/kv/" + key)).PUT(HttpRequest.BodyPublishers.ofString(value)));
    }

    private static void awaitSameDigest(Node a, Node b) {
        Nodes.awaitSameDigest(b.log() + " catches up, its log:\n" + tail(read(b.log())), a.url(), b.url());
    }

    private void writes(String url, int n, Random rnd, String tag) {
        for (int i = 0; i < n; i++) {
            HttpResponse<String> r = put(url, "key" + rnd.nextInt(300), tag + "-" + i + "-" + "x".repeat(rnd.nextInt(200)));
            assertEquals(200, r.statusCode(), r.body());
        }
    }

    /** Leader A, follower B caught up, A killed (after {@code extra} local commits B never gets), B promoted. */
    private Node[] failover(String archive, Random rnd, int extra) throws Exception {
        Node a = start("a", List.of("leader", "--data", tmp.resolve("a").toString(), "--archive", archive,
                "--ship-interval", "200ms"));
        writes(a.url(), 100, rnd, "before-backup");
        CliRunner.Result backup = CliRunner.run("backup", "--url", a.url(), "--archive", archive);
        assertEquals(0, backup.exit(), backup.err());
        Node b = start("b", List.of("follow", "--data", tmp.resolve("b").toString(), "--leader", a.repl(),
                "--archive", archive, "--repl-timeout", "3s", "--backoff-seed", "7"));
        writes(a.url(), 150, rnd, "streamed");
        awaitSameDigest(a, b);
        a.process().destroyForcibly();
        assertTrue(a.process().waitFor(30, TimeUnit.SECONDS));
        for (int i = 0; i < extra; i++) {
            // commits the killed leader made that B never received: past the fork, A's alone
            CliRunner.Result r = CliRunner.run("kv", "put", "--data", tmp.resolve("a").toString(), "lost" + i, "v" + i);
            assertEquals(0, r.exit(), r.err());
        }
        CliRunner.Result p = CliRunner.run("promote", "--url", b.url());
        assertEquals(0, p.exit(), p.out() + p.err());
        assertEquals(2, status(b.url()).timeline());
        writes(b.url(), 100, rnd, "after-failover");
        return new Node[] {a, b};
    }

    private static long forkLsn(String archive) {
        try (ObjectStore a = ObjectStores.open(archive)) {
            return TimelineHistory.readOne(a, 2).forkLsnValue();
        }
    }

    private static long lastLsn(Path dir) {
        try (io.walship.wal.Store s = io.walship.wal.Store.open(dir)) {
            return s.lastLsn();
        }
    }

    private void rejoinedFollowsTheNewLeaderAndNeverLeads(Node back, Node b, String archive, Set<String> timeline1,
                                                          Random rnd) {
        writes(b.url(), 50, rnd, "after-rejoin");
        awaitSameDigest(b, back);
        StatusResponse s = status(back.url());
        assertEquals("follower", s.role());
        assertEquals(2, s.timeline());
        HttpResponse<String> w = put(back.url(), "split", "brain");
        assertEquals(421, w.statusCode(), w.body());
        assertEquals(b.url(), w.headers().firstValue(Headers.LEADER).orElse(""), "421 names the new leader");
        assertEquals(timeline1, segments(archive, 1), "the rejoined old leader shipped nothing to its old timeline");
    }

    @Test
    void aDivergedOldLeaderIsRefusedWithNoRewindThenReclonedReportsTheDiscardedRangeAndEndsWithTheNewLeadersDigest()
            throws Exception {
        Node[] c = failover(archive, rnd, 3);
        Node b = c[1];
        long fork = forkLsn(archive);
        long aLast = lastLsn(aDir);
        assertEquals(fork + 3, aLast, "A holds the three commits B never got, past the fork");
        Set<String> timeline1 = segments(archive, 1);

        CliRunner.Result refused = CliRunner.run("follow", "--data", aDir.toString(), "--leader", b.repl(),
                "--archive", archive, "--http", "127.0.0.1:0", "--no-rewind");
        assertEquals(ExitCodes.INTEGRITY, refused.exit(), refused.out() + refused.err());
        assertTrue(refused.err().contains("has diverged: LSN " + Lsn.format(fork + 1) + ".." + Lsn.format(aLast)),
                refused.err());
        assertFalse(ControlFile.read(aDir).standby(), "refused: A is left as it was");

        Node back = start("a-rejoined", List.of("follow", "--data", aDir.toString(), "--leader", b.repl(),
                "--archive", archive, "--repl-timeout", "3s", "--backoff-seed", "7"));
        String log = read(back.log());
        assertTrue(log.contains("rejoin: discarded LSN " + Lsn.format(fork + 1) + ".." + Lsn.format(aLast)
                + " of timeline 1 (3 commit(s) read)"), tail(log));
        Rejoin.Report report = Rejoin.readReport(aDir).orElseThrow();
        assertEquals(List.of(Lsn.format(fork + 1), Lsn.format(aLast), 3L, 2),
                List.of(report.discardedFrom(), report.discardedTo(), report.discardedCommits(), report.newTimeline()));
        Path kept = Path.of(report.keptAt());
        assertEquals(aLast, lastLsn(kept), "the old directory is kept aside as it was");
        rejoinedFollowsTheNewLeaderAndNeverLeads(back, b, archive, timeline1, rnd);
        assertEquals(404, send(HttpRequest.newBuilder(URI.create(back.url() + "/kv/lost0"))).statusCode(),
                "the discarded commit is gone");
    }

    @Test
    void anOldLeaderWithNothingPastTheForkJustSwitchesTimelineAndFollows() throws Exception {
        Node[] c = failover(archive, rnd, 0);
        Node b = c[1];
        assertEquals(forkLsn(archive), lastLsn(aDir), "B had everything A wrote");
        Set<String> timeline1 = segments(archive, 1);

        Node back = start("a-rejoined", List.of("follow", "--data", aDir.toString(), "--leader", b.repl(),
                "--archive", archive, "--repl-timeout", "3s", "--backoff-seed", "7", "--no-rewind"));
        assertTrue(read(back.log()).contains("nothing discarded"), tail(read(back.log())));
        assertFalse(Files.exists(aDir.resolve(Rejoin.REPORT_FILE)));
        try (java.util.stream.Stream<Path> s = Files.list(tmp)) {
            assertEquals(List.of(), s.filter(p -> p.getFileName().toString().startsWith("a.") && Files.isDirectory(p)).toList(),
                    "nothing re-cloned or set aside");
        }
        rejoinedFollowsTheNewLeaderAndNeverLeads(back, b, archive, timeline1, rnd);
    }
}
