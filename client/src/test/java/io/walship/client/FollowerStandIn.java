package io.walship.client;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.LongSupplier;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.walship.protocol.Headers;

/**
 * A stand-in for a follower, as the replication spec (issue 10, section 3) describes one: writes
 * are answered {@code 421} naming the leader in {@link Headers#LEADER}; a read with
 * {@code min_lsn} above the stand-in's applied LSN is answered {@code 503} with its LSN; any other
 * read is served by asking the real leader (whose state is at least as new). Tests can also make it
 * answer every request with a fixed status, require a bearer token, or lie. Records every request.
 * Listens on 127.0.0.1 only.
 */
public final class FollowerStandIn implements AutoCloseable {
    /** One request as the stand-in saw it. */
    public record Seen(String method, String path, Map<String, String> query, String authorization) {
    }

    /** Lets a test replace the answer to a read the stand-in would serve (e.g. to lie). */
    public interface ReadOverride {
        /** @return true if it answered the exchange itself */
        boolean answer(HttpExchange ex, Map<String, String> query, HttpResponse<byte[]> fromLeader) throws IOException;
    }

    private final HttpServer server;
    private final ExecutorService executor = Executors.newFixedThreadPool(16, r -> {
        Thread t = new Thread(r, "follower-stand-in");
        t.setDaemon(true);
        return t;
    });
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private final List<Seen> seen = new CopyOnWriteArrayList<>();
    private volatile String leaderUrl;
    private volatile LongSupplier applied = () -> Long.MAX_VALUE;
    private volatile int fixedStatus;
    private volatile String fixedBody = "";
    private volatile String requiredToken;
    private volatile ReadOverride override;

    /** @param leaderUrl the leader it names on 421 and reads from, or null (421 without a leader, no reads) */
    public FollowerStandIn(String leaderUrl) throws IOException {
        this.leaderUrl = leaderUrl;
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
        server.setExecutor(executor);
        server.createContext("/", this::handle);
        server.start();
    }

    public String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    public FollowerStandIn leader(String url) {
        this.leaderUrl = url;
        return this;
    }

    /** The LSN it pretends to have applied: a read with a higher min_lsn gets 503. */
    public FollowerStandIn applied(LongSupplier lsn) {
        this.applied = lsn;
        return this;
    }

    /** Answers every request with {@code status} and {@code body} (0: behave normally). */
    public FollowerStandIn answerAll(int status, String body) {
        this.fixedStatus = status;
        this.fixedBody = body;
        return this;
    }

    /** Requires {@code Authorization: Bearer token} on every request (401 otherwise). */
    public FollowerStandIn requireToken(String token) {
        this.requiredToken = token;
        return this;
    }

    public FollowerStandIn override(ReadOverride o) {
        this.override = o;
        return this;
    }

    public List<Seen> seen() {
        return new ArrayList<>(seen);
    }

    public long count(String method) {
        return seen.stream().filter(s -> s.method().equals(method)).count();
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            Map<String, String> query = query(ex.getRequestURI().getRawQuery());
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            seen.add(new Seen(ex.getRequestMethod(), ex.getRequestURI().getRawPath(), query, auth));
            try (InputStream in = ex.getRequestBody()) {
                in.readAllBytes();
            }
            if (requiredToken != null && !("Bearer " + requiredToken).equals(auth)) {
                send(ex, 401, "error: missing or wrong bearer token", null);
                return;
            }
            if (fixedStatus != 0) {
                send(ex, fixedStatus, fixedBody, null);
                return;
            }
            if (!ex.getRequestMethod().equals("GET")) {
                if (leaderUrl != null) {
                    ex.getResponseHeaders().set(Headers.LEADER, leaderUrl);
                }
                send(ex, 421, "error: this node is a follower; writes go to the leader"
                        + (leaderUrl == null ? "" : " at " + leaderUrl), null);
                return;
            }
            long at = applied.getAsLong();
            if (query.containsKey(WalshipClient.MIN_LSN) && Lsns.parse(query.get(WalshipClient.MIN_LSN)) > at) {
                send(ex, 503, "error: min_lsn " + query.get(WalshipClient.MIN_LSN) + " not reached within the read wait; applied "
                        + Lsns.format(at), at);
                return;
            }
            HttpResponse<byte[]> fromLeader;
            try {
                String raw = ex.getRequestURI().getRawQuery();
                fromLeader = http.send(HttpRequest.newBuilder(URI.create(leaderUrl + ex.getRequestURI().getRawPath()
                        + (raw == null ? "" : "?" + raw))).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                send(ex, 503, "error: interrupted", null);
                return;
            }
            ReadOverride o = override;
            if (o != null && o.answer(ex, query, fromLeader)) {
                return;
            }
            fromLeader.headers().firstValue(Headers.LSN).ifPresent(v -> ex.getResponseHeaders().set(Headers.LSN, v));
            sendBytes(ex, fromLeader.statusCode(), fromLeader.body());
        }
    }

    public static Map<String, String> query(String raw) {
        Map<String, String> out = new LinkedHashMap<>();
        if (raw == null) {
            return out;
        }
        for (String part : raw.split("&")) {
            int eq = part.indexOf('=');
            out.put(URLDecoder.decode(eq < 0 ? part : part.substring(0, eq), StandardCharsets.UTF_8),
                    URLDecoder.decode(eq < 0 ? "" : part.substring(eq + 1), StandardCharsets.UTF_8));
        }
        return out;
    }

    public static void send(HttpExchange ex, int status, String text, Long lsn) throws IOException {
        if (lsn != null) {
            ex.getResponseHeaders().set(Headers.LSN, Lsns.format(lsn));
        }
        sendBytes(ex, status, (text + "\n").getBytes(StandardCharsets.UTF_8));
    }

    public static void sendBytes(HttpExchange ex, int status, byte[] body) throws IOException {
        ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
