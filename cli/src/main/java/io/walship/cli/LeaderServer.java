package io.walship.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.walship.wal.BTree;
import io.walship.wal.Durability;
import io.walship.wal.IntegrityException;
import io.walship.wal.Lsn;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import io.walship.wal.WriteBatch;

/**
 * The leader's HTTP API (README, "HTTP API"): {@code /kv/{key}}, {@code /batch}, {@code /scan},
 * {@code /digest}, {@code /status}, {@code /metrics}. Writes answer with their commit LSN,
 * reads carry {@code Walship-LSN}; a bad request gets a 4xx and a one-line reason.
 * Thread-safe: requests run on a pool so concurrent commits share WAL syncs.
 */
final class LeaderServer implements AutoCloseable {
    static final String LSN_HEADER = io.walship.shipper.LeaderClient.LSN_HEADER;
    static final String DIGEST_HEADER = io.walship.shipper.LeaderClient.DIGEST_HEADER;
    static final String DIGEST_PAIRS_HEADER = io.walship.shipper.LeaderClient.DIGEST_PAIRS_HEADER;
    private static final int MAX_BODY = 4 << 20;

    private final Store store;
    private final ArchiveShipping shipping;
    private final LeaderMetrics metrics;
    private final HttpServer server;
    private final ExecutorService executor;

    LeaderServer(Store store, InetSocketAddress address) throws IOException {
        this(store, address, null);
    }

