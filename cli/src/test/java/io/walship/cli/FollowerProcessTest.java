package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

import io.walship.protocol.Headers;
import io.walship.wal.ChildJvm;
import io.walship.wal.Lsn;
import io.walship.protocol.TestPorts;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code walship follow} as its own process against {@code walship leader --repl} in another:
 * bootstrap from the archive while the leader takes writes, kill -9 and restart without a second
 * download, read-your-writes with {@code min_lsn}, 421 on writes, 503 after {@code --read-wait}.
 * Rounds of the kill test: {@code -Dfollower.rounds=N} (3 by default, 20 with {@code -Pfollower-soak}).
 */
class FollowerProcessTest {
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


    private static void await(String what, Duration limit, BooleanSupplier cond) {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!cond.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting until " + what);
            Thread.onSpinWait();
        }
    }

    private static String read(Path p) {
        try {
            return Files.exists(p) ? Files.readString(p) : "";
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private Process start(List<String> args, Path log, String ready) throws IOException {
        Process p = ChildJvm.start(Main.class, args, log);
        processes.add(p);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!read(log).contains(ready)) {
            assertTrue(p.isAlive(), "process died: " + read(log));
            assertTrue(System.nanoTime() < deadline, "process did not start: " + read(log));
            Thread.onSpinWait();
        }
        return p;
    }

    /** A leader with an archive and a replication port. */
    private record Leader(Process process, String url, String repl, String archive) {
    }

    private Leader leader() throws IOException {
        int httpPort = TestPorts.free();
        int replPort = TestPorts.free();
        String archive = "file://" + tmp.resolve("archive");
        Process p = start(List.of("leader", "--data", tmp.resolve("leader").toString(), "--http", "127.0.0.1:" + httpPort,
                "--archive", archive, "--ship-interval", "200ms", "--repl", "127.0.0.1:" + replPort),
                tmp.resolve("leader.log"), "serving");
        return new Leader(p, "http://127.0.0.1:" + httpPort, "127.0.0.1:" + replPort, archive);
    }

    private HttpResponse<String> get(String url) {
        try {
            return http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30)).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    private long put(String url, String key, String value) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url + "/kv/" + key))
                .PUT(HttpRequest.BodyPublishers.ofString(value)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        return Lsn.parse(r.headers().firstValue(Headers.LSN).orElseThrow());
    }

    private String digest(String url) {
        HttpResponse<String> r = get(url + "/digest");
        return r.statusCode() == 200 ? r.body() : "HTTP " + r.statusCode();
    }

    /** Writes from a background thread until stopped; returns the count. */
    private static final class Writer implements AutoCloseable {
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicLong done = new AtomicLong();
        final Thread thread;
        volatile Throwable failure;

        Writer(FollowerProcessTest t, String url, long seed) {
            thread = new Thread(() -> {
                Random rnd = new Random(seed);
                try {
                    while (!stop.get()) {
                        t.put(url, "key" + rnd.nextInt(2_000), "value-" + done.get() + "-" + "x".repeat(rnd.nextInt(300)));
                        done.incrementAndGet();
                    }
                } catch (Throwable e) {
                    failure = e;
                }
            }, "writer");
            thread.start();
        }

        @Override
        public void close() throws InterruptedException {
            stop.set(true);
            thread.join();
            assertEquals(null, failure, "the leader refused a write");
        }
    }

    private Process follower(Leader leader, Path data, int httpPort, long seed, String... extra) throws IOException {
        List<String> args = new ArrayList<>(List.of("follow", "--data", data.toString(), "--leader", leader.repl(),
                "--archive", leader.archive(), "--http", "127.0.0.1:" + httpPort, "--node-id", "f1",
                "--backoff-seed", Long.toString(seed)));
        args.addAll(List.of(extra));
        return start(args, data.resolveSibling(data.getFileName() + ".log." + System.nanoTime()), "serving");
    }

    private void awaitSameDigest(String leaderUrl, String followerUrl) {
        await("the follower reaches the leader's digest", Duration.ofSeconds(120),
                () -> digest(followerUrl).equals(digest(leaderUrl)));
    }

    @Test
    void bootstrapsFromTheArchiveUnderLoadThenSurvivesKillNineWithoutDownloadingAgain() throws Exception {
        long seed = Long.getLong("follower.seed", System.nanoTime());
        int rounds = Integer.getInteger("follower.rounds", 3);
        System.out.println("seed " + seed + ", rounds " + rounds);
        Random rnd = new Random(seed);
        Leader leader = leader();
        int port = TestPorts.free();
        String followerUrl = "http://127.0.0.1:" + port;
        Path data = tmp.resolve("follower");
        try (Writer w = new Writer(this, leader.url(), seed)) {
            await("some writes", Duration.ofSeconds(60), () -> w.done.get() > 300);
            CliRunner.Result backup = CliRunner.run("backup", "--url", leader.url(), "--archive", leader.archive());
            assertEquals(0, backup.exit(), backup.err());
            Process f = follower(leader, data, port, seed);
            await("the follower streams", Duration.ofSeconds(60), () -> get(followerUrl + "/status").body().contains("\"source\":\"stream\""));
            for (int round = 0; round < rounds; round++) {
                long before = w.done.get();
                await("writes while the follower streams", Duration.ofSeconds(60), () -> w.done.get() > before + 50 + rnd.nextInt(200));
                f.destroyForcibly(); // kill -9, mid-stream
                assertTrue(f.waitFor(30, TimeUnit.SECONDS));
                f = follower(leader, data, port, seed + round + 1);
                List<Path> logs;
                try (var s = Files.list(tmp)) {
                    logs = s.filter(p -> p.getFileName().toString().startsWith("follower.log.")).sorted().toList();
                }
                String log = read(logs.get(logs.size() - 1));
                assertTrue(log.contains("resuming from its own state"), log);
                assertFalse(log.contains("restoring"), "round " + round + " downloaded a base backup again: " + log);
            }
        }
        awaitSameDigest(leader.url(), followerUrl);
        assertEquals(0, CliRunner.run("kv", "digest", "--url", followerUrl).exit());
    }

    @Test
    void readYourWritesWithMinLsnAndWritesAreMisdirected() throws Exception {
        Leader leader = leader();
        put(leader.url(), "seed", "1");
        CliRunner.Result backup = CliRunner.run("backup", "--url", leader.url(), "--archive", leader.archive());
        assertEquals(0, backup.exit(), backup.err());
        int port = TestPorts.free();
        String followerUrl = "http://127.0.0.1:" + port;
        follower(leader, tmp.resolve("follower"), port, 7, "--read-wait", "2s");
        for (int i = 0; i < 200; i++) {
            long lsn = put(leader.url(), "ryw" + i, "v" + i);
            String min = switch (i % 3) {
                case 0 -> Lsn.format(lsn);
                case 1 -> "0x" + Long.toHexString(lsn);
                default -> Long.toString(lsn);
            };
            HttpResponse<String> r = get(followerUrl + "/kv/ryw" + i + "?min_lsn=" + min);
            assertEquals(200, r.statusCode(), "read-your-writes of LSN " + lsn + ": " + r.body());
            assertEquals("v" + i, r.body());
            assertTrue(Lsn.parse(r.headers().firstValue(Headers.LSN).orElseThrow()) >= lsn);
        }
        CliRunner.Result get = CliRunner.run("kv", "get", "--url", followerUrl, "ryw199");
        assertEquals(0, get.exit(), get.err());
        assertTrue(get.out().contains("v199"), get.out());
        CliRunner.Result put = CliRunner.run("kv", "put", "--url", followerUrl, "x", "y");
        assertEquals(ExitCodes.USAGE, put.exit());
        assertTrue(put.err().contains(leader.url()), "names the leader: " + put.err());
        HttpResponse<String> late = get(followerUrl + "/kv/ryw1?min_lsn=" + Long.MAX_VALUE / 2);
        assertEquals(503, late.statusCode());
        assertTrue(late.headers().firstValue(Headers.LSN).isPresent());
        HttpResponse<String> status = get(followerUrl + "/status");
        assertTrue(status.body().contains("\"role\":\"follower\""), status.body());
        assertTrue(get(followerUrl + "/metrics").body().contains("walship_replication_lag_seconds"));
        assertEquals(0, CliRunner.run("kv", "scan", "--url", followerUrl).exit());
        assertEquals(0, CliRunner.run("kv", "dump", "--url", followerUrl).exit());
    }

    @Test
    void withoutAnArchiveItCopiesTheLeadersSnapshotAndAWrongTokenIsExitFour() throws Exception {
        Path token = tmp.resolve("token");
        Files.writeString(token, "right-token\n");
        int httpPort = TestPorts.free();
        int replPort = TestPorts.free();
        String leaderUrl = "http://127.0.0.1:" + httpPort;
        start(List.of("leader", "--data", tmp.resolve("leader").toString(), "--http", "127.0.0.1:" + httpPort,
                "--repl", "127.0.0.1:" + replPort, "--auth-token-file", token.toString()), tmp.resolve("leader.log"), "serving");
        for (int i = 0; i < 50; i++) {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(leaderUrl + "/kv/k" + i))
                    .header("Authorization", "Bearer right-token").PUT(HttpRequest.BodyPublishers.ofString("v" + i)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r.body());
        }
        int port = TestPorts.free();
        String followerUrl = "http://127.0.0.1:" + port;
        Path data = tmp.resolve("follower");
        Process f = start(List.of("follow", "--data", data.toString(), "--leader", "127.0.0.1:" + replPort,
                "--leader-url", leaderUrl, "--http", "127.0.0.1:" + port, "--auth-token-file", token.toString(),
                "--backoff-seed", "11"), tmp.resolve("follower-1.log"), "serving");
        assertTrue(read(tmp.resolve("follower-1.log")).contains("bootstrapped"), read(tmp.resolve("follower-1.log")));
        awaitSameDigest(leaderUrl, followerUrl);
        f.destroyForcibly();
        assertTrue(f.waitFor(30, TimeUnit.SECONDS));

        Path wrong = tmp.resolve("wrong");
        Files.writeString(wrong, "not-the-token");
        Process bad = ChildJvm.start(Main.class, List.of("follow", "--data", data.toString(), "--leader",
                "127.0.0.1:" + replPort, "--http", "127.0.0.1:" + port, "--auth-token-file", wrong.toString()),
                tmp.resolve("follower-2.log"));
        processes.add(bad);
        assertTrue(bad.waitFor(60, TimeUnit.SECONDS), "a refused follower exits");
        String log = read(tmp.resolve("follower-2.log"));
        assertEquals(ExitCodes.REPLICATION_REFUSED, bad.exitValue(), log);
        assertTrue(log.contains("resuming from its own state"), log);
        assertTrue(log.contains("AUTH_FAILED"), log);
    }

    @Test
    void aRestartWhileTheArchiveIsUnreachableStreamsFromTheLeader() throws Exception {
        Leader leader = leader();
        put(leader.url(), "a", "1");
        CliRunner.Result backup = CliRunner.run("backup", "--url", leader.url(), "--archive", leader.archive());
        assertEquals(0, backup.exit(), backup.err());
        int port = TestPorts.free();
        String followerUrl = "http://127.0.0.1:" + port;
        Path data = tmp.resolve("follower");
        Process f = follower(leader, data, port, 21);
        awaitSameDigest(leader.url(), followerUrl);
        f.destroyForcibly();
        assertTrue(f.waitFor(30, TimeUnit.SECONDS));
        for (int i = 0; i < 100; i++) {
            put(leader.url(), "b" + i, "v" + i);
        }
        // nothing listens on port 1: every archive request fails to connect
        String deadArchive = "s3://bucket/prefix?endpoint=http://127.0.0.1:1&region=us-east-1&path-style=true";
        Path log = tmp.resolve("follower-dead-archive.log");
        Process p = ChildJvm.start(Main.class, List.of("-Daws.accessKeyId=x", "-Daws.secretAccessKey=y"),
                List.of("follow", "--data", data.toString(), "--leader", leader.repl(), "--archive", deadArchive,
                        "--http", "127.0.0.1:" + port, "--backoff-seed", "22"), log);
        processes.add(p);
        await("the follower serves", Duration.ofSeconds(60), () -> {
            assertTrue(p.isAlive(), read(log));
            return read(log).contains("serving");
        });
        assertTrue(read(log).contains("cannot be reached now"), read(log));
        awaitSameDigest(leader.url(), followerUrl);
        assertTrue(get(followerUrl + "/status").body().contains("\"source\":\"stream\""));
    }
}
