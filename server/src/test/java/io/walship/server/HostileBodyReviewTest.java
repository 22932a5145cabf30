package io.walship.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

import io.walship.wal.Store;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Review of branch httpfast: hostile request framing end to end, over both transports. */
class HostileBodyReviewTest {
    @TempDir
    Path tmp;

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    /** Sends head+body, optionally half-closes, returns everything the server answered until it closes. */
    private static String exchange(LeaderServer s, byte[] head, byte[] body, boolean halfClose) throws IOException {
        try (Socket sock = new Socket("127.0.0.1", s.address().getPort())) {
            sock.setSoTimeout(60_000);
            OutputStream out = sock.getOutputStream();
            out.write(head);
            out.write(body);
            out.flush();
            if (halfClose) {
                sock.shutdownOutput();
            }
            InputStream in = sock.getInputStream();
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            byte[] buf = new byte[8192];
            try {
                for (int n; (n = in.read(buf)) >= 0; ) {
                    got.write(buf, 0, n);
                }
            } catch (IOException e) {
                got.write(ascii("<" + e + ">"));
            }
            return got.toString(StandardCharsets.ISO_8859_1);
        }
    }

    private static byte[] put(String key, String headers) {
        return ascii("PUT /kv/" + key + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + headers + "\r\n");
    }

    /** A client that announces 10 bytes, sends 5 and stops sending: nothing stored, no 200. */
    @ParameterizedTest
    @ValueSource(strings = {"jetty", "jdk"})
    void aBodyShorterThanItsLengthIsNeverStored(String transport) throws Exception {
        try (Store store = Store.open(tmp.resolve(transport)); LeaderServer s = HttpTransportTest.leader(store, transport)) {
            for (int announced : new int[] {10, 65536, 65537, 4 << 20}) {
                String key = "short" + announced;
                String answer = exchange(s, put(key, "Content-Length: " + announced + "\r\n"), ascii("hello"), true);
                System.out.println(transport + " announced " + announced + " sent 5: " + answer.lines().findFirst().orElse("(nothing)"));
                assertTrue(!answer.startsWith("HTTP/1.1 200"), answer);
                assertNull(store.get(ascii(key)), transport + ": a 5-byte prefix of a " + announced + "-byte body was stored");
                if (transport.equals("jetty")) { // the JDK server drops the connection instead
                    assertTrue(answer.startsWith("HTTP/1.1 400") && answer.contains("error: the request body ended before its"
                            + " Content-Length of " + announced + " bytes: nothing was written"), "a client error, said so: " + answer);
                }
            }
        }
    }

    /** A chunked body cut before its last chunk (half-close): nothing stored; Jetty says so in a 400. */
    @ParameterizedTest
    @ValueSource(strings = {"jetty", "jdk"})
    void aChunkedBodyCutBeforeItsLastChunkIsNeverStored(String transport) throws Exception {
        try (Store store = Store.open(tmp.resolve(transport)); LeaderServer s = HttpTransportTest.leader(store, transport)) {
            String answer = exchange(s, put("chunkcut", "Transfer-Encoding: chunked\r\n"), ascii("5\r\nhello\r\n"), true);
            System.out.println(transport + " chunked, cut: " + answer.lines().findFirst().orElse("(nothing)"));
            assertTrue(!answer.startsWith("HTTP/1.1 200"), answer);
            assertNull(store.get(ascii("chunkcut")), transport + ": a cut chunked body was stored");
            if (transport.equals("jetty")) {
                assertTrue(answer.startsWith("HTTP/1.1 400")
                        && answer.contains("error: the request body ended before its last chunk: nothing was written"), answer);
            }
        }
    }

    /** A batch of one put, its JSON padded with spaces to exactly {@code size} bytes. */
    private static byte[] batchOf(String key, String value, int size) {
        String json = "{\"ops\":[{\"op\":\"put\",\"key\":\"" + key + "\",\"value\":\"" + value + "\"}]}";
        byte[] b = new byte[size];
        Arrays.fill(b, (byte) ' ');
        byte[] j = ascii(json);
        System.arraycopy(j, 0, b, 0, j.length);
        return b;
    }

