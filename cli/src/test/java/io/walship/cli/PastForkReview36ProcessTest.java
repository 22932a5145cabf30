package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
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
 * Review rev36 of pastfork (a255901e), real processes: LeaseProcessTest's
 * aCopyWhoseParentShippedPastItsForkRefusesToLeadAndARestoreAgainLeadsWithTheWrite with two archives, the copy restored
 * from the second one ("a restore reads any one of them (walship restore --archive B)", docs/OPERATIONS.md "Several
 * archives"). The lease lives in the primary A; the copy's claim ({@code fork: end}) is only in B and in its data
 * directory, and its ship loops (which would upload the record to A) are gated by the lease, so the take finds no
 * history of timeline 2 in A and skips the check: the copy leads without the write its parent acknowledged and
 * shipped to both archives after the copy was made.
 */
class PastForkReview36ProcessTest {
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

    @Test
    void aCopyRestoredFromTheSecondArchiveRefusesToLeadOnceItsParentShippedPastItsFork() throws Exception {
        Path archA = tmp.resolve("archive-a");
        Path archB = tmp.resolve("archive-b");
        Path a = tmp.resolve("a");
        Process pa = leader(a, archA, archB, "node-a", "a1");
        String ua = url(pa, "a1");
        assertEquals(200, put(ua, "before-copy"));
        for (Path arch : List.of(archA, archB)) {
            CliRunner.Result backup = CliRunner.run("backup", "--url", ua, "--archive", "file://" + arch);
            assertEquals(0, backup.exit(), backup.err());
        }
        awaitStatus(ua, PastForkReview36ProcessTest::allShipped);
        Path b = tmp.resolve("b");
        CliRunner.Result restore = CliRunner.run("restore", "--archive", "file://" + archB, "--target", b.toString(),
                "--promote");
        assertEquals(0, restore.exit(), restore.err());
        assertEquals(200, put(ua, "after-copy")); // acknowledged on timeline 1 after the copy forked
        awaitStatus(ua, PastForkReview36ProcessTest::allShipped); // and shipped to both archives
        pa.destroy(); // a clean stop: the lease is released
        assertTrue(pa.waitFor(30, TimeUnit.SECONDS));

        Process pb = leader(b, archA, archB, "node-b", "b");
        try {
            String ub = url(pb, "b");
            StatusResponse s = awaitStatus(ub, x -> x.lease() != null
                    && ("SUPERSEDED".equals(x.lease().state()) || x.lease().writable()));
            assertEquals("SUPERSEDED", s.lease().state(), "the copy took the lease on timeline " + s.timeline()
                    + " without the write timeline 1 acknowledged and shipped past its fork: " + s.lease());
            assertEquals(503, put(ub, "lost-history"));
        } finally {
            pb.destroy();
            assertTrue(pb.waitFor(30, TimeUnit.SECONDS));
        }
    }
}
