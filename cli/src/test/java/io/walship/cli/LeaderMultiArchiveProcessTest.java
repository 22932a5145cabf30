package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.walship.archive.ArchiveUri;
import io.walship.wal.ChildJvm;
import io.walship.wal.WalMarks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A leader (its own process) shipping to three archives: a local required one, a required S3 one
 * whose endpoint refuses connections, and a local optional one. The others keep shipping, /status
 * and /metrics show the down one failing, the local WAL is kept for it, SIGTERM stops promptly,
 * and each archive that is up restores to the leader's state.
 */
class LeaderMultiArchiveProcessTest {
    @TempDir
    Path tmp;

    private final HttpClient http = HttpClient.newHttpClient();
    private final ObjectMapper json = new ObjectMapper();

    private String get(String url) {
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10))
                    .build(), HttpResponse.BodyHandlers.ofString());
            return r.body();
        } catch (Exception e) {
            return "(" + e + ")";
        }
    }

    private JsonNode status(String url) {
        try {
            return json.readTree(get(url + "/status"));
        } catch (Exception e) {
            return json.createObjectNode().put("unreadable", e.toString());
        }
    }

    private static JsonNode archive(JsonNode status, String id) {
        for (JsonNode a : status.path("archives")) {
            if (a.path("id").asText().equals(id)) {
                return a;
            }
        }
        return json().createObjectNode();
    }

    private static ObjectMapper json() {
        return new ObjectMapper();
    }

    @Test
    void aDownRequiredArchiveHoldsTheWalButNotTheOthers() throws Exception {
        Path data = tmp.resolve("data");
        String a = "file://" + tmp.resolve("a");
        String c = "file://" + tmp.resolve("c");
        int port;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        String down = "s3://walship-down/p?endpoint=http://127.0.0.1:" + port + "&region=us-east-1";
        String idA = ArchiveUri.parse(a).id();
        String idDown = ArchiveUri.parse(down).id();
        String idC = ArchiveUri.parse(c).id();
        Path log = tmp.resolve("leader.err");
        Path portFile = tmp.resolve("leader.port");
        Process p = ChildJvm.start(Main.class, List.of("-Daws.accessKeyId=x", "-Daws.secretAccessKey=y"),
                List.of("leader", "--data", data.toString(), "--http", "127.0.0.1:0", "--port-file", portFile.toString(),
                        "--cache-size", "1MiB", "--archive", a, "--archive", down, "--optional-archive", c,
                        "--ship-interval", "200ms"), log);
        try {
            String url = "http://127.0.0.1:" + LeaderProcessTest.awaitPort(p, portFile, log);
            for (int i = 0; i < 20; i++) {
                assertEquals(0, CliRunner.run("kv", "put", "--url", url, "k" + i, "v" + i).exit());
            }
            // polled until every archive has had its runs: the first read may come before them
            JsonNode st = Poll.until(Duration.ofSeconds(60), () -> status(url), s -> {
                String last = s.path("lastLsn").asText("?");
                return last.equals(archive(s, idA).path("shippedLsn").asText())
                        && last.equals(s.path("archive").path("archivedUpTo").asText())
                        && last.equals(archive(s, idC).path("shippedLsn").asText())
                        && archive(s, idDown).path("failing").asBoolean(false);
            });
            JsonNode d = archive(st, idDown);
            assertTrue(d.path("required").asBoolean());
            assertTrue(d.path("shippedLsn").isNull() || d.path("shippedLsn").isMissingNode(), d.toString());
            assertEquals(-1, d.path("lagLsns").asLong(), "unknown, never 0: " + d);
            assertFalse(d.path("lastError").asText("").isEmpty(), d.toString());
            assertFalse(d.path("uri").asText().contains("aws"), d.toString());
            assertFalse(archive(st, idC).path("required").asBoolean(true));
            assertFalse(archive(st, idA).path("failing").asBoolean(true));
            assertEquals(idA, st.path("archives").get(0).path("id").asText(), "the primary first");
            assertEquals(a, st.path("archive").path("archive").asText(), "the single-archive fields are the primary's");

            String metrics = get(url + "/metrics");
            assertTrue(metrics.contains("walship_archive_shipping_failing{archive=\"" + idDown + "\",required=\"true\"} 1.0"),
                    metrics);
            assertTrue(metrics.contains("walship_archive_shipping_failing{archive=\"" + idC + "\",required=\"false\"} 0.0"),
                    metrics);
            assertTrue(metrics.contains("walship_archive_shipping_lag_lsns{archive=\"" + idA + "\",required=\"true\"} 0.0"),
                    metrics);
        } finally {
            p.destroy(); // SIGTERM
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the leader did not stop on SIGTERM with an archive down");
        }
        WalMarks marks = new WalMarks(data);
        assertEquals(0, marks.archived(idDown).getAsLong(), "the down required archive's mark holds the WAL");
        assertTrue(marks.archived(idC).isEmpty(), "no mark for the optional archive");
        assertEquals(0, marks.archived().getAsLong(), "the retention floor (the unit test shows deletion stops there)");
        assertTrue(marks.archived(idA).getAsLong() > 20, "the primary's mark moved on");
        String digest = CliRunner.run("kv", "digest", "--data", data.toString()).out().trim();
        for (String arch : List.of(a, c)) {
            Path target = tmp.resolve("r" + arch.hashCode());
            CliRunner.Result b = CliRunner.run("backup", "--data", data.toString(), "--archive", arch);
            assertEquals(0, b.exit(), b.err()); // base backups are per archive
            CliRunner.Result r = CliRunner.run("restore", "--archive", arch, "--target", target.toString());
            assertEquals(0, r.exit(), r.err());
            assertEquals(digest, CliRunner.run("kv", "digest", "--data", target.toString()).out().trim(), arch);
        }
    }
}