    /** Values at the 1 KiB value limit, and batch bodies around 64 KiB and at the 4 MiB limit, with a true length. */
    @ParameterizedTest
    @ValueSource(strings = {"jetty", "jdk"})
    void bodiesAtTheEdgesAreStoredWhole(String transport) throws Exception {
        long seed = System.nanoTime();
        System.out.println("HostileBodyReviewTest seed " + seed);
        SplittableRandom r = new SplittableRandom(seed);
        try (Store store = Store.open(tmp.resolve(transport)); LeaderServer s = HttpTransportTest.leader(store, transport)) {
            for (int n : new int[] {1, 1023, 1024}) {
                byte[] v = new byte[n];
                r.nextBytes(v);
                String answer = exchange(s, put("edge" + n, "Content-Length: " + n + "\r\n"), v, false);
                assertTrue(answer.startsWith("HTTP/1.1 200"), transport + " " + n + ": " + answer.lines().findFirst().orElse(""));
                assertArrayEquals(v, store.get(ascii("edge" + n)), transport + " " + n);
            }
            int pre = HttpApi.PRESIZED_BODY;
            for (int n : new int[] {pre - 1, pre, pre + 1, HttpApi.MAX_BODY, HttpApi.MAX_BODY + 1}) {
                String v = "v" + n;
                byte[] body = batchOf("b" + n, v, n);
                String answer = exchange(s, ascii("POST /batch HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                        + "Content-Length: " + n + "\r\n\r\n"), body, false);
                System.out.println(transport + " batch " + n + ": " + answer.lines().findFirst().orElse("(nothing)"));
                if (n > HttpApi.MAX_BODY) {
                    assertTrue(answer.startsWith("HTTP/1.1 413"), answer);
                    assertNull(store.get(ascii("b" + n)));
                } else {
                    assertTrue(answer.startsWith("HTTP/1.1 200"), transport + " " + n + ": " + answer);
                    assertEquals(v, new String(store.get(ascii("b" + n)), StandardCharsets.ISO_8859_1));
                }
            }
        }
    }

    /** A batch that announces n bytes and is cut (half-close) before its end: nothing applied. */
    @ParameterizedTest
    @ValueSource(strings = {"jetty", "jdk"})
    void aCutBatchIsNeverApplied(String transport) throws Exception {
        try (Store store = Store.open(tmp.resolve(transport)); LeaderServer s = HttpTransportTest.leader(store, transport)) {
            for (int n : new int[] {100, HttpApi.PRESIZED_BODY, HttpApi.PRESIZED_BODY + 1}) {
                byte[] body = batchOf("cut" + n, "v", n);
                // the JSON is complete within its first bytes: only the padding is missing
                byte[] sent = Arrays.copyOf(body, 60);
                String answer = exchange(s, ascii("POST /batch HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                        + "Content-Length: " + n + "\r\n\r\n"), sent, true);
                System.out.println(transport + " cut batch " + n + ": " + answer.lines().findFirst().orElse("(nothing)"));
                assertTrue(!answer.startsWith("HTTP/1.1 200"), answer);
                assertNull(store.get(ascii("cut" + n)), transport + ": a cut batch was applied");
                if (transport.equals("jetty")) {
                    assertTrue(answer.startsWith("HTTP/1.1 400") && answer.contains("error: the request body ended before its"
                            + " Content-Length of " + n + " bytes"), "a client error, said so: " + answer);
                }
            }
        }
    }

    /** A Content-Length lower than what follows: only the announced bytes are the value. */
    @ParameterizedTest
    @ValueSource(strings = {"jetty", "jdk"})
    void aLengthLowerThanTheBodyTakesTheAnnouncedBytes(String transport) throws Exception {
        try (Store store = Store.open(tmp.resolve(transport)); LeaderServer s = HttpTransportTest.leader(store, transport)) {
            String answer = exchange(s, put("low", "Content-Length: 3\r\n"), ascii("abcdef"), true);
            assertTrue(answer.startsWith("HTTP/1.1 200"), answer);
            assertEquals("abc", new String(store.get(ascii("low")), StandardCharsets.ISO_8859_1));
        }
    }

    /** Chunked with a lying Content-Length, duplicate/negative/overflowing lengths: never a partial or mixed value. */
    @ParameterizedTest
    @ValueSource(strings = {"jetty", "jdk"})
    void hostileFramingNeverStoresAWrongValue(String transport) throws Exception {
        try (Store store = Store.open(tmp.resolve(transport)); LeaderServer s = HttpTransportTest.leader(store, transport)) {
            String chunkedBody = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
            String[][] cases = {
                    {"te1", "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", chunkedBody},
                    {"te2", "Content-Length: 65536\r\nTransfer-Encoding: chunked\r\n", chunkedBody},
                    {"te3", "Transfer-Encoding: chunked\r\n", chunkedBody},
                    {"dup1", "Content-Length: 5\r\nContent-Length: 5\r\n", "hello"},
                    {"dup2", "Content-Length: 3\r\nContent-Length: 5\r\n", "hello"},
                    {"dup3", "Content-Length: 5, 5\r\n", "hello"},
                    {"neg", "Content-Length: -1\r\n", "hello"},
                    {"plus", "Content-Length: +5\r\n", "hello"},
                    {"big", "Content-Length: 99999999999999999999\r\n", "hello"},
                    {"max", "Content-Length: 9223372036854775807\r\n", "hello"},
            };
            for (String[] c : cases) {
                String answer = exchange(s, put(c[0], c[1]), ascii(c[2]), true);
                byte[] v = store.get(ascii(c[0]));
                System.out.println(transport + " " + c[0] + ": " + answer.lines().findFirst().orElse("(nothing)")
                        + " stored " + (v == null ? "nothing" : "'" + new String(v, StandardCharsets.ISO_8859_1) + "'"));
                if (answer.startsWith("HTTP/1.1 200")) {
                    String expected = c[0].startsWith("te") ? "hello world" : c[0].equals("dup2") ? null : "hello";
                    assertEquals(expected, v == null ? null : new String(v, StandardCharsets.ISO_8859_1), transport + " " + c[0]);
                } else {
                    assertNull(v, transport + " " + c[0] + " not 200 but stored " + Arrays.toString(v));
                }
            }
        }
    }

    /** Prints the raw answers of a PUT, a DELETE and a batch (Date masked) to compare with the base commit's. */
    @ParameterizedTest
    @ValueSource(strings = {"jetty", "jdk"})
    void rawWriteAnswers(String transport) throws Exception {
        try (Store store = Store.open(tmp.resolve(transport)); LeaderServer s = HttpTransportTest.leader(store, transport)) {
            for (int i = 0; i < 20; i++) { // LSNs past 0x10
                exchange(s, put("w" + i, "Content-Length: 1\r\n"), ascii("v"), false);
            }
            String[] answers = {
                    exchange(s, put("a", "Content-Length: 1\r\n"), ascii("v"), false),
                    exchange(s, ascii("DELETE /kv/a?durability=async HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"), new byte[0], false),
                    exchange(s, ascii("POST /batch HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 40\r\n\r\n"),
                            ascii("{\"ops\":[{\"op\":\"delete\",\"key\":\"zz\"}]}    "), false),
            };
            for (String a : answers) {
                System.out.println("RAW " + transport + " " + a.replaceAll("(?m)^Date: .*$", "Date: X").replace("\r", "\\r").replace("\n", "\\n"));
            }
        }
    }

    /**
     * A keep-alive client that sends exactly its announced body in small flushed pieces and then waits
     * (no close) is answered at once: the check that the body ends there must not wait for more bytes.
     */
    @ParameterizedTest
    @ValueSource(strings = {"jetty", "jdk"})
    void anExactBodyOnAKeptAliveConnectionIsAnsweredWithoutWaiting(String transport) throws Exception {
        try (Store store = Store.open(tmp.resolve(transport)); LeaderServer s = HttpTransportTest.leader(store, transport);
             Socket sock = new Socket("127.0.0.1", s.address().getPort())) {
            sock.setSoTimeout(60_000);
            sock.setTcpNoDelay(true);
            OutputStream out = sock.getOutputStream();
            InputStream in = sock.getInputStream();
            for (int n : new int[] {100, HttpApi.PRESIZED_BODY, HttpApi.PRESIZED_BODY + 1}) {
                byte[] body = batchOf("ka" + n, "v", n);
                long start = System.nanoTime();
                out.write(ascii("POST /batch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + n + "\r\n\r\n"));
                for (int off = 0; off < n; off += 997) {
                    out.write(body, off, Math.min(997, n - off));
                    out.flush();
                }
                HttpServerReviewTest.Answer a = HttpServerReviewTest.read(in);
                long ms = (System.nanoTime() - start) / 1_000_000;
                System.out.println(transport + " kept-alive batch " + n + ": " + (a == null ? "(nothing)" : a.status()) + " in " + ms + " ms");
                assertTrue(a != null && a.status().startsWith("HTTP/1.1 200"), String.valueOf(a));
                assertTrue(ms < 15_000, "answered only after " + ms + " ms (the idle timeout is 30 s)");
                assertEquals("v", new String(store.get(ascii("ka" + n)), StandardCharsets.ISO_8859_1));
            }
        }
    }
}
