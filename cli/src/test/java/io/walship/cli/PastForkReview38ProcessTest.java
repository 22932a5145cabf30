package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import io.walship.protocol.Json;
import io.walship.protocol.StatusResponse;
import io.walship.wal.ChildJvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review rev38 of pastfork (372b44a2), real processes.
 */
class PastForkReview38ProcessTest {
    @TempDir
    Path tmp;
    private final HttpClient http = HttpClient.newHttpClient();

    private Process leader(Path data, Path a, Path b, String nodeId, String run) throws Exception {
        return ChildJvm.start(Main.class, List.of("leader", "--data", data.toString(), "--http", "127.0.0.1:0",
                "--port-file", tmp.resolve(run + ".port").toString(), "--cache-size", "1MiB",
                "--archive", "file://" + a, "--archive", "file://" + b, "--ship-interval", "100ms", "--node-id", nodeId,
                "--lease-ttl", "3s", "--lease-skew-margin", "500ms"), tmp.resolve(run + ".log"));
    }

    private String url(Process p, String run) throws Exception {
        return "http://127.0.0.1:" + LeaderProcessTest.awaitPort(p, tmp.resolve(run + ".port"), tmp.resolve(run + ".log"));
    }

    private int put(String url, String key) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url + "/kv/" + key))
                .PUT(HttpRequest.BodyPublishers.ofString("v")).build(), HttpResponse.BodyHandlers.ofString()).statusCode();
    }

    private StatusResponse status(String url) throws Exception {
        String body = http.send(HttpRequest.newBuilder(URI.create(url + "/status")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        return Json.read(body.getBytes(), StatusResponse.class);
    }

    private StatusResponse awaitStatus(String url, Predicate<StatusResponse> done) {
        return Poll.until(java.time.Duration.ofSeconds(60), () -> {
            try {
                return status(url);
            } catch (Exception e) {
                throw new AssertionError("GET " + url + "/status: " + e, e);
            }
        }, done);
    }

    private static boolean allShipped(StatusResponse s) {
        return s.archives() != null && s.archives().size() == 2 && s.archives().stream().allMatch(x -> x.lagLsns() == 0);
    }

    /**
     * (a) LeaderCommand swallows a failure of LocalHistories.ensure, and the take then reads whatever the primary holds
     * for the copy's timeline. A drill copy restored from the primary A to a chosen LSN and promoted claimed timeline 2
     * in A (no {@code fork}); A's claims never reach B (only a leader of timeline 2 would ship them there). The
     * failover copy restored from B to its end claims timeline 2 in B ({@code fork: end}). Started as a leader, its
     * ensure finds "another history record for timeline 2" in A (logged only), and its take reads the drill's record,
     * which has no {@code fork: end}: no past-fork check, the copy leads without the write timeline 1 acknowledged and
     * shipped after the copy forked (and its ship loops to A are refused for good: another history of timeline 2).
     */
    @Test
    void aCopyFromTheSecondArchiveWhoseTimelineThePrimaryHoldsForAnotherHistoryDoesNotLead() throws Exception {
        Path archA = tmp.resolve("archive-a");
        Path archB = tmp.resolve("archive-b");
        Path a = tmp.resolve("a");
        Process pa = leader(a, archA, archB, "node-a", "a1");
        String ua = url(pa, "a1");
        assertEquals(200, put(ua, "k1"));
        for (Path arch : List.of(archA, archB)) {
            CliRunner.Result backup = CliRunner.run("backup", "--url", ua, "--archive", "file://" + arch);
            assertEquals(0, backup.exit(), backup.err());
        }
        String l1 = awaitStatus(ua, PastForkReview38ProcessTest::allShipped).lastLsn();
        // a drill copy in the primary, forked on purpose at k1 (timeline 2 in A only)
        CliRunner.Result drill = CliRunner.run("restore", "--archive", "file://" + archA, "--target",
                tmp.resolve("drill").toString(), "--lsn", l1, "--promote");
        assertEquals(0, drill.exit(), drill.err());
        assertTrue(Files.exists(archA.resolve(io.walship.archive.ArchiveLayout.historyKey(2))));
        assertFalse(Files.exists(archB.resolve(io.walship.archive.ArchiveLayout.historyKey(2))));
        assertEquals(200, put(ua, "k2"));
        awaitStatus(ua, PastForkReview38ProcessTest::allShipped);
        // the failover copy, restored from the second archive to its end (timeline 2 in B)
        Path b = tmp.resolve("b");
        CliRunner.Result restore = CliRunner.run("restore", "--archive", "file://" + archB, "--target", b.toString(),
                "--promote");
        assertEquals(0, restore.exit(), restore.err());
        assertEquals(200, put(ua, "after-copy")); // acknowledged on timeline 1 after the copy forked
        awaitStatus(ua, PastForkReview38ProcessTest::allShipped);
        pa.destroy(); // a clean stop: the lease is released
        assertTrue(pa.waitFor(30, TimeUnit.SECONDS));

        Process pb = leader(b, archA, archB, "node-b", "b");
        try {
            String ub;
            try {
                ub = url(pb, "b");
            } catch (AssertionError died) {
                assertFalse(pb.isAlive(), died.getMessage());
                assertNotEquals(0, pb.exitValue(), "refused at start-up is fine");
                return;
            }
            StatusResponse s = awaitStatus(ub, x -> x.lease() != null
                    && ("SUPERSEDED".equals(x.lease().state()) || x.lease().writable()));
            assertEquals("SUPERSEDED", s.lease().state(), "the copy took the lease on timeline " + s.timeline()
                    + " though the primary holds another history of it, and without the write timeline 1 acknowledged"
                    + " and shipped past its fork: " + s.lease() + "; its log: " + Files.readAllLines(tmp.resolve("b.log")).stream()
                    .filter(l -> l.contains("could not make sure") || l.contains("took the leader lease")).toList());
        } finally {
            pb.destroy();
            assertTrue(pb.waitFor(30, TimeUnit.SECONDS));
        }
    }

    /**
     * The refusal tells the operator to run {@code restore --to-lsn F --promote} (LeaderLease.wentOnPastFork, and
     * docs/FORMAT.md "restore --promote without --to-lsn/--to-time"): restore has no such option ({@code --lsn},
     * {@code --time}); the suggested command is a usage error.
     */
    @Test
    void theRefusalsSuggestedRestoreCommandIsAValidCommand() throws Exception {
        Path arch = tmp.resolve("archive");
        Files.createDirectories(arch);
        CliRunner.Result r = CliRunner.run("restore", "--archive", "file://" + arch, "--target",
                tmp.resolve("x").toString(), "--to-lsn", "0000000000000040", "--promote");
        assertNotEquals(2, r.exit(), "restore --to-lsn F --promote, as the refusal says: " + r.err());
    }
}
