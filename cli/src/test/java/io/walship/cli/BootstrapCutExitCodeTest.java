package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

import io.walship.protocol.Headers;
import io.walship.restorer.follow.Bootstrap;
import io.walship.wal.Lsn;
import io.walship.wal.Snapshot;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of 5e78a5a (pre-existing, not introduced there): a follower bootstrapping from the leader's
 * {@code GET /snapshot} whose answer is cut off now says so ("the leader's answer … was cut off after N of M
 * bytes"), but the failure still reaches the CLI as a {@code RestoreException} (SnapshotLoader wraps the
 * IOException in an UncheckedIOException, Bootstrap turns that into RestoreException): exit 3, "integrity", with
 * the hint "'walship archive verify' lists every problem in the archive" — for a network cut, with no archive
 * involved. {@code backup --url} of the same cut answer is exit 1 (README: "the leader's answer cut off: exit 1").
 */
class BootstrapCutExitCodeTest {
    @TempDir
    Path tmp;

    /** A leader's snapshot image (500 pairs) and its LSN. */
    private record Image(byte[] bytes, long lsn) {
    }

    private Image image() {
        try (Store store = Store.open(tmp.resolve("data"))) {
            for (int i = 0; i < 500; i++) {
                store.put(("key-" + i).getBytes(StandardCharsets.UTF_8), "v".repeat(200).getBytes(StandardCharsets.UTF_8));
            }
            try (Snapshot snap = store.snapshot(); InputStream in = snap.openStream()) {
                return new Image(in.readAllBytes(), snap.lsn());
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** A stand-in leader on {@code server} that answers one GET /snapshot with the image's first 50,000 bytes, then closes. */
    private static Thread cutLeader(ServerSocket server, Image image) {
        Thread leader = new Thread(() -> {
            try (Socket s = server.accept()) {
                InputStream in = s.getInputStream();
                ByteArrayOutputStream head = new ByteArrayOutputStream();
                while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
                    int b = in.read();
                    if (b < 0) {
                        return;
                    }
                    head.write(b);
                }
                OutputStream out = s.getOutputStream();
                out.write(("HTTP/1.1 200 OK\r\nContent-Length: " + image.bytes().length + "\r\n" + Headers.LSN + ": "
                        + Lsn.format(image.lsn()) + "\r\n" + Headers.DIGEST + ": " + "00".repeat(32) + "\r\n"
                        + Headers.DIGEST_PAIRS + ": 500\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
                out.write(image.bytes(), 0, 50_000);
                out.flush();
            } catch (IOException e) {
                // the client went away
            }
        }, "cut-leader");
        leader.start();
        return leader;
    }

    @Test
    void aCutSnapshotAnswerAtBootstrapIsAFailureNotAnIntegrityError() throws Exception {
        Image image = image();
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Thread leader = cutLeader(server, image);
            Exception e = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> assertThrows(Exception.class,
                    () -> Bootstrap.prepare(tmp.resolve("follower"), null, "http://127.0.0.1:" + server.getLocalPort())));
            leader.join(10_000);
            assertTrue(ErrorReporter.message(e).contains("cut off"), ErrorReporter.message(e));
            assertEquals(ExitCodes.FAILURE, ErrorReporter.exitCode(e), "a cut network answer is exit "
                    + ErrorReporter.exitCode(e) + " (" + e.getClass().getSimpleName() + "): " + ErrorReporter.message(e));
        }
    }

    /**
     * {@code backup --url} of a leader whose answer is cut off (under heavy writes: the leader abandoned the
     * snapshot past its before-image limit) is exit 1, and its error line names the leader's knob that raises
     * that limit, {@code --cache-size} (a quarter of it; the leader has no other).
     */
    @Test
    void backupUrlOfACutAnswerNamesTheLeadersCacheSize() throws Exception {
        Image image = image();
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Thread leader = cutLeader(server, image);
            CliRunner.Result r = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> CliRunner.run("backup",
                    "--url", "http://127.0.0.1:" + server.getLocalPort(), "--archive", "file://" + tmp.resolve("archive")));
            leader.join(10_000);
            assertEquals(ExitCodes.FAILURE, r.exit(), r.out() + r.err());
            String line = r.err().lines().findFirst().orElse("");
            assertTrue(line.startsWith("walship: error: ") && line.contains("cut off after")
                    && line.contains("before-image limit, a quarter of the leader's --cache-size; a larger --cache-size"),
                    r.err());
        }
    }
}
