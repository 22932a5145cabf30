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
                    .filter(l -> l.contains("history") || l.contains("leader lease")).toList());
        } finally {
            pb.destroy();
            assertTrue(pb.waitFor(30, TimeUnit.SECONDS));
        }
    }

    /**
     * The refusal tells the operator to fork on purpose with a restore to the fork LSN: the command it names must be
     * one restore takes (it named {@code --to-lsn}, which restore does not have: a usage error). The command is taken
     * from a real refusal's text.
     */
    @Test
    void theRefusalsSuggestedRestoreCommandIsAValidCommand() throws Exception {
        Path arch = tmp.resolve("archive");
        String refusal;
        try (io.walship.archive.ObjectStore s = new io.walship.archive.LocalObjectStore(arch)) {
            io.walship.archive.ManualLeaseClock clock = new io.walship.archive.ManualLeaseClock(1_780_000_000_000_000L);
            java.time.Duration ttl = java.time.Duration.ofSeconds(10);
            java.time.Duration margin = java.time.Duration.ofSeconds(1);
            io.walship.archive.LeaderLease.acquire(s, new io.walship.archive.LeaseRecord.Holder("l", "http://l:1", "l:2"),
                    1, ttl, margin, clock).release();
            s.create(new io.walship.archive.ArchiveLayout.SegmentName(1, 1, 0x48).key(),
                    new java.io.ByteArrayInputStream(new byte[]{1}));
            s.create(io.walship.archive.ArchiveLayout.historyKey(2), new java.io.ByteArrayInputStream(
                    new io.walship.archive.TimelineHistory(1, 2, 1, "0000000000000040", "2026-01-01T00:00:00Z",
                            "2026-01-01T00:00:01Z", "restore --promote to the end of the archive",
                            io.walship.archive.TimelineHistory.OFFLINE, io.walship.archive.TimelineHistory.FORK_END)
                            .toJson()));
            refusal = org.junit.jupiter.api.Assertions.assertThrows(io.walship.archive.LeaseException.Superseded.class,
                    () -> io.walship.archive.LeaderLease.acquire(s, new io.walship.archive.LeaseRecord.Holder("n",
                            "http://n:1", "n:2"), 2, ttl, margin, clock)).getMessage();
        }
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("restore (--\\S+) ([0-9A-F]{16}) --promote").matcher(refusal);
        assertTrue(m.find(), refusal);
        CliRunner.Result r = CliRunner.run("restore", "--archive", "file://" + arch, "--target",
                tmp.resolve("x").toString(), m.group(1), m.group(2), "--promote");
        assertNotEquals(2, r.exit(), "restore " + m.group(1) + " " + m.group(2) + " --promote, as the refusal says: "
                + r.err());
    }
}
