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
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import io.walship.client.WalshipClient;
import io.walship.client.check.ConsistencyChecker;
import io.walship.client.check.History;
import io.walship.client.check.Workload;
import io.walship.wal.ChildJvm;
import io.walship.protocol.TestPorts;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The consistency check against real processes: {@code walship leader --repl} and two
 * {@code walship follow} followers, each its own JVM, with concurrent sessions carrying LSN tokens
 * through {@link WalshipClient}; {@link ConsistencyChecker} then verifies read-your-writes,
 * monotonic reads and that every read reflects its LSN, and at the end both followers reach the
 * leader's digest; then SIGTERM stops each follower in order (exit 0). Operations, sessions and the seed: {@code -Dwalship.check.ops} (10,000),
 * {@code -Dwalship.check.sessions} (6), {@code -Dwalship.check.seed} (0: a new one; printed).
 */
class ConsistencyProcessTest {
    private static final int OPS = Integer.getInteger("walship.check.ops", 10_000);
    private static final int SESSIONS = Integer.getInteger("walship.check.sessions", 6);
    private static final int KEYS = Integer.getInteger("walship.check.keys", 64);

    @TempDir
    Path tmp;
    private final List<Process> processes = new ArrayList<>();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @AfterEach
    void killAll() throws InterruptedException {
        for (Process p : processes) {
            p.destroyForcibly();
            p.waitFor(30, TimeUnit.SECONDS);
        }
    }


    private static String read(Path p) {
        try {
            return Files.exists(p) ? Files.readString(p) : "";
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private Process launch(List<String> args) throws IOException {
        Process p = ChildJvm.start(Main.class, args, logOf(args));
        processes.add(p);
        return p;
    }

    private Path logOf(List<String> args) {
        return tmp.resolve(Path.of(args.get(args.indexOf("--data") + 1)).getFileName() + ".log");
    }

    /** Polls (a short park between looks, so the children starting get the CPU) until it serves. */
    private void awaitServing(Process p, List<String> args) {
        Path log = logOf(args);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (!read(log).contains("serving")) {
            assertTrue(p.isAlive(), "process died: " + read(log));
            assertTrue(System.nanoTime() < deadline, "process did not start: " + read(log));
            java.util.concurrent.locks.LockSupport.parkNanos(20_000_000);
        }
    }

    private String get(String url) {
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30))
                    .GET().build(), HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == 200 ? r.body() : "HTTP " + r.statusCode();
        } catch (IOException e) {
            return e.toString();
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    private void await(String what, Duration limit, java.util.function.BooleanSupplier cond) {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!cond.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting until " + what);
            java.util.concurrent.locks.LockSupport.parkNanos(20_000_000);
        }
    }

    @Test
    void leaderAndTwoLiveFollowersPassTheCheck() throws Exception {
        long seed = Long.getLong("walship.check.seed", 0);
        if (seed == 0) {
            seed = new Random().nextLong();
        }
        int leaderHttp = TestPorts.free();
        int repl = TestPorts.free();
        String leader = "http://127.0.0.1:" + leaderHttp;
        List<String> leaderArgs = List.of("leader", "--data", tmp.resolve("leader").toString(), "--http",
                "127.0.0.1:" + leaderHttp, "--repl", "127.0.0.1:" + repl);
        awaitServing(launch(leaderArgs), leaderArgs);
        List<String> followers = new ArrayList<>();
        List<List<String>> followerArgs = new ArrayList<>();
        List<Process> started = new ArrayList<>();
        for (int i = 1; i <= 2; i++) { // both start at once
            int port = TestPorts.free();
            // no archive: each bootstraps from the leader's snapshot, then streams with a slot of its own
            List<String> args = List.of("follow", "--data", tmp.resolve("f" + i).toString(), "--leader", "127.0.0.1:" + repl,
                    "--leader-url", leader, "--http", "127.0.0.1:" + port, "--slot", "f" + i, "--node-id", "f" + i,
                    "--backoff-seed", Long.toString(seed + i));
            followerArgs.add(args);
            started.add(launch(args));
            followers.add("http://127.0.0.1:" + port);
        }
        for (int i = 0; i < 2; i++) {
            awaitServing(started.get(i), followerArgs.get(i));
            String url = followers.get(i);
            await(url + " streams", Duration.ofSeconds(60), () -> get(url + "/status").contains("\"source\":\"stream\""));
        }

        Workload.Config config = new Workload.Config(SESSIONS, OPS, KEYS, seed, "");
        System.out.println("consistency check on processes: seed=" + seed + " (-Dwalship.check.seed=" + seed + ") " + config
                + " leader " + leader + " followers " + followers);
        long t0 = System.nanoTime();
        History history;
        try (WalshipClient client = WalshipClient.builder(leader).followers(followers)
                .requestTimeout(Duration.ofSeconds(30)).build()) {
            history = Workload.run(client, config);
        }
        ConsistencyChecker.Report r = ConsistencyChecker.check(history);
        System.out.println("consistency check on processes: " + OPS + " operations in "
                + (System.nanoTime() - t0) / 1_000_000 + " ms (seed " + seed + ")\n" + r.summary());

        assertTrue(r.ok(), r.summary());
        assertTrue(r.writes() + r.reads() >= OPS, r.summary());
        assertEquals(0, r.unknownWrites(), r.summary());
        assertEquals(0, r.failedReads(), r.summary());
        assertTrue(r.readYourWritesChecks() > r.reads() / 20, "read-your-writes was exercised: " + r.summary());
        assertTrue(r.monotonicChecks() > r.reads() / 4, "monotonic reads were exercised: " + r.summary());
        for (String f : followers) {
            assertTrue(r.readsByNode().getOrDefault(f, 0L) > r.reads() / 10, "reads served by " + f + ": " + r.summary());
        }

        String digest = get(leader + "/digest");
        assertTrue(digest.contains("sha256"), digest);
        for (String f : followers) {
            await(f + " reaches the leader's digest " + digest, Duration.ofSeconds(60), () -> get(f + "/digest").equals(digest));
        }
        // SIGTERM is an orderly stop for a follower as for the leader: close everything, exit 0
        for (int i = 0; i < 2; i++) {
            Process p = started.get(i);
            p.destroy();
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "follower " + (i + 1) + " did not stop on SIGTERM");
            String log = read(logOf(followerArgs.get(i)));
            assertEquals(0, p.exitValue(), "SIGTERM is an orderly stop: " + log);
            assertTrue(log.contains("shutting down"), log);
        }
    }
}
