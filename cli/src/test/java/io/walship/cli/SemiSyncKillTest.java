package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.walship.wal.ChildJvm;
import io.walship.wal.Lsn;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kill -9 of a semi-sync leader process under 16 concurrent writers: every commit the leader
 * acknowledged (200, {@code Walship-Sync: semi-sync}) is on the synchronous follower — checked
 * key by key against the acknowledged set, in the follower's store (and again after reopening it).
 * Even rounds use an in-process {@link LoopbackFollower}, odd rounds a real {@code walship follow}
 * process (bootstrapped from the leader's /snapshot; its data directory is checked after it is
 * stopped). Rounds: {@code walship.semisync.rounds} (3; 20 with {@code -Psemisync-soak}).
 */
class SemiSyncKillTest {
    private static final Pattern REPL = Pattern.compile("serving followers on 127\\.0\\.0\\.1:(\\d+)");
    private static final int WRITERS = 16;

    @TempDir
    Path tmp;

    record Acked(String key, String value, long lsn) {
    }

    @Test
    void everyAcknowledgedCommitIsOnTheSynchronousFollowerAfterKill9() throws Exception {
        int rounds = Integer.getInteger("walship.semisync.rounds", 3);
        long seed = System.nanoTime();
        System.out.println("SemiSyncKillTest: " + rounds + " rounds, seed " + seed);
        Random random = new Random(seed);
        for (int round = 0; round < rounds; round++) {
            round(round, 150 + random.nextInt(600), seed);
        }
    }

    private void round(int round, int killAfter, long seed) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("round" + round));
        Path data = dir.resolve("leader");
        Path log = dir.resolve("leader.err");
        Path portFile = dir.resolve("port");
        Process p = ChildJvm.start(Main.class, List.of("leader", "--data", data.toString(), "--http", "127.0.0.1:0",
                "--port-file", portFile.toString(), "--repl", "127.0.0.1:0", "--repl-keepalive", "200ms",
                "--sync-mode", "semi-sync", "--sync-timeout", "60s", "--on-sync-timeout", "block"), log);
        LoopbackFollower follower = null;
        Process followerProcess = null;
        Path followerData = dir.resolve("follower");
        Path followerLog = dir.resolve("follower.log");
        ConcurrentLinkedQueue<Acked> acked = new ConcurrentLinkedQueue<>();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            Matcher m;
            while (!(m = REPL.matcher(Files.readString(log))).find() || !Files.exists(portFile)) {
                assertTrue(p.isAlive(), "leader died: " + Files.readString(log));
                assertTrue(System.nanoTime() < deadline, "leader did not start: " + Files.readString(log));
                LockSupport.parkNanos(20_000_000L);
            }
            int replPort = Integer.parseInt(m.group(1));
            String url = "http://127.0.0.1:" + Files.readString(portFile).trim();
            if (round % 2 == 0) {
                follower = LoopbackFollower.fromUrl(url, replPort, followerData, "sync-follower");
            } else {
                int followerPort = io.walship.protocol.TestPorts.free();
                followerProcess = ChildJvm.start(Main.class, List.of("follow", "--data", followerData.toString(),
                        "--leader", "127.0.0.1:" + replPort, "--leader-url", url, "--http", "127.0.0.1:" + followerPort,
                        "--node-id", "sync-follower", "--backoff-seed", Long.toString(seed)), followerLog);
                while (!Files.exists(followerLog) || !Files.readString(followerLog).contains("serving")) {
                    assertTrue(followerProcess.isAlive(), "follower died: " + Files.readString(followerLog));
                    assertTrue(System.nanoTime() < deadline, "follower did not start: " + Files.readString(followerLog));
                    LockSupport.parkNanos(20_000_000L);
                }
            }

            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            AtomicInteger count = new AtomicInteger();
            ConcurrentLinkedQueue<String> wrong = new ConcurrentLinkedQueue<>();
            List<Thread> writers = new ArrayList<>();
            for (int t = 0; t < WRITERS; t++) {
                int id = t;
                Thread th = new Thread(() -> {
                    for (int i = 0; ; i++) {
                        String key = "w" + id + "-" + i;
                        String value = "r" + round + "-" + key;
                        HttpResponse<String> r;
                        try {
                            r = http.send(HttpRequest.newBuilder(URI.create(url + "/kv/" + key))
                                    .timeout(Duration.ofSeconds(90))
                                    .PUT(HttpRequest.BodyPublishers.ofString(value)).build(),
                                    HttpResponse.BodyHandlers.ofString());
                        } catch (Exception e) {
                            return; // the leader died: this write's fate is unknown, it was not acknowledged
                        }
                        if (r.statusCode() != 200 || !"semi-sync".equals(r.headers().firstValue("Walship-Sync")
                                .orElse(""))) {
                            wrong.add(key + ": " + r.statusCode() + " " + r.headers().map() + " " + r.body());
                            return;
                        }
                        acked.add(new Acked(key, value, Lsn.parse(r.headers().firstValue("Walship-LSN").orElseThrow())));
                        count.incrementAndGet();
                    }
                }, "writer-" + t);
                writers.add(th);
                th.start();
            }
            while (count.get() < killAfter) {
                assertTrue(p.isAlive(), "leader died: " + Files.readString(log));
                assertTrue(System.nanoTime() < deadline, "only " + count.get() + " commits in 60 s");
                assertTrue(wrong.isEmpty(), wrong.toString());
                LockSupport.parkNanos(1_000_000L);
            }
            p.destroyForcibly(); // SIGKILL, mid-stream: writers are waiting for acks right now
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
            for (Thread th : writers) {
                th.join(120_000);
                assertTrue(!th.isAlive(), th.getName() + " still waits after the leader died");
            }
            assertTrue(wrong.isEmpty(), wrong.toString());
            if (follower != null) {
                follower.awaitEnd();
                check(round, seed, follower.store, acked);
                follower.close();
            } else {
                followerProcess.destroy(); // SIGTERM: it was reconnecting to the dead leader
                assertTrue(followerProcess.waitFor(60, TimeUnit.SECONDS), "the follower did not stop");
            }
            try (Store reopened = Store.open(followerData)) {
                check(round, seed, reopened, acked);
            }
            System.out.println("SemiSyncKillTest round " + round + ": " + acked.size() + " acknowledged commits, all"
                    + " on the follower (" + (follower != null ? "in-process" : "walship follow") + ")");
        } finally {
            p.destroyForcibly();
            if (followerProcess != null) {
                followerProcess.destroyForcibly();
            }
            if (follower != null && follower.store != null) {
                try {
                    follower.close();
                } catch (RuntimeException e) {
                    // closed already
                }
            }
        }
    }

    private static void check(int round, long seed, Store follower, ConcurrentLinkedQueue<Acked> acked) {
        assertTrue(acked.size() > 0);
        for (Acked a : acked) {
            assertTrue(follower.lastLsn() >= a.lsn(), "round " + round + ", seed " + seed + ": LSN "
                    + Lsn.format(a.lsn()) + " was acknowledged; the follower reached only " + Lsn.format(follower.lastLsn()));
            assertArrayEquals(a.value().getBytes(StandardCharsets.UTF_8), follower.get(a.key().getBytes(
                    StandardCharsets.UTF_8)), "round " + round + ", seed " + seed + ": acknowledged " + a.key()
                    + " at LSN " + Lsn.format(a.lsn()) + " is not on the synchronous follower");
        }
        assertEquals(acked.size(), acked.stream().map(Acked::key).distinct().count());
    }
}
