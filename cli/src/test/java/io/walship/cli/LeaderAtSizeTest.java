package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.walship.protocol.DigestResponse;
import io.walship.protocol.Headers;
import io.walship.protocol.Json;
import io.walship.wal.ChildJvm;
import io.walship.wal.Lsn;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import io.walship.wal.WriteBatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The leader's reads at a size larger than its cache and its heap, in its own process: a store
 * with a 64 MiB {@code pages.dat}, served by {@code walship leader} with {@code -Xmx64m} and an
 * 8 MiB page cache, answers {@code /digest}, a full {@code /scan} (about 30 MB of text) and a
 * {@code /snapshot} download correctly and without an OutOfMemoryError (a scan that built its
 * answer in memory needed about twice the answer). The same run at 1 GB is in docs/BENCHMARKS.md.
 */
class LeaderAtSizeTest {
    @TempDir
    Path tmp;

    @Test
    void digestScanAndSnapshotOfAStoreLargerThanTheHeap() throws Exception {
        Path data = tmp.resolve("data");
        int keys = 0;
        StateDigest expected;
        try (Store store = Store.open(data)) {
            String value = "v".repeat(900);
            while (Files.size(data.resolve("pages.dat")) < 64L << 20) {
                WriteBatch b = new WriteBatch();
                for (int j = 0; j < 2000; j++, keys++) {
                    b.put(String.format("k%010d", keys).getBytes(StandardCharsets.UTF_8),
                            (value + keys).getBytes(StandardCharsets.UTF_8));
                }
                store.write(b);
            }
            expected = store.digest();
        }
        Path log = tmp.resolve("leader.err");
        Path portFile = tmp.resolve("port");
        Process p = ChildJvm.start(Main.class, List.of("-Xmx64m"), List.of("leader", "--data", data.toString(),
                "--http", "127.0.0.1:0", "--port-file", portFile.toString(), "--cache-size", "8MiB"), log);
        try {
            String url = "http://127.0.0.1:" + LeaderProcessTest.awaitPort(p, portFile, log);
            HttpClient http = HttpClient.newHttpClient();

            HttpResponse<byte[]> d = http.send(HttpRequest.newBuilder(URI.create(url + "/digest")).build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(200, d.statusCode(), new String(d.body(), StandardCharsets.UTF_8));
            DigestResponse digest = Json.read(d.body(), DigestResponse.class);
            assertEquals(expected.sha256(), digest.sha256());
            assertEquals(keys, digest.pairs());

            HttpResponse<InputStream> scan = http.send(HttpRequest.newBuilder(URI.create(url + "/scan")).build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            assertEquals(200, scan.statusCode());
            long lines = 0;
            long bytes = 0;
            try (InputStream in = scan.body()) {
                byte[] buf = new byte[1 << 16];
                for (int n; (n = in.read(buf)) > 0; ) {
                    bytes += n;
                    for (int i = 0; i < n; i++) {
                        if (buf[i] == '\n') {
                            lines++;
                        }
                    }
                }
            }
            assertEquals(keys, lines, "every pair, streamed");
            assertTrue(bytes > 30L << 20, "a scan answer of " + bytes + " bytes, about half the heap or more");

            HttpResponse<InputStream> snap = http.send(HttpRequest.newBuilder(URI.create(url + "/snapshot")).build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            assertEquals(200, snap.statusCode());
            assertEquals(expected.sha256(), snap.headers().firstValue(Headers.DIGEST).orElseThrow());
            assertEquals(Lsn.format(expected.lsn()), snap.headers().firstValue(Headers.LSN).orElseThrow());
            long image = 0;
            try (InputStream in = snap.body()) {
                byte[] buf = new byte[1 << 16];
                for (int n; (n = in.read(buf)) > 0; ) {
                    image += n;
                }
            }
            assertEquals(Long.parseLong(snap.headers().firstValue("Content-Length").orElseThrow()), image);
            assertTrue(image >= 64L << 20, "the whole image: " + image + " bytes");

            HttpResponse<String> status = http.send(HttpRequest.newBuilder(URI.create(url + "/status")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertTrue(status.body().contains("\"capacityBytes\":8388608"), status.body());
            assertTrue(status.body().contains("\"failed\":false"), status.body());
        } finally {
            p.destroy();
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "leader did not stop");
        }
        String err = Files.readString(log);
        assertFalse(err.contains("OutOfMemoryError"), err);
        assertEquals(0, p.exitValue(), err);
    }
}
