package io.walship.server;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.walship.protocol.AuthToken;
import io.walship.protocol.BatchRequest;
import io.walship.protocol.DigestResponse;
import io.walship.protocol.Endpoints;
import io.walship.protocol.Escaping;
import io.walship.protocol.Headers;
import io.walship.protocol.Json;
import io.walship.protocol.KeyPaths;
import io.walship.protocol.WriteResponse;
import io.walship.wal.BTree;
import io.walship.wal.Durability;
import io.walship.wal.Errors;
import io.walship.wal.IntegrityException;
import io.walship.wal.Lsn;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import io.walship.wal.WriteBatch;

/**
 * The one HTTP API of a walship node (README, "HTTP API"): it routes {@code /kv/{key}},
 * {@code /batch}, {@code /scan}, {@code /digest}, {@code /snapshot}, {@code /status} and
 * {@code /metrics} ({@link Endpoints}) to a {@link Node} and knows nothing of roles. Writes answer
 * with their commit LSN, reads carry {@link Headers#LSN}; a bad request gets a 4xx and a one-line
 * reason, a node that cannot answer a 503.
 *
 * <p>Thread-safe: requests run on a pool of 64 threads, so concurrent commits share WAL syncs. A
 * read that waits for an LSN ({@code min_lsn}) does not keep one of them: it is parked in
 * {@link ReadWaits} (at most {@value #MAX_WAITING_READS} at once) and answered by one of its
 * {@value #READ_WAIT_THREADS} threads when the LSN is applied or its wait is over. A write to a
 * follower is answered 421 with the leader's URL ({@link NotLeaderException}).
 */
public final class HttpApi implements AutoCloseable {
    private static final int MAX_BODY = 4 << 20;
    /** Reads that may wait for an LSN at once, and the threads that answer them once woken. */
    static final int MAX_WAITING_READS = 4_096;
    static final int READ_WAIT_THREADS = 4;

    private final Node node;
    private final HttpServer server;
    private final ExecutorService executor;
    private final ReadWaits waits;
    private final Store.Registration appliedListener;
    private final AuthToken writeToken;

    /** Binds {@code address} (port 0: any free port) but serves nothing until {@link #start}. */
    public HttpApi(Node node, InetSocketAddress address) throws IOException {
        this(node, address, null);
    }

    /**
     * Binds {@code address} (port 0: any free port) but serves nothing until {@link #start}.
     *
     * @param writeToken if not null, every write ({@code PUT}/{@code POST}/{@code DELETE /kv/{key}},
     *                   {@code POST /batch}) needs {@code Authorization: Bearer <token>} and gets 401
     *                   without it; reads stay open
     */
    public HttpApi(Node node, InetSocketAddress address, AuthToken writeToken) throws IOException {
        this.node = node;
        this.writeToken = writeToken;
        // Without TCP_NODELAY a small response waits for the client's delayed ACK (~40 ms).
        System.setProperty("sun.net.httpserver.nodelay", "true");
        this.server = HttpServer.create(address, 256);
        this.executor = Executors.newFixedThreadPool(64, r -> {
            Thread t = new Thread(r, "walship-http");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        this.waits = new ReadWaits(MAX_WAITING_READS, READ_WAIT_THREADS, node::appliedLsn);
        this.appliedListener = node.onApplied(waits::applied);
        server.createContext(Endpoints.KV, ex -> {
            if (ex.getRequestMethod().equals("GET")) {
                read(ex, this::kv);
            } else {
                handle(ex, this::kv);
            }
        });
        server.createContext(Endpoints.BATCH, ex -> handle(ex, this::batch));
        server.createContext(Endpoints.SCAN, ex -> read(ex, this::scan));
        server.createContext(Endpoints.DIGEST, ex -> read(ex, this::digest));
        server.createContext(Endpoints.STATUS, ex -> handle(ex, this::status));
        server.createContext(Endpoints.SNAPSHOT, ex -> handle(ex, this::snapshot));
        server.createContext(Endpoints.METRICS, ex -> handle(ex, this::metrics));
        server.createContext("/", ex -> handle(ex, e -> {
            throw new HttpError(404, "no such endpoint: " + e.getRequestURI().getPath());
        }));
    }

    public HttpApi start() {
        server.start();
        return this;
    }

    /** Where it listens (the actual port if it was given port 0). */
    public InetSocketAddress address() {
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
            } catch (NotLeaderException e) {
                ex.getResponseHeaders().set(Headers.LEADER, e.leader());
                text(ex, 421, "error: " + e.getMessage());
            } catch (IllegalArgumentException e) {
                text(ex, 400, "error: " + e.getMessage());
            } catch (IntegrityException e) {
                text(ex, 500, "integrity error: " + e.getMessage());
            } catch (RuntimeException e) {
                text(ex, 503, "error: " + Errors.oneLine(e));
            }
        } catch (IOException ignored) {
            // the client went away
        }
    }

