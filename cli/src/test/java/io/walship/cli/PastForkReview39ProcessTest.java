package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import io.walship.protocol.Json;
import io.walship.protocol.StatusResponse;
import io.walship.wal.ChildJvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review rev39 of pastfork (518e084a), which ran LocalHistories.ensure against the primary before every lease take and
 * refused the take until it passed: a copy whose ancestors' records are in neither its data directory nor a fresh
 * primary never led (the ship loops that would copy them run only under the lease). The take now reads the node's own
 * records first and never waits on the primary holding them.
 */
class PastForkReview39ProcessTest {
    @TempDir
    Path tmp;
    private final HttpClient http = HttpClient.newHttpClient();

    private Process leader(Path data, String nodeId, String run, Path... archives) throws Exception {
        List<String> args = new ArrayList<>(List.of("leader", "--data", data.toString(), "--http", "127.0.0.1:0",
                "--port-file", tmp.resolve(run + ".port").toString(), "--cache-size", "1MiB", "--ship-interval", "100ms",
                "--node-id", nodeId, "--lease-ttl", "3s", "--lease-skew-margin", "500ms"));
        for (Path a : archives) {
            args.addAll(List.of("--archive", "file://" + a));
        }
        return ChildJvm.start(Main.class, args, tmp.resolve(run + ".log"));
    }

    private String url(Process p, String run) throws Exception {
        return "http://127.0.0.1:" + LeaderProcessTest.awaitPort(p, tmp.resolve(run + ".port"), tmp.resolve(run + ".log"));
    }

    private int put(String url, String key) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url + "/kv/" + key))
                .PUT(HttpRequest.BodyPublishers.ofString("v")).build(), HttpResponse.BodyHandlers.ofString()).statusCode();
    }

    private StatusResponse status(String url) {
        try {
            String body = http.send(HttpRequest.newBuilder(URI.create(url + "/status")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            return Json.read(body.getBytes(), StatusResponse.class);
        } catch (Exception e) {
            throw new AssertionError("GET " + url + "/status: " + e, e);
        }
    }

    private StatusResponse awaitStatus(String url, Predicate<StatusResponse> done) {
        return Poll.until(java.time.Duration.ofSeconds(60), () -> status(url), done);
    }

    private static boolean shipped(StatusResponse s) {
        return s.archives() != null && !s.archives().isEmpty() && s.archives().stream().allMatch(x -> x.lagLsns() == 0);
    }

    private static void stop(Process p) throws Exception {
        p.destroy(); // a clean stop: the lease is released
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    }

    /**
     * Defect 1 (liveness): a copy restored and promoted from the second archive B onto timeline 3 keeps only
     * 3.history in its data directory (a restore saves no ancestor's record). Started as a leader with a new, empty
     * primary A in front of B, its pre-take ensure(A) fails on timeline 2 ("neither in DATA/timelines nor in A") on
     * every tick. The record would come from B's ship loop (it saves B's 2.history into the data directory, and A's
     * loop then uploads it) — but the ship loops are gated by the very lease that is never taken. The node waits
     * forever. Before the branch it took the lease on A (no lease there) and its ship loops fixed the records.
     */
    @Test
    void aCopyOnTimeline3FromTheSecondArchiveLeadsWithAFreshPrimary() throws Exception {
        Path archA = tmp.resolve("archive-a"); // the new primary, added at the failover
        Path archB = tmp.resolve("archive-b");
        Path one = tmp.resolve("one");
        Process p1 = leader(one, "node-1", "one", archB);
        String u1 = url(p1, "one");
        assertEquals(200, put(u1, "k1"));
        CliRunner.Result backup = CliRunner.run("backup", "--url", u1, "--archive", "file://" + archB);
        assertEquals(0, backup.exit(), backup.err());
        awaitStatus(u1, PastForkReview39ProcessTest::shipped);
        stop(p1);
        // failover 1: timeline 2 leads and ships to B
        Path two = tmp.resolve("two");
        CliRunner.Result r2 = CliRunner.run("restore", "--archive", "file://" + archB, "--target", two.toString(),
                "--promote");
        assertEquals(0, r2.exit(), r2.err());
        Process p2 = leader(two, "node-2", "two", archB);
        String u2 = url(p2, "two");
        awaitStatus(u2, s -> s.lease() != null && s.lease().writable());
        assertEquals(200, put(u2, "k2"));
        awaitStatus(u2, PastForkReview39ProcessTest::shipped);
        stop(p2);
        // failover 2: timeline 3 from B, now with a new primary A in front of B
        Path three = tmp.resolve("three");
        CliRunner.Result r3 = CliRunner.run("restore", "--archive", "file://" + archB, "--target", three.toString(),
                "--promote");
        assertEquals(0, r3.exit(), r3.err());
        assertTrue(Files.exists(three.resolve("timelines").resolve("3.history")));
        assertFalse(Files.exists(three.resolve("timelines").resolve("2.history")), "precondition: a restore keeps"
                + " only the new timeline's record");
        Process p3 = leader(three, "node-3", "three", archA, archB);
        try {
            String u3 = url(p3, "three");
            StatusResponse s;
            try {
                s = Poll.until(java.time.Duration.ofSeconds(30), () -> status(u3),
                        x -> x.lease() != null && (x.lease().writable() || "SUPERSEDED".equals(x.lease().state())));
            } catch (AssertionError timedOut) {
                s = status(u3);
            }
            assertEquals(3, s.timeline());
            assertTrue(s.lease() != null && s.lease().writable(), "the copy on timeline 3 never takes the lease on its"
                    + " fresh primary: " + (s.lease() == null ? null : s.lease().state() + ": " + s.lease().reason()));
        } finally {
            stop(p3);
        }
    }
}