    LeaderServer(Store store, InetSocketAddress address, ArchiveShipping shipping) throws IOException {
        this.store = store;
        this.shipping = shipping;
        this.metrics = new LeaderMetrics(store);
        // Without TCP_NODELAY a small response waits for the client's delayed ACK (~40 ms).
        System.setProperty("sun.net.httpserver.nodelay", "true");
        this.server = HttpServer.create(address, 256);
        this.executor = Executors.newFixedThreadPool(64, r -> {
            Thread t = new Thread(r, "walship-http");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        server.createContext("/kv/", ex -> handle(ex, this::kv));
        server.createContext("/batch", ex -> handle(ex, this::batch));
        server.createContext("/scan", ex -> handle(ex, this::scan));
        server.createContext("/digest", ex -> handle(ex, this::digest));
        server.createContext("/status", ex -> handle(ex, this::status));
        server.createContext("/snapshot", ex -> handle(ex, this::snapshot));
        server.createContext("/metrics", ex -> handle(ex, this::metrics));
        server.createContext("/", ex -> handle(ex, e -> {
            throw new HttpError(404, "no such endpoint: " + e.getRequestURI().getPath());
        }));
    }

    LeaderServer start() {
        server.start();
        return this;
    }

    InetSocketAddress address() {
        return server.getAddress();
    }

    /** An error answered with its status and a one-line reason. */
    static final class HttpError extends RuntimeException {
        final int status;

        HttpError(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    @FunctionalInterface
    private interface Handler {
        void handle(HttpExchange ex) throws IOException;
    }

    private void handle(HttpExchange ex, Handler h) {
        try (ex) {
            try {
                h.handle(ex);
            } catch (HttpError e) {
                text(ex, e.status, "error: " + e.getMessage());
            } catch (IllegalArgumentException e) {
                text(ex, 400, "error: " + e.getMessage());
            } catch (IntegrityException e) {
                text(ex, 500, "integrity error: " + e.getMessage());
            } catch (RuntimeException e) {
                text(ex, 503, "error: " + ErrorReporter.message(e));
            }
        } catch (IOException ignored) {
            // the client went away
        }
    }

    // ---- endpoints --------------------------------------------------------------------------

    private void kv(HttpExchange ex) throws IOException {
        byte[] key = pathKey(ex);
        switch (ex.getRequestMethod()) {
            case "GET" -> {
                Store.Read r = store.read(key);
                ex.getResponseHeaders().set(LSN_HEADER, Lsn.format(r.lsn()));
                if (r.value() == null) {
                    text(ex, 404, "not found");
                } else {
                    send(ex, 200, "application/octet-stream", r.value());
                }
            }
            case "PUT", "POST" -> {
                byte[] value = body(ex);
                long start = System.nanoTime();
                long lsn = store.put(key, value, durability(ex));
                written(ex, lsn, start);
            }
            case "DELETE" -> {
                long start = System.nanoTime();
                long lsn = store.delete(key, durability(ex));
                written(ex, lsn, start);
            }
            default -> throw new HttpError(405, "method " + ex.getRequestMethod() + " not allowed on /kv/{key}");
        }
    }

    private void batch(HttpExchange ex) throws IOException {
        requireMethod(ex, "POST");
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(body(ex));
        } catch (IOException e) {
            throw new HttpError(400, "batch body is not JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
        JsonNode ops = root == null ? null : root.get("ops");
        if (ops == null || !ops.isArray() || ops.isEmpty()) {
            throw new HttpError(400, "batch needs a non-empty \"ops\" array");
        }
        WriteBatch batch = new WriteBatch();
        for (JsonNode op : ops) {
            String kind = op.path("op").asText("");
            byte[] key = bytesField(op, "key");
            switch (kind) {
                case "put" -> batch.put(key, bytesField(op, "value"));
                case "delete" -> batch.delete(key);
                default -> throw new HttpError(400, "batch op must be \"put\" or \"delete\", got \"" + kind + "\"");
            }
        }
        long start = System.nanoTime();
        written(ex, store.write(batch, durability(ex)), start);
    }

    private void scan(HttpExchange ex) throws IOException {
        requireMethod(ex, "GET");
        Map<String, String> q = query(ex);
        byte[] from = q.containsKey("from") ? q.get("from").getBytes(StandardCharsets.UTF_8) : null;
        byte[] to = q.containsKey("to") ? q.get("to").getBytes(StandardCharsets.UTF_8) : null;
        long limit = q.containsKey("limit") ? Long.parseLong(q.get("limit")) : Long.MAX_VALUE;
        StringBuilder sb = new StringBuilder();
        long[] n = {0};
        BTree.Visitor v = (k, val) -> {
            sb.append(Escaping.escape(k)).append('\t').append(Escaping.escape(val)).append('\n');
            return ++n[0] < limit;
        };
        long lsn = store.scan(from, to, v);
        ex.getResponseHeaders().set(LSN_HEADER, Lsn.format(lsn));
        send(ex, 200, "text/tab-separated-values; charset=utf-8", sb.toString().getBytes(StandardCharsets.UTF_8));
    }

    private void digest(HttpExchange ex) throws IOException {
        requireMethod(ex, "GET");
        StateDigest d = store.digest();
        ex.getResponseHeaders().set(LSN_HEADER, Lsn.format(d.lsn()));
        json(ex, 200, Map.of("lsn", Lsn.format(d.lsn()), "pairs", d.pairs(), "sha256", d.sha256()));
    }

    /**
     * A point-in-time image of the store for a base backup, with the state digest at its LSN in
     * the headers (computed on the same snapshot first). Writers go on meanwhile.
     */
    private void snapshot(HttpExchange ex) throws IOException {
        requireMethod(ex, "GET");
        try (Snapshot snap = store.snapshot()) {
            StateDigest d = StateDigest.of(snap.pages(), snap.lsn());
            ex.getResponseHeaders().set(LSN_HEADER, Lsn.format(snap.lsn()));
            ex.getResponseHeaders().set(DIGEST_HEADER, d.sha256());
            ex.getResponseHeaders().set(DIGEST_PAIRS_HEADER, Long.toString(d.pairs()));
            ex.getResponseHeaders().set("Content-Type", "application/octet-stream");
            ex.sendResponseHeaders(200, snap.imageSize());
            try (OutputStream out = ex.getResponseBody(); InputStream in = snap.openStream()) {
                in.transferTo(out);
            }
        }
    }

    private void status(HttpExchange ex) throws IOException {
        requireMethod(ex, "GET");
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("role", store.standby() ? "standby" : "leader"); // a restored standby serves reads only
        s.put("systemId", Long.toHexString(store.systemId()));
        s.put("timeline", store.timeline());
        s.put("lastLsn", Lsn.format(store.lastLsn()));
        s.put("durableLsn", Lsn.format(store.durableLsn()));
        s.put("checkpointLsn", Lsn.format(store.checkpointLsn()));
        s.put("dataDir", store.dir().toString());
        s.put("archiveLagBytes", store.stats().archiveLagBytes());
        s.put("archiveLagLsns", store.stats().archiveLagLsns());
        if (shipping != null) {
            Map<String, Object> a = new LinkedHashMap<>();
            a.put("archive", shipping.describe());
            a.put("archivedUpTo", Lsn.format(shipping.archivedUpTo()));
            a.put("lagLsns", Math.max(0, store.lastLsn() - shipping.archivedUpTo()));
            a.put("lastError", shipping.lastError());
            s.put("archive", a);
        }
        json(ex, 200, s);
    }

    private void metrics(HttpExchange ex) throws IOException {
        requireMethod(ex, "GET");
        send(ex, 200, "text/plain; version=0.0.4; charset=utf-8", metrics.scrape().getBytes(StandardCharsets.UTF_8));
    }

    // ---- helpers ----------------------------------------------------------------------------

    private void written(HttpExchange ex, long lsn, long startNanos) throws IOException {
        metrics.commitLatency().record(System.nanoTime() - startNanos, TimeUnit.NANOSECONDS);
        ex.getResponseHeaders().set(LSN_HEADER, Lsn.format(lsn));
        json(ex, 200, Map.of("lsn", Lsn.format(lsn)));
    }

    private static Durability durability(HttpExchange ex) {
        String d = query(ex).getOrDefault("durability", "durable");
        return switch (d) {
            case "durable" -> Durability.DURABLE;
            case "async" -> Durability.ASYNC;
            default -> throw new HttpError(400, "durability must be durable or async, got '" + d + "'");
        };
    }

    private static byte[] pathKey(HttpExchange ex) {
        String raw = ex.getRequestURI().getRawPath().substring("/kv/".length());
        if (raw.isEmpty()) {
            throw new HttpError(400, "missing key: use /kv/{key}");
        }
        return percentDecode(raw);
    }

    /** Percent-decoding of a path segment ('+' stays '+'). */
    static byte[] percentDecode(String raw) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(raw.length());
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c == '%') {
                if (i + 2 >= raw.length()) {
                    throw new HttpError(400, "bad percent-encoding in key");
                }
                try {
                    out.write(Integer.parseInt(raw.substring(i + 1, i + 3), 16));
                } catch (NumberFormatException e) {
                    throw new HttpError(400, "bad percent-encoding in key");
                }
                i += 2;
            } else {
                byte[] b = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
                out.write(b, 0, b.length);
            }
        }
        return out.toByteArray();
    }

    private static byte[] bytesField(JsonNode op, String name) {
        JsonNode text = op.get(name);
        JsonNode b64 = op.get(name + "Base64");
        if (text != null && text.isTextual()) {
            return text.asText().getBytes(StandardCharsets.UTF_8);
        }
        if (b64 != null && b64.isTextual()) {
            try {
                return Base64.getDecoder().decode(b64.asText());
            } catch (IllegalArgumentException e) {
                throw new HttpError(400, "\"" + name + "Base64\" is not base64");
            }
        }
        throw new HttpError(400, "batch op needs \"" + name + "\" (text) or \"" + name + "Base64\"");
    }

    private static Map<String, String> query(HttpExchange ex) {
        Map<String, String> out = new LinkedHashMap<>();
        String q = ex.getRequestURI().getRawQuery();
        if (q == null) {
            return out;
        }
        for (String part : q.split("&")) {
            int eq = part.indexOf('=');
            String k = eq < 0 ? part : part.substring(0, eq);
            String v = eq < 0 ? "" : part.substring(eq + 1);
            out.put(URLDecoder.decode(k, StandardCharsets.UTF_8), URLDecoder.decode(v, StandardCharsets.UTF_8));
        }
        return out;
    }

    private static void requireMethod(HttpExchange ex, String method) {
        if (!ex.getRequestMethod().equals(method)) {
            throw new HttpError(405, "method " + ex.getRequestMethod() + " not allowed on "
                    + ex.getRequestURI().getPath() + " (use " + method + ")");
        }
    }

    private static byte[] body(HttpExchange ex) throws IOException {
        try (InputStream in = ex.getRequestBody()) {
            byte[] b = in.readNBytes(MAX_BODY + 1);
            if (b.length > MAX_BODY) {
                throw new HttpError(413, "request body over " + MAX_BODY + " bytes");
            }
            return b;
        }
    }

    private static void json(HttpExchange ex, int status, Object body) throws IOException {
        send(ex, status, "application/json", (Json.write(body) + "\n").getBytes(StandardCharsets.UTF_8));
    }

    private static void text(HttpExchange ex, int status, String line) throws IOException {
        send(ex, status, "text/plain; charset=utf-8", (line + "\n").getBytes(StandardCharsets.UTF_8));
    }

    private static void send(HttpExchange ex, int status, String type, byte[] body) throws IOException {
        ex.getResponseHeaders().set("Content-Type", type);
        ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
    }

    /** Stops accepting requests, lets running ones finish (up to 2 s). */
    @Override
    public void close() {
        server.stop(2);
        executor.shutdown();
        try {
            executor.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
