package io.walship.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import io.walship.protocol.Escaping;
import io.walship.protocol.KeyPaths;
import io.walship.wal.BatchTooLargeException;
import io.walship.wal.Faults;
import io.walship.wal.Store;
import io.walship.wal.StorageFullException;
import io.walship.wal.StoreFailedException;
import io.walship.wal.WriteBatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What each failure looks like over HTTP (README, "HTTP API"): 413 for a batch over the limits,
 * 507 for a full disk, 503 for a failed store (also in /status and /metrics), 400 only for bad
 * input, 500 for internal errors; /scan streams, honours limit=0 and takes byte-exact bounds.
 */
class HttpStatusTest {
    @TempDir
    Path tmp;
    private final HttpClient http = HttpClient.newHttpClient();

    private HttpResponse<String> send(String base, String method, String path, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path));
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static String base(LeaderServer s) {
        return "http://127.0.0.1:" + s.address().getPort();
    }

    @Test
    void failuresMapToTheirDocumentedStatuses() {
        assertEquals(413, HttpApi.statusOf(new BatchTooLargeException("too many")));
        assertEquals(507, HttpApi.statusOf(new StorageFullException("full", null)));
        assertEquals(503, HttpApi.statusOf(new StoreFailedException("sync failed", null)));
        assertEquals(400, HttpApi.statusOf(new io.walship.protocol.BadInputException("bad")));
        assertEquals(500, HttpApi.statusOf(new IllegalArgumentException("a bug, not the client's input")));
        assertEquals(500, HttpApi.statusOf(new IllegalStateException("a bug")));
        assertEquals(500, HttpApi.statusOf(new NullPointerException()));
    }

    @Test
    void aBatchOverTheLimitIs413AndWritesNothing() throws Exception {
        try (Store store = Store.open(tmp.resolve("d"));
             LeaderServer s = new LeaderServer(store, new InetSocketAddress("127.0.0.1", 0)).start()) {
            StringBuilder ops = new StringBuilder("{\"ops\":[");
            for (int i = 0; i <= WriteBatch.MAX_OPS; i++) {
                ops.append(i == 0 ? "" : ",").append("{\"op\":\"put\",\"key\":\"k").append(i).append("\",\"value\":\"v\"}");
            }
            HttpResponse<String> r = send(base(s), "POST", "/batch", ops.append("]}").toString());
            assertEquals(413, r.statusCode(), r.body());
            assertEquals(1, r.body().lines().count(), r.body());
            assertTrue(r.body().startsWith("error: a batch holds at most 10000 operations"), r.body());
            assertEquals(1, store.lastLsn(), "nothing of it was applied");
        }
    }

    @Test
    void aFullDiskIs507AndWritesWorkAgainOnceThereIsRoom() throws Exception {
        try (Faults f = new Faults(tmp.resolve("d"));
             LeaderServer s = new LeaderServer(f.store, new InetSocketAddress("127.0.0.1", 0)).start()) {
            String base = base(s);
            assertEquals(200, send(base, "PUT", "/kv/before", "v").statusCode());
            f.diskFull(true);
            HttpResponse<String> r = null;
            String value = "x".repeat(1000);
            for (int i = 0; i < 1_000; i++) { // batches of 500 KB until the WAL needs space it cannot have
                StringBuilder ops = new StringBuilder("{\"ops\":[");
                for (int j = 0; j < 500; j++) {
                    ops.append(j == 0 ? "" : ",").append("{\"op\":\"put\",\"key\":\"k").append(i).append('-').append(j)
                            .append("\",\"value\":\"").append(value).append("\"}");
                }
                r = send(base, "POST", "/batch?durability=async", ops.append("]}").toString());
                if (r.statusCode() != 200) {
                    break;
                }
            }
            assertNotNull(r);
            assertEquals(507, r.statusCode(), r.body());
            assertTrue(r.body().startsWith("error: no space for the WAL"), r.body());
            HttpResponse<String> status = send(base, "GET", "/status", null);
            assertEquals(200, status.statusCode(), "a full disk does not stop the store");
            assertTrue(status.body().contains("\"failed\":false"), status.body());
            f.diskFull(false);
            assertEquals(200, send(base, "PUT", "/kv/after", "v").statusCode());
            assertEquals("v", send(base, "GET", "/kv/before", null).body());
        }
    }

    @Test
    void aFailedStoreAnswers503AndSaysSoInStatusAndMetrics() throws Exception {
        try (Faults f = new Faults(tmp.resolve("d"));
             LeaderServer s = new LeaderServer(f.store, new InetSocketAddress("127.0.0.1", 0)).start()) {
            String base = base(s);
            assertEquals(200, send(base, "PUT", "/kv/a", "1").statusCode());
            HttpResponse<String> healthy = send(base, "GET", "/status", null);
            assertEquals(200, healthy.statusCode());
            assertTrue(healthy.body().contains("\"failed\":false") && !healthy.body().contains("\"failure\""),
                    healthy.body());
            f.failSyncs();
            HttpResponse<String> put = send(base, "PUT", "/kv/b", "2");
            assertEquals(503, put.statusCode(), put.body());
            HttpResponse<String> again = send(base, "PUT", "/kv/c", "3");
            assertEquals(503, again.statusCode(), again.body());
            assertTrue(again.body().startsWith("error: ") && again.body().contains("injected EIO"), again.body());
            assertEquals(503, send(base, "GET", "/kv/a", null).statusCode(), "a failed store answers no reads either");
            HttpResponse<String> status = send(base, "GET", "/status", null);
            assertEquals(503, status.statusCode(), status.body());
            assertTrue(status.body().contains("\"failed\":true,\"failure\":\"") && status.body().contains("injected EIO"),
                    status.body());
            assertTrue(send(base, "GET", "/metrics", null).body().contains("walship_store_failed 1.0"));
        }
    }

    @Test
    void scanStreamsHonoursLimitZeroAndTakesByteExactBounds() throws Exception {
        try (Store store = Store.open(tmp.resolve("d"));
             LeaderServer s = new LeaderServer(store, new InetSocketAddress("127.0.0.1", 0)).start()) {
            String base = base(s);
            byte[][] keys = {utf8("a"), utf8("é1"), utf8("é2"), {(byte) 0xFF, 0x01}, {(byte) 0xFF, 0x02}, utf8("z")};
            for (byte[] k : keys) {
                store.put(k, utf8("v"));
            }
            assertEquals("", send(base, "GET", "/scan?limit=0", null).body(), "limit=0 is no pairs");
            assertEquals(1, send(base, "GET", "/scan?limit=1", null).body().lines().count());
            assertEquals(400, send(base, "GET", "/scan?limit=-1", null).statusCode());
            assertEquals(400, send(base, "GET", "/scan?limit=x", null).statusCode());
            // (a malformed %-escape never gets here: the JDK's URI parser refuses it; DecodingFuzzTest covers it)
            // non-ASCII UTF-8 bounds and bounds that are not UTF-8 at all select exactly their keys
            HttpResponse<String> utf = send(base, "GET", "/scan?from=" + KeyPaths.encode(utf8("é1"))
                    + "&to=" + KeyPaths.encode(utf8("é2")), null);
            assertEquals(Escaping.pair(utf8("é1"), utf8("v")) + "\n", utf.body());
            HttpResponse<String> raw = send(base, "GET", "/scan?from=%FF%02", null);
            assertEquals(Escaping.pair(keys[4], utf8("v")) + "\n", raw.body(), "0xFF 0x02 and up: the last key");

            // a big answer arrives as a stream (chunked, no length), line by line
            for (int i = 0; i < 20_000; i += 1000) {
                WriteBatch b = new WriteBatch();
                for (int j = i; j < i + 1000; j++) {
                    b.put(utf8(String.format("m%06d", j)), utf8("x".repeat(500)));
                }
                store.write(b);
            }
            HttpResponse<InputStream> r = http.send(HttpRequest.newBuilder(URI.create(base + "/scan")).build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            assertEquals(200, r.statusCode());
            assertFalse(r.headers().firstValue("Content-Length").isPresent(), "streamed, not sized up front");
            long lines = 0;
            try (BufferedReader br = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                while (br.readLine() != null) {
                    lines++;
                }
            }
            assertEquals(keys.length + 20_000, lines);
        }
    }

    /**
     * A client that sends a key's UTF-8 bytes raw in the path ({@code PUT /kv/é} without
     * percent-encoding) must get 400, not a write under other bytes: the JDK server reads the
     * request line byte by byte as ISO-8859-1, so decoding its characters as UTF-8 stored
     * {@code C3 83 C2 A9} for {@code é}, a key no properly encoded request ever names.
     */
    @Test
    void rawNonAsciiBytesInThePathAreBadInputNotAnotherKey() throws Exception {
        try (Store store = Store.open(tmp.resolve("d"));
             LeaderServer s = new LeaderServer(store, new InetSocketAddress("127.0.0.1", 0)).start()) {
            String statusLine;
            try (java.net.Socket sock = new java.net.Socket("127.0.0.1", s.address().getPort())) {
                sock.setSoTimeout(60_000); // a hung server fails the test instead of hanging it
                java.io.ByteArrayOutputStream req = new java.io.ByteArrayOutputStream();
                req.writeBytes("PUT /kv/".getBytes(StandardCharsets.US_ASCII));
                req.writeBytes(utf8("é"));
                req.writeBytes(("?durability=durable HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\n"
                        + "Connection: close\r\n\r\nv").getBytes(StandardCharsets.US_ASCII));
                sock.getOutputStream().write(req.toByteArray());
                sock.getOutputStream().flush();
                statusLine = new BufferedReader(new InputStreamReader(sock.getInputStream(), StandardCharsets.ISO_8859_1))
                        .readLine();
            }
            assertNotNull(statusLine);
            java.util.List<String> keys = new java.util.ArrayList<>();
            store.scan(null, null, (k, v) -> keys.add(java.util.HexFormat.of().formatHex(k)) || true);
            assertEquals(java.util.List.of(), keys, "nothing written: " + statusLine);
            assertTrue(statusLine.startsWith("HTTP/1.1 400"), statusLine);
        }
    }

    /**
     * A scan that fails after its head was sent (here its snapshot is abandoned for age while the
     * client reads slowly) must reach the client as a broken answer, never as a short one that
     * ends cleanly and looks complete.
     */
    @Test
    void aScanThatFailsMidAnswerIsABrokenAnswerNotAShortOne() throws Exception {
        java.util.concurrent.atomic.AtomicReference<java.time.Instant> now =
                new java.util.concurrent.atomic.AtomicReference<>(java.time.Instant.parse("2026-01-01T00:00:00Z"));
        java.time.Clock clock = new java.time.Clock() {
            @Override
            public java.time.ZoneId getZone() {
                return java.time.ZoneOffset.UTC;
            }

            @Override
            public java.time.Clock withZone(java.time.ZoneId zone) {
                return this;
            }

            @Override
            public java.time.Instant instant() {
                return now.get();
            }
        };
        int n = 200_000;
        try (Store store = Store.open(tmp.resolve("d"), io.walship.wal.StoreOptions.defaults()
                .withSnapshotLimits(0, java.time.Duration.ofMinutes(1)).withClock(clock));
             LeaderServer s = new LeaderServer(store, new InetSocketAddress("127.0.0.1", 0)).start()) {
            for (int i = 0; i < n; i += 1000) {
                WriteBatch b = new WriteBatch();
                for (int j = i; j < i + 1000; j++) {
                    b.put(utf8(String.format("k%07d", j)), utf8("x".repeat(200)));
                }
                store.write(b);
            }
            HttpResponse<InputStream> r = http.send(HttpRequest.newBuilder(URI.create(base(s) + "/scan")).build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            assertEquals(200, r.statusCode());
            long lines = 0;
            Exception broke = null;
            try (BufferedReader br = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                assertNotNull(br.readLine());
                lines++;
                now.set(now.get().plus(java.time.Duration.ofMinutes(5))); // the snapshot is now too old
                while (br.readLine() != null) {
                    lines++;
                }
            } catch (java.io.IOException e) {
                broke = e;
            }
            assertTrue(lines < n, "the walk was cut short: " + lines);
            assertNotNull(broke, "a scan cut short after " + lines + " of " + n + " lines ended cleanly");
        }
    }

    /** A query parameter given twice is ambiguous: 400, and a write does not happen under either value. */
    @Test
    void aRepeatedQueryParameterIsBadInput() throws Exception {
        try (Store store = Store.open(tmp.resolve("d"));
             LeaderServer s = new LeaderServer(store, new InetSocketAddress("127.0.0.1", 0)).start()) {
            String base = base(s);
            HttpResponse<String> put = send(base, "PUT", "/kv/k?durability=async&durability=durable", "v");
            assertEquals(400, put.statusCode(), put.body());
            assertTrue(put.body().contains("'durability' is given more than once"), put.body());
            assertEquals(null, store.get(utf8("k")));
            assertEquals(400, send(base, "GET", "/scan?limit=1&limit=2", null).statusCode());
            // every read endpoint answers a bad query with 400, not a dropped connection
            assertEquals(400, send(base, "GET", "/kv/k?min_lsn=1&min_lsn=2", null).statusCode());
            assertEquals(400, send(base, "GET", "/digest?min_lsn=1&min_lsn=1", null).statusCode());
            assertEquals(200, send(base, "PUT", "/kv/k?durability=async", "v").statusCode());
        }
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
