package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.EOFException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.net.SocketFactory;

import com.fasterxml.jackson.databind.JsonNode;
import io.walship.protocol.HostPort;
import io.walship.protocol.TestPorts;
import io.walship.protocol.Json;
import io.walship.protocol.repl.Frame;
import io.walship.protocol.repl.ReplConnection;
import io.walship.wal.ChildJvm;
import io.walship.wal.ControlFile;
import io.walship.wal.Lsn;
import io.walship.wal.WalMarks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code walship leader --repl … --auth-token-file …} as its own process: a follower on a slot streams
 * what the CLI writes with the token, /status shows it, and SIGTERM ends the stream and keeps the slot.
 */
class LeaderReplicationProcessTest {
    private static final Pattern REPL = Pattern.compile("serving followers on 127\\.0\\.0\\.1:(\\d+)");
    @TempDir
    Path tmp;

    @Test
    void aFollowerOnASlotStreamsFromARealLeaderUntilSigterm() throws Exception {
        int httpPort = TestPorts.free();
        Path data = tmp.resolve("data");
        Path log = tmp.resolve("leader.err");
        Path token = Files.writeString(tmp.resolve("token"), "s3cret-token\n");
        Process p = ChildJvm.start(Main.class, List.of("leader", "--data", data.toString(), "--http",
                "127.0.0.1:" + httpPort, "--repl", "127.0.0.1:0", "--auth-token-file", token.toString(),
                "--repl-keepalive", "200ms", "--repl-timeout", "5s"), log);
        try {
            String url = "http://127.0.0.1:" + httpPort;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            Matcher m;
            while (!(m = REPL.matcher(Files.readString(log))).find()) {
                assertTrue(p.isAlive(), "leader died: " + Files.readString(log));
                assertTrue(System.nanoTime() < deadline, "leader did not start: " + Files.readString(log));
                LockSupport.parkNanos(50_000_000L);
            }
            int replPort = Integer.parseInt(m.group(1));

            CliRunner.Result refused = CliRunner.run("kv", "put", "--url", url, "k", "v");
            assertEquals(ExitCodes.USAGE, refused.exit(), refused.err());
            assertTrue(refused.err().contains("HTTP 401"), refused.err());
            for (int i = 0; i < 10; i++) {
                CliRunner.Result r = CliRunner.run("kv", "put", "--url", url, "--auth-token-file", token.toString(),
                        "k" + i, "v" + i);
                assertEquals(0, r.exit(), r.err());
            }
            long last = 11; // the store's first entry + 10 puts

            try (ReplConnection c = ReplConnection.connect(SocketFactory.getDefault(),
                    new HostPort("127.0.0.1", replPort), Duration.ofSeconds(5))) {
                c.readTimeout(Duration.ofSeconds(20));
                ControlFile control = ControlFile.read(data);
                c.write(new Frame.Hello(Frame.VERSION, control.systemId(), control.timeline(), 1, "s1", "s3cret-token",
                        "proc-follower"));
                Frame.Welcome w = assertInstanceOf(Frame.Welcome.class, c.read());
                assertEquals("http://127.0.0.1:" + httpPort, w.leaderHttpUrl());
                long got = 0;
                while (got < last) {
                    Frame f = c.read();
                    if (f instanceof Frame.Wal wal) {
                        for (Frame.Entry e : wal.entries()) {
                            assertEquals(got + 1, e.lsn());
                            got = e.lsn();
                        }
                    }
                }
                c.write(new Frame.Feedback(last, last, last, System.currentTimeMillis() * 1000, 0));
                HttpClient http = HttpClient.newHttpClient();
                while (true) {
                    JsonNode status = Json.tree(http.send(HttpRequest.newBuilder(URI.create(url + "/status")).build(),
                            HttpResponse.BodyHandlers.ofString()).body());
                    JsonNode f = status.path("replication").path(0);
                    if (f.path("flushLsn").asText().equals(Lsn.format(last))) {
                        assertEquals("proc-follower", f.path("nodeId").asText());
                        assertEquals("s1", status.path("slots").path(0).path("name").asText());
                        break;
                    }
                    assertTrue(System.nanoTime() < deadline, "the follower never showed in /status: " + status);
                    LockSupport.parkNanos(20_000_000L);
                }

                p.destroy(); // SIGTERM: the leader ends the session and shuts down
                assertThrows(EOFException.class, () -> {
                    while (true) {
                        Frame f = c.read();
                        if (f instanceof Frame.Keepalive k && k.replyRequested()) {
                            c.write(new Frame.Feedback(last, last, last, 0, k.leaderSendMicros()));
                        }
                    }
                });
            }
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "leader did not stop on SIGTERM");
            assertEquals(Long.valueOf(last), new WalMarks(data).consumers().get("slot.s1"),
                    "the slot's position was persisted at shutdown");
        } finally {
            p.destroyForcibly();
        }
    }
}