    /**
     * A read ({@code GET /kv/{key}}, {@code /scan}, {@code /digest}). Without {@code min_lsn} it is
     * answered at once, unless the node says it is too far behind (503). With {@code min_lsn=N}
     * it is answered at once if the node has applied N; otherwise it is parked in {@link ReadWaits}
     * — this HTTP thread returns to serve other requests — and answered when the node applies N, or
     * with 503 and the current LSN once {@link Node#readWait()} has passed.
     */
    private void read(HttpExchange ex, Handler h) {
        String raw = query(ex).get(Endpoints.MIN_LSN);
        if (raw == null) {
            String why = node.notReadable();
            if (why != null) {
                handle(ex, e -> {
                    e.getResponseHeaders().set(Headers.LSN, Lsn.format(node.appliedLsn()));
                    throw new HttpError(503, why);
                });
            } else {
                handle(ex, h);
            }
            return;
        }
        long min;
        try {
            min = Lsn.parse(raw);
        } catch (IllegalArgumentException e) {
            handle(ex, x -> {
                throw new HttpError(400, Endpoints.MIN_LSN + ": " + e.getMessage());
            });
            return;
        }
        if (node.appliedLsn() >= min) {
            handle(ex, h);
            return;
        }
        long waitNanos = node.readWait().toNanos();
        Handler tooLate = e -> {
            long now = node.appliedLsn();
            e.getResponseHeaders().set(Headers.LSN, Lsn.format(now));
            throw new HttpError(503, "this node has applied up to LSN " + Lsn.format(now) + ", not yet "
                    + Endpoints.MIN_LSN + " " + Lsn.format(min) + " (waited " + node.readWait().toMillis() + " ms)");
        };
        if (waitNanos <= 0) {
            handle(ex, tooLate);
        } else if (!waits.await(min, waitNanos, () -> handle(ex, h), () -> handle(ex, tooLate))) {
            handle(ex, e -> {
                e.getResponseHeaders().set(Headers.LSN, Lsn.format(node.appliedLsn()));
                throw new HttpError(503, MAX_WAITING_READS + " reads are already waiting for an LSN; try again later");
            });
        }
    }

    // ---- endpoints --------------------------------------------------------------------------

    private void kv(HttpExchange ex) throws IOException {
        byte[] key = pathKey(ex);
        switch (ex.getRequestMethod()) {
            case "GET" -> {
                Store.Read r = node.store().read(key);
                ex.getResponseHeaders().set(Headers.LSN, Lsn.format(r.lsn()));
                if (r.value() == null) {
                    text(ex, 404, "not found");
                } else {
                    send(ex, 200, "application/octet-stream", r.value());
                }
            }
            case "PUT", "POST" -> {
                authorizeWrite(ex);
                byte[] value = body(ex);
                written(ex, node.put(key, value, durability(ex)));
            }
            case "DELETE" -> {
                authorizeWrite(ex);
                written(ex, node.delete(key, durability(ex)));
            }
            default -> throw new HttpError(405, "method " + ex.getRequestMethod() + " not allowed on /kv/{key}");
        }
    }

