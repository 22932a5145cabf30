package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
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
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import io.walship.protocol.Headers;
import io.walship.protocol.tls.TestTls;
import io.walship.protocol.tls.Tls;
import io.walship.wal.ChildJvm;
import io.walship.wal.Lsn;
import io.walship.protocol.TestPorts;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TLS on real processes, with the committed test CA (protocol's TestTls): a leader serving HTTPS and
 * a TLS replication port, a follower that bootstraps from its HTTPS snapshot, streams over TLS and
 * reaches its digest; the same follower restarted without TLS (plaintext HELLO to a TLS port) never
 * streams and says why; restarted trusting only the JVM's default store it stops with exit 7; the
 * leader serves on throughout. {@code kv --url https://} with and without {@code --tls-ca}, and bad
 * TLS flags (exit 2, nothing opened).
 */
class TlsProcessTest {
    @TempDir
    Path tmp;
    Path tls;
    private final List<Process> processes = new ArrayList<>();
    private HttpClient https;

    @BeforeEach
    void files() {
        tls = TestTls.writeTo(tmp.resolve("tls"));
        https = Tls.http(HttpClient.newBuilder(), Tls.clientContext(tls.resolve("ca.pem")))
                .connectTimeout(Duration.ofSeconds(5)).build();
    }

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

    private HttpResponse<String> get(String url) {
        try {
            return https.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30)).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    private long put(String url, String key, String value) throws Exception {
        HttpResponse<String> r = https.send(HttpRequest.newBuilder(URI.create(url + "/kv/" + key))
                .PUT(HttpRequest.BodyPublishers.ofString(value)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        return Lsn.parse(r.headers().firstValue(Headers.LSN).orElseThrow());
    }

    private String digest(String url) {
        HttpResponse<String> r = get(url + "/digest");
        return r.statusCode() == 200 ? r.body() : "HTTP " + r.statusCode();
    }

    private String cert() {
        return tls.resolve("server.pem").toString();
    }

    private String key() {
        return tls.resolve("server.key").toString();
    }

    private String ca() {
        return tls.resolve("ca.pem").toString();
    }

    private List<String> followArgs(Path data, String repl, int httpPort, String... extra) {
        List<String> args = new ArrayList<>(List.of("follow", "--data", data.toString(), "--leader", repl,
                "--http", "127.0.0.1:" + httpPort, "--node-id", "f1", "--backoff-seed", "11",
                "--tls-cert", cert(), "--tls-key", key()));
        args.addAll(List.of(extra));
        return args;
    }

    @Test
    void aFollowerStreamsFromATlsLeaderAndOneThatDoesNotTrustItIsRefused() throws Exception {
        int httpPort = TestPorts.free();
        int replPort = TestPorts.free();
        String repl = "127.0.0.1:" + replPort;
        String leaderUrl = "https://127.0.0.1:" + httpPort;
        Process leader = start(List.of("leader", "--data", tmp.resolve("leader").toString(), "--http",
                        "127.0.0.1:" + httpPort, "--repl", repl, "--tls-cert", cert(), "--tls-key", key()),
                tmp.resolve("leader.log"), "serving followers");
        assertTrue(read(tmp.resolve("leader.log")).contains("serving https://127.0.0.1:" + httpPort),
                read(tmp.resolve("leader.log")));

        // kv over HTTPS: with --tls-ca it works; without it the JVM's trust store refuses the test CA
        CliRunner.Result ok = CliRunner.run("kv", "put", "--url", leaderUrl, "--tls-ca", ca(), "k0", "v0");
        assertEquals(0, ok.exit(), ok.err());
        CliRunner.Result untrusted = CliRunner.run("kv", "put", "--url", leaderUrl, "k1", "nope");
        assertEquals(ExitCodes.FAILURE, untrusted.exit(), untrusted.err());
        assertTrue(untrusted.err().contains("--tls-ca"), untrusted.err());
        assertEquals(404, get(leaderUrl + "/kv/k1").statusCode(), "a refused handshake wrote nothing");
        for (int i = 0; i < 300; i++) {
            put(leaderUrl, "key" + i, "value-" + i);
        }
        // a base backup streamed from the HTTPS leader
        String archive = "file://" + tmp.resolve("archive");
        CliRunner.Result backup = CliRunner.run("backup", "--url", leaderUrl, "--tls-ca", ca(), "--archive", archive);
        assertEquals(0, backup.exit(), backup.err());
        CliRunner.Result noCa = CliRunner.run("backup", "--url", leaderUrl, "--archive", archive);
        assertEquals(ExitCodes.FAILURE, noCa.exit(), noCa.err());

        // bootstraps from the HTTPS snapshot, then streams over TLS; serves its reads over HTTPS
        int fPort = TestPorts.free();
        String followerUrl = "https://127.0.0.1:" + fPort;
        Path data = tmp.resolve("follower");
        start(followArgs(data, repl, fPort, "--leader-url", leaderUrl, "--leader-tls-ca", ca()),
                tmp.resolve("f1.log"), "serving");
        await("the follower streams", Duration.ofSeconds(60),
                () -> get(followerUrl + "/status").body().contains("\"source\":\"stream\""));
        long last = put(leaderUrl, "after", "bootstrap");
        await("the follower reaches the leader's digest", Duration.ofSeconds(60),
                () -> digest(followerUrl).equals(digest(leaderUrl)));
        CliRunner.Result read = CliRunner.run("kv", "get", "--url", followerUrl, "--tls-ca", ca(), "after");
        assertEquals(0, read.exit(), read.err());
        assertTrue(read.out().contains("bootstrap"), read.out());
        // a write to the follower names the leader's https:// URL
        CliRunner.Result misdirected = CliRunner.run("kv", "put", "--url", followerUrl, "--tls-ca", ca(), "x", "y");
        assertEquals(ExitCodes.USAGE, misdirected.exit());
        assertTrue(misdirected.err().contains(leaderUrl), misdirected.err());
        assertTrue(read(tmp.resolve("f1.log")).contains("follower of " + repl + " over TLS in " + data
                + " (from leader) serving https://127.0.0.1:" + fPort), read(tmp.resolve("f1.log")));
        processes.get(1).destroyForcibly().waitFor(30, TimeUnit.SECONDS);

        // restarted without --leader-tls: its plaintext HELLO never gets an answer; it says why and never streams
        Path plainLog = tmp.resolve("f2.log");
        Process plain = start(followArgs(data, repl, fPort), plainLog, "serving");
        await("the plaintext follower explains", Duration.ofSeconds(60),
                () -> read(plainLog).contains("give this follower --leader-tls or --leader-tls-ca"));
        long during = put(leaderUrl, "during", "plaintext");
        assertTrue(plain.isAlive());
        String status = get(followerUrl + "/status").body();
        assertFalse(status.contains("\"source\":\"stream\""), status);
        assertTrue(Lsn.parse(get(followerUrl + "/kv/after").headers().firstValue(Headers.LSN).orElseThrow()) < during,
                "nothing reached the plaintext follower");
        plain.destroyForcibly().waitFor(30, TimeUnit.SECONDS);

        // restarted with --leader-tls but only the JVM's trust store: refused for good, exit 7, and why
        Path untrustedLog = tmp.resolve("f3.log");
        Process refused = ChildJvm.start(Main.class, followArgs(data, repl, fPort, "--leader-tls"), untrustedLog);
        processes.add(refused);
        assertTrue(refused.waitFor(60, TimeUnit.SECONDS), "a follower that cannot trust its leader stops");
        assertEquals(ExitCodes.REPLICATION_REFUSED, refused.exitValue(), read(untrustedLog));
        assertTrue(read(untrustedLog).contains("does not trust"), read(untrustedLog));
        assertTrue(read(untrustedLog).contains("--leader-tls-ca"), read(untrustedLog));

        // the leader took no harm: it serves, and the follower with the CA streams and catches up again
        assertTrue(leader.isAlive());
        long more = put(leaderUrl, "later", "again");
        start(followArgs(data, repl, fPort, "--leader-tls-ca", ca()), tmp.resolve("f4.log"), "serving");
        await("the follower catches up again", Duration.ofSeconds(60),
                () -> digest(followerUrl).equals(digest(leaderUrl)));
        assertTrue(Lsn.parse(get(followerUrl + "/kv/later").headers().firstValue(Headers.LSN).orElseThrow()) >= more);
        assertTrue(last < more);

        // plain HTTP to the HTTPS port fails on its own connection only
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        assertThrows(IOException.class, () -> http.send(HttpRequest.newBuilder(URI.create(
                "http://127.0.0.1:" + httpPort + "/kv/k0")).timeout(Duration.ofSeconds(20)).GET().build(),
                HttpResponse.BodyHandlers.ofString()));
        assertEquals("v0", get(leaderUrl + "/kv/k0").body());
    }

    private void assertUsageError(String expected, String... args) {
        CliRunner.Result r = CliRunner.run(args);
        assertEquals(ExitCodes.USAGE, r.exit(), r.err());
        assertEquals(1, r.err().lines().count(), "one line: " + r.err());
        assertTrue(r.err().contains(expected), r.err());
    }

    @Test
    void badTlsFlagsAreUsageErrorsBeforeAnythingIsOpened() throws Exception {
        Path data = tmp.resolve("d");
        String d = data.toString();
        assertUsageError("--tls-cert needs --tls-key", "leader", "--data", d, "--http", "127.0.0.1:0", "--tls-cert", cert());
        assertUsageError("--tls-key needs --tls-cert", "leader", "--data", d, "--http", "127.0.0.1:0", "--tls-key", key());
        assertUsageError("other.key does not belong to the certificate", "leader", "--data", d, "--http", "127.0.0.1:0",
                "--tls-cert", cert(), "--tls-key", tls.resolve("other.key").toString());
        assertUsageError("encrypted.key is encrypted", "leader", "--data", d, "--http", "127.0.0.1:0",
                "--tls-cert", cert(), "--tls-key", tls.resolve("encrypted.key").toString());
        assertUsageError("pkcs1.key is a RSA PRIVATE KEY", "leader", "--data", d, "--http", "127.0.0.1:0",
                "--tls-cert", cert(), "--tls-key", tls.resolve("pkcs1.key").toString());
        assertUsageError("missing.pem does not exist", "leader", "--data", d, "--http", "127.0.0.1:0",
                "--tls-cert", tls.resolve("missing.pem").toString(), "--tls-key", key());
        assertUsageError("server.key holds no PEM '-----BEGIN CERTIFICATE-----' block", "follow", "--data", d,
                "--leader", "127.0.0.1:1", "--tls-cert", key(), "--tls-key", key());
        assertUsageError("TLS CA file " + key(), "follow", "--data", d, "--leader", "127.0.0.1:1",
                "--leader-tls-ca", key());
        assertUsageError("TLS CA file " + key(), "kv", "get", "--url", "https://127.0.0.1:1", "--tls-ca", key(), "k");
        assertFalse(Files.exists(data), "nothing was opened or created");
        assertNotEquals(0, CliRunner.run("kv", "get", "--url", "ftp://127.0.0.1:1", "k").exit());
    }
}
