package io.walship.shipper;

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

import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.protocol.Headers;
import io.walship.wal.Lsn;
import io.walship.wal.Snapshot;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code walship backup --url} of a leader whose {@code GET /snapshot} answer stops short (the leader abandoned
 * the snapshot past its before-image limit, a quarter of its cache, under a heavy write load; or it died): the
 * one-line error was "reading or compressing the snapshot failed: closed" (the JDK client's word), the byte
 * counts and the leader's part only in the --stacktrace causes. Found end to end: a 370 MB store's backup under
 * 60-op batches, the scheduler's status repeating "failed: closed". The error must say the leader's answer was
 * cut off, and name the size the leader announced.
 */
class LeaderSnapshotCutMessageTest {
    @TempDir
    Path tmp;

    @Test
    void aSnapshotAnswerCutOffSaysSoInItsOneLine() throws Exception {
        byte[] image;
        long lsn;
        try (Store store = Store.open(tmp.resolve("data"))) {
            for (int i = 0; i < 500; i++) {
                store.put(("key-" + i).getBytes(StandardCharsets.UTF_8), "v".repeat(200).getBytes(StandardCharsets.UTF_8));
            }
            try (Snapshot snap = store.snapshot(); InputStream in = snap.openStream()) {
                image = in.readAllBytes();
                lsn = snap.lsn();
            }
        }
        assertTrue(image.length > 100_000, "an image of " + image.length + " bytes");
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"))) {
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
                    out.write(("HTTP/1.1 200 OK\r\nContent-Length: " + image.length + "\r\n" + Headers.LSN + ": "
                            + Lsn.format(lsn) + "\r\n" + Headers.DIGEST + ": " + "00".repeat(32) + "\r\n"
                            + Headers.DIGEST_PAIRS + ": 500\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
                    out.write(image, 0, 50_000);
                    out.flush();
                } catch (IOException e) {
                    // the client went away: the test's assertion says what happened
                }
            }, "cut-leader");
            leader.start();
            LeaderClient client = new LeaderClient("http://127.0.0.1:" + server.getLocalPort());
            IOException e = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> assertThrows(IOException.class,
                    () -> client.backup(archive, Codec.ZSTD, n -> x -> { })));
            String m = e.getMessage();
            assertTrue(m.contains("GET /snapshot") && m.contains("cut off"), m);
            assertTrue(m.contains(String.valueOf(image.length)), "names the size the leader announced: " + m);
            assertTrue(m.contains("a quarter of the leader's --cache-size; a larger --cache-size"),
                    "names the leader's knob that raises the before-image limit: " + m);
            leader.join(10_000);
        }
    }
}
