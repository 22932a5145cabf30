package io.walship.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import io.walship.protocol.KeyPaths;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What the HTTP server under the {@link HttpApi} must do whichever it is ({@link HttpTransport}):
 * keys that look like path tricks are keys, an oversized body is a readable 413; and what only
 * Jetty (the default) does: clients that never finish their request head do not take the threads
 * other requests need.
 */
class HttpTransportTest {
    @TempDir
    Path tmp;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(30)).build();

    /** A leader on 127.0.0.1 served by {@code transport} ({@code jetty} or {@code jdk}). */
    static LeaderServer leader(Store store, String transport) throws Exception {
        String before = System.getProperty(HttpTransport.PROPERTY);
        System.setProperty(HttpTransport.PROPERTY, transport);
        try {
            return new LeaderServer(store, new InetSocketAddress("127.0.0.1", 0)).start();
        } finally {
            if (before == null) {
                System.clearProperty(HttpTransport.PROPERTY);
            } else {
                System.setProperty(HttpTransport.PROPERTY, before);
            }
        }
    }

    private HttpResponse<String> send(LeaderServer s, String method, String path, HttpRequest.BodyPublisher body)
            throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.address().getPort() + path))
                .timeout(Duration.ofSeconds(60)).method(method, body).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** {@code %2F}, {@code %2E%2E}, {@code %00}, {@code %3F}: bytes of a key, not separators, parents or ends. */
    @ParameterizedTest
    @ValueSource(strings = {"jetty", "jdk"})
    void keysThatLookLikePathTricksAreKeys(String transport) throws Exception {
        try (Store store = Store.open(tmp.resolve(transport)); LeaderServer s = leader(store, transport)) {
            byte[][] keys = {utf8("a/b"), utf8(".."), utf8("../x"), {0, 1}, utf8("q?x=1"), utf8("100%"), utf8("é")};
            for (int i = 0; i < keys.length; i++) {
                HttpResponse<String> put = send(s, "PUT", "/kv/" + KeyPaths.encode(keys[i]),
                        HttpRequest.BodyPublishers.ofString("v" + i));
                assertEquals(200, put.statusCode(), transport + " " + KeyPaths.encode(keys[i]) + ": " + put.body());
            }
            for (int i = 0; i < keys.length; i++) {
                assertEquals("v" + i, new String(store.get(keys[i]), StandardCharsets.UTF_8));
                assertEquals("v" + i, send(s, "GET", "/kv/" + KeyPaths.encode(keys[i]),
                        HttpRequest.BodyPublishers.noBody()).body());
            }
            assertEquals(404, send(s, "GET", "/nothing", HttpRequest.BodyPublishers.noBody()).statusCode());
            assertEquals(405, send(s, "PATCH", "/kv/k", HttpRequest.BodyPublishers.ofString("v")).statusCode());
        }
    }

    /** A body over 4 MiB is answered 413 with its one line, and nothing is written. */
    @ParameterizedTest
    @ValueSource(strings = {"jetty", "jdk"})
    void anOversizedBodyIsAReadable413(String transport) throws Exception {
        try (Store store = Store.open(tmp.resolve(transport)); LeaderServer s = leader(store, transport)) {
            byte[] body = new byte[(4 << 20) + 1];
            HttpResponse<String> r = send(s, "POST", "/batch", HttpRequest.BodyPublishers.ofByteArray(body));
            assertEquals(413, r.statusCode(), r.body());
            assertEquals("error: request body over 4194304 bytes\n", r.body());
            assertEquals(1, store.lastLsn(), "nothing written");
            assertEquals(200, send(s, "PUT", "/kv/k", HttpRequest.BodyPublishers.ofString("v")).statusCode());
        }
    }

    /**
     * 200 clients that send half a request head and then nothing (slowloris) must not stop a
     * write and a read: Jetty parses heads on its selector, so a stalled head holds a connection,
     * not a thread. (The JDK server reads a head on one of its 64 request threads and has no
     * deadline for it: the same clients take every thread and the write waits until they go.)
     */
    @Test
    void clientsThatNeverFinishTheirHeadDoNotStarveOthers() throws Exception {
        try (Store store = Store.open(tmp.resolve("d")); LeaderServer s = leader(store, "jetty")) {
            List<Socket> stalled = new ArrayList<>();
            try {
                for (int i = 0; i < 200; i++) {
                    Socket sock = new Socket("127.0.0.1", s.address().getPort());
                    OutputStream out = sock.getOutputStream();
                    out.write(("PUT /kv/stalled" + i + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
                            .getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    stalled.add(sock);
                }
                long start = System.nanoTime();
                assertEquals(200, send(s, "PUT", "/kv/k", HttpRequest.BodyPublishers.ofString("v")).statusCode());
                assertEquals("v", send(s, "GET", "/kv/k", HttpRequest.BodyPublishers.noBody()).body());
                long ms = (System.nanoTime() - start) / 1_000_000;
                assertTrue(ms < 20_000, "a write and a read took " + ms + " ms beside 200 stalled heads");
                // a stalled client that finally finishes is served too
                Socket first = stalled.get(0);
                first.setSoTimeout(60_000);
                first.getOutputStream().write("ngth: 1\r\nConnection: close\r\n\r\nx".getBytes(StandardCharsets.US_ASCII));
                first.getOutputStream().flush();
                String status = new BufferedReader(new InputStreamReader(first.getInputStream(),
                        StandardCharsets.ISO_8859_1)).readLine();
                assertTrue(status != null && status.startsWith("HTTP/1.1 200"), String.valueOf(status));
            } finally {
                for (Socket sock : stalled) {
                    sock.close();
                }
            }
        }
    }

    /**
     * An answer given before the request's body has arrived (here a 405, as a 401 or 503 is) says
     * {@code Connection: close}: Jetty drops such a connection after the answer, and a client that
     * was not told would send its next request on it and get no answer (seen as a flaky "header
     * parser received no bytes" after 401s on a loaded machine).
     */
    @Test
    void anAnswerBeforeTheBodyArrivedClosesTheConnectionAndSaysSo() throws Exception {
        try (Store store = Store.open(tmp.resolve("e")); LeaderServer s = leader(store, "jetty");
             Socket sock = new Socket("127.0.0.1", s.address().getPort())) {
            sock.setSoTimeout(60_000);
            OutputStream out = sock.getOutputStream();
            out.write("PATCH /kv/k HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII)); // the body never comes
            out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(sock.getInputStream(), StandardCharsets.ISO_8859_1));
            String status = in.readLine();
            assertTrue(status != null && status.startsWith("HTTP/1.1 405"), String.valueOf(status));
            List<String> head = new ArrayList<>();
            for (String line = in.readLine(); line != null && !line.isEmpty(); line = in.readLine()) {
                head.add(line.toLowerCase(java.util.Locale.ROOT));
            }
            assertTrue(head.contains("connection: close"), "the answer's head: " + head);
        }
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