    private void batch(HttpExchange ex) throws IOException {
        requireMethod(ex, "POST");
        authorizeWrite(ex);
        BatchRequest request;
        try {
            request = Json.read(body(ex), BatchRequest.class);
        } catch (IOException e) {
            throw new HttpError(400, "batch body is not a JSON batch: " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (request == null) {
            throw new HttpError(400, "batch body is empty");
        }
        WriteBatch batch = new WriteBatch();
        for (BatchRequest.Op op : request.checkedOps()) {
            if (op.deletes()) {
                batch.delete(op.keyBytes());
            } else {
                batch.put(op.keyBytes(), op.valueBytes());
            }
        }
        written(ex, node.write(batch, durability(ex)));
    }

    private void scan(HttpExchange ex) throws IOException {
        requireMethod(ex, "GET");
        Map<String, String> q = query(ex);
        byte[] from = q.containsKey(Endpoints.FROM) ? q.get(Endpoints.FROM).getBytes(StandardCharsets.UTF_8) : null;
        byte[] to = q.containsKey(Endpoints.TO) ? q.get(Endpoints.TO).getBytes(StandardCharsets.UTF_8) : null;
        long limit = q.containsKey(Endpoints.LIMIT) ? Long.parseLong(q.get(Endpoints.LIMIT)) : Long.MAX_VALUE;
        StringBuilder sb = new StringBuilder();
        long[] n = {0};
        BTree.Visitor v = (k, val) -> {
            sb.append(Escaping.pair(k, val)).append('\n');
            return ++n[0] < limit;
        };
        long lsn = node.store().scan(from, to, v);
        ex.getResponseHeaders().set(Headers.LSN, Lsn.format(lsn));
        send(ex, 200, "text/tab-separated-values; charset=utf-8", sb.toString().getBytes(StandardCharsets.UTF_8));
    }

    private void digest(HttpExchange ex) throws IOException {
        requireMethod(ex, "GET");
        StateDigest d = node.store().digest();
        ex.getResponseHeaders().set(Headers.LSN, Lsn.format(d.lsn()));
        json(ex, 200, new DigestResponse(Lsn.format(d.lsn()), d.pairs(), d.sha256()));
    }

    /**
     * A point-in-time image of the store for a base backup, with the state digest at its LSN in
     * the headers (computed on the same snapshot first). Writers go on meanwhile.
     */
    private void snapshot(HttpExchange ex) throws IOException {
        requireMethod(ex, "GET");
        try (Snapshot snap = node.store().snapshot()) {
            StateDigest d = StateDigest.of(snap.pages(), snap.lsn());
            ex.getResponseHeaders().set(Headers.LSN, Lsn.format(snap.lsn()));
            ex.getResponseHeaders().set(Headers.DIGEST, d.sha256());
            ex.getResponseHeaders().set(Headers.DIGEST_PAIRS, Long.toString(d.pairs()));
            ex.getResponseHeaders().set("Content-Type", "application/octet-stream");
            ex.sendResponseHeaders(200, snap.imageSize());
            try (OutputStream out = ex.getResponseBody(); InputStream in = snap.openStream()) {
                in.transferTo(out);
            }
        }
    }

    private void status(HttpExchange ex) throws IOException {
        requireMethod(ex, "GET");
        json(ex, 200, node.status());
    }

    private void metrics(HttpExchange ex) throws IOException {
        requireMethod(ex, "GET");
        send(ex, 200, "text/plain; version=0.0.4; charset=utf-8", node.metrics().getBytes(StandardCharsets.UTF_8));
    }

    // ---- helpers ----------------------------------------------------------------------------

    /** With a write token: 401 unless the request carries {@code Authorization: Bearer <token>}. */
    private void authorizeWrite(HttpExchange ex) {
        if (writeToken == null) {
            return;
        }
        if (!writeToken.matchesHeader(ex.getRequestHeaders().getFirst(Headers.AUTHORIZATION))) {
            ex.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"walship\"");
            throw new HttpError(401, ex.getRequestHeaders().containsKey(Headers.AUTHORIZATION)
                    ? "the Authorization header does not carry this node's token"
                    : "writes need 'Authorization: Bearer <token>' (the node runs with --auth-token-file)");
        }
    }

    private static void written(HttpExchange ex, long lsn) throws IOException {
        ex.getResponseHeaders().set(Headers.LSN, Lsn.format(lsn));
        json(ex, 200, new WriteResponse(Lsn.format(lsn)));
    }

    private static Durability durability(HttpExchange ex) {
        String d = query(ex).getOrDefault(Endpoints.DURABILITY, "durable");
        return switch (d) {
            case "durable" -> Durability.DURABLE;
            case "async" -> Durability.ASYNC;
            default -> throw new HttpError(400, "durability must be durable or async, got '" + d + "'");
        };
    }

    private static byte[] pathKey(HttpExchange ex) {
        String raw = ex.getRequestURI().getRawPath().substring(Endpoints.KV.length());
        if (raw.isEmpty()) {
            throw new HttpError(400, "missing key: use /kv/{key}");
        }
        return KeyPaths.decode(raw);
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

    /** Test hook: reads parked waiting for an LSN. */
    int waitingReadsForTesting() {
        return waits.waiting();
    }

    /** Stops accepting requests, lets running ones finish (up to 2 s). */
    @Override
    public void close() {
        appliedListener.close();
        waits.close();
        server.stop(2);
        executor.shutdown();
        try {
            executor.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
