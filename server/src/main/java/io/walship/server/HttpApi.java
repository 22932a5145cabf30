package io.walship.server;

import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

import javax.net.ssl.SSLContext;

import io.walship.protocol.AuthToken;
import io.walship.protocol.BadInputException;
import io.walship.protocol.BatchRequest;
import io.walship.protocol.DigestResponse;
import io.walship.protocol.Endpoints;
import io.walship.protocol.Escaping;
import io.walship.protocol.Headers;
import io.walship.protocol.Json;
import io.walship.protocol.KeyPaths;
import io.walship.protocol.StatusResponse;
import io.walship.protocol.tls.Tls;
import io.walship.wal.BTree;
import io.walship.wal.BatchTooLargeException;
import io.walship.wal.Durability;
import io.walship.wal.Errors;
import io.walship.wal.IntegrityException;
import io.walship.wal.Lsn;
import io.walship.wal.ReadLsn;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.StorageFullException;
import io.walship.wal.Store;
import io.walship.wal.WalshipException;
import io.walship.wal.WriteBatch;

/**
 * The one HTTP API of a walship node (README, "HTTP API"): it routes {@code /kv/{key}},
 * {@code /batch}, {@code /scan}, {@code /digest}, {@code /snapshot}, {@code /status},
 * {@code /metrics}, {@code /wal} and {@code /promote} ({@link Endpoints}) to a {@link Node} and
 * knows nothing of roles (a {@link SwitchingNode} changes them behind it). Writes answer
 * with their commit LSN, reads carry {@link Headers#LSN}; a bad request gets a 4xx and a one-line
 * reason, a node that cannot answer a 503.
 *
 * <p>Thread-safe. The HTTP server under it is an {@link HttpTransport}: Jetty 12 by default, the
 * JDK's {@code com.sun.net.httpserver} with {@code -Dwalship.http.server=jdk}. A request runs on one
 * of the server's pool threads (up to {@value JettyTransport#MAX_THREADS}; the JDK's: {@value
 * JdkTransport#THREADS}) from its head to its answer, so concurrent commits share WAL syncs. A
 * read that waits for an LSN ({@code min_lsn}) does not keep one of them: it is parked in
 * {@link ReadWaits} (at most {@value #MAX_WAITING_READS} at once) and answered by one of its
 * {@value #READ_WAIT_THREADS} threads when the LSN is applied or its wait is over. A write to a
 * follower is answered 421 with the leader's URL ({@link NotLeaderException}).
 */
public final class HttpApi implements AutoCloseable {
    static final int MAX_BODY = 4 << 20;
    /** A body of an announced length up to this is read into one array of its size ({@link #readBody}). */
    static final int PRESIZED_BODY = 64 << 10;
    private static final long MAX_DRAIN = 64L << 20;
    /** Reads that may wait for an LSN at once, and the threads that answer them once woken. */
    static final int MAX_WAITING_READS = 4_096;
    static final int READ_WAIT_THREADS = 4;
    /** A scan answer held back at most this long before it is streamed (see {@link ScanAnswer}). */
    static final int SCAN_BUFFER = 1 << 20;

    private final Node node;
    private final HttpTransport server;
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
        this(node, address, writeToken, null);
    }

    /**
     * Binds {@code address} (port 0: any free port) but serves nothing until {@link #start}.
     *
     * @param writeToken as in {@link #HttpApi(Node, InetSocketAddress, AuthToken)}, or null
     * @param tls        if not null, serve HTTPS with this context ({@code --tls-cert}/{@code --tls-key},
     *                   {@link Tls#serverContext}; TLS 1.3 and 1.2 only); a plain-HTTP request to it
     *                   fails its own connection only
     */
    public HttpApi(Node node, InetSocketAddress address, AuthToken writeToken, SSLContext tls) throws IOException {
        this.node = node;
        this.writeToken = writeToken;
        this.waits = new ReadWaits(MAX_WAITING_READS, READ_WAIT_THREADS, node::appliedLsn);
        this.appliedListener = node.onApplied(waits::applied);
        try {
            this.server = HttpTransport.bind(address, tls, this::dispatch);
        } catch (IOException | RuntimeException e) {
            appliedListener.close();
            waits.close();
            throw e;
        }
    }

    /**
     * Routes a request by its path's prefix (as the JDK server's contexts did: {@code /kv/} and
     * everything under it, {@code /batch}, ...).
     */
    private void dispatch(Exchange ex) {
        String path = ex.rawPath();
        if (path.startsWith(Endpoints.KV)) {
            if (ex.method().equals("GET")) {
                read(ex, this::kv);
            } else {
                handle(ex, this::kv);
            }
        } else if (path.startsWith(Endpoints.BATCH)) {
            handle(ex, this::batch);
        } else if (path.startsWith(Endpoints.SCAN)) {
            read(ex, this::scan);
        } else if (path.startsWith(Endpoints.DIGEST)) {
            read(ex, this::digest);
        } else if (path.startsWith(Endpoints.STATUS)) {
            handle(ex, this::status);
        } else if (path.startsWith(Endpoints.SNAPSHOT)) {
            handle(ex, lsnOn503(this::snapshot));
        } else if (path.startsWith(Endpoints.METRICS)) {
            handle(ex, this::metrics);
        } else if (path.startsWith(Endpoints.PROMOTE)) {
            handle(ex, this::promote);
        } else if (path.startsWith(Endpoints.WAL)) {
            handle(ex, this::wal);
        } else {
            handle(ex, e -> {
                throw new HttpError(404, "no such endpoint: " + e.rawPath());
            });
        }
    }

    public HttpApi start() {
        server.start();
        return this;
    }

    /** Where it listens (the actual port if it was given port 0). */
    public InetSocketAddress address() {
        return server.address();
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
        void handle(Exchange ex) throws IOException;
    }

    /**
     * Runs one request and maps what it throws to a status and a one-line reason (README, "HTTP
     * API"): {@link BadInputException} 400, {@link BatchTooLargeException} 413,
     * {@link StorageFullException} 507, {@link StoreFailedException} and other refusals of the store
     * (closed, standby, archive too far behind) 503, {@link NotLeaderException} (a write on a
     * follower) 421 with the leader in {@code Walship-Leader}, {@link IntegrityException} and anything else
     * (a bug) 500. A failure after the answer's head was sent cannot change its status: the
     * connection is dropped without ending the body, so the client sees a broken answer, never a
     * short one that looks complete.
     */
    private void handle(Exchange ex, Handler h) {
        try {
            h.handle(ex);
        } catch (AbortedAnswer e) {
            ex.abort(e); // the connection is dropped without a last chunk
            return;
        } catch (IOException e) {
            // the client went away
        } catch (RuntimeException e) {
            int status = statusOf(e);
            try {
                if (e instanceof NotLeaderException n) {
                    ex.header(Headers.LEADER, n.leader());
                }
                if (e instanceof WriteRefusedException w) {
                    ex.header(Headers.COMMITTED, "no");
                    if (w.leader() != null) {
                        ex.header(Headers.LEADER, w.leader());
                    }
                }
                text(ex, status, status != 500 ? "error: " + Errors.oneLine(e)
                        : e instanceof IntegrityException ? "integrity error: " + Errors.oneLine(e)
                        : "internal error: " + e.getClass().getSimpleName() + ": " + Errors.oneLine(e));
            } catch (IOException ignored) {
                // the client went away
            }
        }
        ex.close();
    }

    /** The status a failure is answered with (see {@link #handle}). */
    static int statusOf(Throwable e) {
        if (e instanceof HttpError h) {
            return h.status;
        }
        if (e instanceof BadInputException) {
            return 400;
        }
        if (e instanceof NotLeaderException) {
            return 421;
        }
        if (e instanceof ConflictException) {
            return 409;
        }
        if (e instanceof BatchTooLargeException) {
            return 413;
        }
        if (e instanceof StorageFullException) {
            return 507;
        }
        if (e instanceof IntegrityException) {
            return 500;
        }
        if (e instanceof WalshipException) {
            return 503; // failed (StoreFailedException), closed, standby, archive lag, snapshot abandoned
        }
        return 500;
    }

    /** Thrown once an answer's head is out: the connection must be dropped, not the answer ended. */
    private static final class AbortedAnswer extends RuntimeException {
        AbortedAnswer(Throwable cause) {
            super(cause);
        }
    }

    /**
     * A read ({@code GET /kv/{key}}, {@code /scan}, {@code /digest}). Without {@code min_lsn} it is
     * answered at once, unless the node says it is too far behind (503). With {@code min_lsn=N}
     * it is answered at once if the node has applied N; otherwise it is parked in {@link ReadWaits}
     * — this HTTP thread returns to serve other requests — and answered when the node applies N, or
     * with 503 and the current LSN once {@link Node#readWait()} has passed.
     */
    private void read(Exchange ex, Handler endpoint) {
        Handler h = lsnOn503(endpoint);
        Map<String, byte[]> q;
        try {
            q = query(ex);
        } catch (BadInputException e) {
            // outside handle() it would reach the JDK server, which drops the connection unanswered
            handle(ex, x -> {
                throw e;
            });
            return;
        }
        byte[] rawBytes = q.get(Endpoints.MIN_LSN);
        String raw = rawBytes == null ? null : new String(rawBytes, StandardCharsets.UTF_8);
        if (raw == null) {
            String why = node.notReadable();
            if (why != null) {
                handle(ex, e -> {
                    e.header(Headers.LSN, Lsn.format(node.shownLsn()));
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
            if (min < 0) { // 8000000000000000 and up in hex: past any LSN, and negative in the comparisons below
                throw new IllegalArgumentException("LSN " + raw.trim() + " is past the largest LSN a store can reach ("
                        + Lsn.format(Long.MAX_VALUE) + ")");
            }
        } catch (IllegalArgumentException e) {
            handle(ex, x -> {
                throw new HttpError(400, Endpoints.MIN_LSN + ": " + e.getMessage());
            });
            return;
        }
        ex.minLsn(min);
        if (node.appliedLsn() >= min) {
            handle(ex, h);
            return;
        }
        long waitNanos = node.readWait().toNanos();
        Handler tooLate = e -> {
            // what the node may show: on a leader its commit point, never a commit still waiting
            // for its sync or its acks (those are not there for readers yet)
            long now = node.shownLsn();
            e.header(Headers.LSN, Lsn.format(now));
            throw new HttpError(503, "this node has applied up to LSN " + Lsn.format(now) + ", not yet "
                    + Endpoints.MIN_LSN + " " + Lsn.format(min) + " (waited " + node.readWait().toMillis() + " ms)");
        };
        if (waitNanos <= 0) {
            handle(ex, tooLate);
        } else if (!waits.await(min, waitNanos, () -> handle(ex, h), () -> handle(ex, tooLate))) {
            handle(ex, e -> {
                e.header(Headers.LSN, Lsn.format(node.shownLsn()));
                throw new HttpError(503, MAX_WAITING_READS + " reads are already waiting for an LSN; try again later");
            });
        }
    }

    /**
     * {@code read} answering a 503 with {@code Walship-LSN} = what the node shows now, whatever refused it: the
     * store (failed, closed), or the wait for follower acks ({@link Node#awaitVisible}: too many waiting, a lapsed
     * lease). The endpoints ({@code /kv}, {@code /scan}, {@code /digest}, {@code /snapshot}) set the header only once
     * nothing can refuse them any more, so a 503 thrown from them has none yet; {@link Node#shownLsn()} reads
     * counters, never the store, so a failed or closed store has one. Other statuses are left alone.
     */
    private Handler lsnOn503(Handler read) {
        return ex -> {
            try {
                read.handle(ex);
            } catch (RuntimeException e) {
                if (statusOf(e) == 503) {
                    try {
                        ex.header(Headers.LSN, Lsn.format(node.shownLsn()));
                    } catch (RuntimeException x) {
                        e.addSuppressed(x); // the 503 goes out without it
                    }
                }
                throw e;
            }
        };
    }

    // ---- endpoints --------------------------------------------------------------------------

    private void kv(Exchange ex) throws IOException {
        byte[] key = pathKey(ex);
        switch (ex.method()) {
            case "GET" -> {
                Store.Read r = node.store().read(key);
                ex.header(Headers.LSN, Lsn.format(answerLsn(ex, r.pageLsn(), r.lsn())));
                if (r.value() == null) {
                    text(ex, 404, "not found");
                } else {
                    send(ex, 200, "application/octet-stream", r.value());
                }
            }
            case "PUT", "POST" -> {
                authorizeWrite(ex);
                byte[] value = body(ex);
                checked(key, value);
                Durability d = durability(ex);
                CommitWait w = commitWait(ex, d);
                written(ex, node.put(key, value, d), w);
            }
            case "DELETE" -> {
                authorizeWrite(ex);
                Durability d = durability(ex);
                CommitWait w = commitWait(ex, d);
                written(ex, node.delete(key, d), w);
            }
            default -> throw new HttpError(405, "method " + ex.method() + " not allowed on /kv/{key}");
        }
    }

    private void batch(Exchange ex) throws IOException {
        requireMethod(ex, "POST");
        authorizeWrite(ex);
        BatchRequest request;
        try {
            request = Json.read(body(ex), BatchRequest.class);
        } catch (IOException e) {
            throw new BadInputException("batch body is not a JSON batch: " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (request == null) {
            throw new BadInputException("batch body is empty");
        }
        WriteBatch batch = new WriteBatch();
        for (BatchRequest.Op op : request.checkedOps()) {
            if (op.deletes()) {
                batch.delete(checked(op.keyBytes(), null));
            } else {
                byte[] value = op.valueBytes();
                batch.put(checked(op.keyBytes(), value), value);
            }
        }
        Durability d = durability(ex);
        CommitWait w = commitWait(ex, d);
        written(ex, node.write(batch, d), w);
    }

    /**
     * Streams {@code key<TAB>value} lines of a snapshot as the tree is walked: memory stays
     * bounded by a line, whatever the store's size. {@code from}/{@code to} are percent-encoded
     * bytes like keys ({@link KeyPaths}); {@code limit} is the most pairs (0: none).
     */
    private void scan(Exchange ex) throws IOException {
        requireMethod(ex, "GET");
        Map<String, byte[]> q = query(ex);
        byte[] from = q.get(Endpoints.FROM);
        byte[] to = q.get(Endpoints.TO);
        long limit = Long.MAX_VALUE;
        if (q.containsKey(Endpoints.LIMIT)) {
            String l = new String(q.get(Endpoints.LIMIT), StandardCharsets.UTF_8);
            try {
                limit = Long.parseLong(l);
            } catch (NumberFormatException e) {
                limit = -1;
            }
            if (limit < 0) {
                throw new BadInputException("limit must be a number >= 0, got '" + l + "'");
            }
        }
        try (Snapshot snap = node.store().snapshot()) {
            ReadLsn seen = new ReadLsn();
            ScanAnswer out = new ScanAnswer(ex, snap.lsn());
            try {
                long max = limit;
                if (max > 0) {
                    long[] n = {0};
                    new BTree(snap.pages(seen)).scan(from, to, (k, v) -> {
                        try {
                            out.write((Escaping.pair(k, v) + "\n").getBytes(StandardCharsets.UTF_8));
                        } catch (IOException e) {
                            throw new UncheckedIOException(e);
                        }
                        return ++n[0] < max;
                    });
                }
                out.finish(seen.lsn());
            } catch (UncheckedIOException e) {
                if (!out.started()) {
                    throw e.getCause(); // the client went away before the answer began
                }
                throw new AbortedAnswer(e);
            } catch (RuntimeException | IOException e) {
                if (!out.started()) {
                    throw e; // nothing sent yet: answered with its status (a 503 while waiting, say)
                }
                throw new AbortedAnswer(e);
            }
        }
    }

    /**
     * A scan's answer: its lines are held back (up to {@value #SCAN_BUFFER} bytes) until the scan
     * ends, so the answer waits only until the pages it read are visible ({@link Node#awaitVisible});
     * a larger answer is streamed from there on and waits until the whole snapshot is visible.
     */
    private final class ScanAnswer {
        private final Exchange ex;
        private final long stateLsn;
        private ByteArrayOutputStream held = new ByteArrayOutputStream();
        private OutputStream body;

        ScanAnswer(Exchange ex, long stateLsn) {
            this.ex = ex;
            this.stateLsn = stateLsn;
        }

        boolean started() {
            return body != null;
        }

        void write(byte[] line) throws IOException {
            if (body != null) {
                body.write(line);
                return;
            }
            held.write(line);
            if (held.size() >= SCAN_BUFFER) {
                start(stateLsn); // too long to hold: it depends on everything in the snapshot
            }
        }

        void finish(long readLsn) throws IOException {
            if (body == null) {
                start(Math.min(readLsn, stateLsn));
            }
            body.flush();
            body.close();
        }

        private void start(long readLsn) throws IOException {
            ex.header(Headers.LSN, Lsn.format(answerLsn(ex, readLsn, stateLsn)));
            ex.header("Content-Type", "text/tab-separated-values; charset=utf-8");
            ex.sendHeaders(200, 0); // chunked
            body = new BufferedOutputStream(ex.responseBody(), 64 << 10);
            held.writeTo(body);
            held = null;
        }
    }

    private void digest(Exchange ex) throws IOException {
        requireMethod(ex, "GET");
        StateDigest d;
        ReadLsn seen = new ReadLsn();
        try (Snapshot snap = node.store().snapshot()) {
            d = StateDigest.of(snap.pages(seen), snap.lsn());
        }
        // every page is unchanged since seen.lsn(): the digest is the same at any LSN from there to d.lsn()
        String lsn = Lsn.format(answerLsn(ex, Math.min(seen.lsn(), d.lsn()), d.lsn()));
        ex.header(Headers.LSN, lsn);
        json(ex, 200, new DigestResponse(lsn, d.pairs(), d.sha256()));
    }

    /**
     * A point-in-time image of the store for a base backup, with the state digest at its LSN in
     * the headers (computed on the same snapshot first). Writers go on meanwhile.
     */
    private void snapshot(Exchange ex) throws IOException {
        requireMethod(ex, "GET");
        byte[] forRaw = query(ex).get(Endpoints.FOR);
        boolean forFollower = false;
        if (forRaw != null) {
            String f = new String(forRaw, StandardCharsets.UTF_8);
            if (!f.equals(Endpoints.FOR_FOLLOWER)) {
                throw new BadInputException(Endpoints.FOR + " must be " + Endpoints.FOR_FOLLOWER + ", got '" + f + "'");
            }
            // a replication consumer, like a session on --repl: it gets durable WAL that followers may
            // not have acknowledged yet (its own acks may be what those commits wait for), so it needs
            // the write token as writes do
            authorizeWrite(ex);
            forFollower = true;
        }
        if (!forFollower) {
            // the image is a read of everything: on a leader it is not sent before the commit point
            // reaches its LSN (durable and acknowledged as the mode needs). First wait for what is
            // there now without holding a snapshot (its before-images cost memory), then for the few
            // commits that came meanwhile
            long now = node.store().lastLsn();
            node.awaitVisible(now, now);
        }
        try (Snapshot snap = node.store().snapshot()) { // durable on return
            StateDigest d = StateDigest.of(snap.pages(), snap.lsn());
            if (!forFollower) {
                node.awaitVisible(snap.lsn(), snap.lsn());
            }
            ex.header(Headers.LSN, Lsn.format(snap.lsn()));
            ex.header(Headers.DIGEST, d.sha256());
            ex.header(Headers.DIGEST_PAIRS, Long.toString(d.pairs()));
            ex.header("Content-Type", "application/octet-stream");
            ex.sendHeaders(200, snap.imageSize());
            OutputStream out = ex.responseBody(); // closed only once the whole image is out, as in wal()
            try (InputStream in = snap.openStream()) {
                in.transferTo(out);
            } catch (RuntimeException | IOException e) {
                throw new AbortedAnswer(e); // e.g. the snapshot was abandoned: a short image must not look whole
            }
            out.close();
        }
    }

    private void status(Exchange ex) throws IOException {
        requireMethod(ex, "GET");
        StatusResponse st = node.status();
        json(ex, st.failed() ? 503 : 200, st); // a health check sees a failed store by the status alone
    }

    /** {@code POST /promote[?force=true][&peers=URL,URL]}: 200 with the new timeline, 409 if refused. */
    private void promote(Exchange ex) throws IOException {
        requireMethod(ex, "POST");
        authorizeWrite(ex); // a node started with --auth-token-file takes promotions with the token only
        body(ex); // parameters come in the query; a body is read and ignored
        Map<String, byte[]> q = query(ex);
        byte[] f = q.get(Endpoints.FORCE);
        String force = f == null ? "false" : new String(f, StandardCharsets.UTF_8);
        if (!force.equals("true") && !force.equals("false")) {
            throw new BadInputException(Endpoints.FORCE + " must be true or false, got '" + force + "'");
        }
        java.util.List<String> peers = new java.util.ArrayList<>();
        byte[] p = q.get(Endpoints.PEERS);
        if (p != null) {
            for (String u : new String(p, StandardCharsets.UTF_8).split(",")) {
                if (!u.isBlank()) {
                    peers.add(checkPeerUrl(u.strip()));
                }
            }
        }
        json(ex, 200, node.promote(force.equals("true"), peers));
    }

    /**
     * A peer of {@code /promote} must be an absolute http(s) URL with a host: the promoter skips an
     * unreachable peer, so a malformed one would silently drop the check of what that peer holds.
     */
    private static String checkPeerUrl(String u) {
        java.net.URI uri;
        try {
            uri = new java.net.URI(u);
        } catch (java.net.URISyntaxException e) {
            throw new BadInputException("peer '" + u + "' is not a URL: " + e.getMessage());
        }
        String scheme = uri.getScheme();
        if (scheme == null || !(scheme.equals("http") || scheme.equals("https")) || uri.getHost() == null
                || uri.getRawQuery() != null || uri.getRawFragment() != null) {
            throw new BadInputException("peer '" + u + "' must be a follower's HTTP API as http(s)://HOST:PORT");
        }
        return u;
    }

    /**
     * {@code GET /wal?from=LSN}: the durable WAL entries from LSN on ({@link io.walship.protocol.WalStream}),
     * 401 without the write token (when the node has one), 410 if LSN is no longer in the WAL, an
     * empty body if there is nothing after it. {@code Walship-LSN}
     * carries the durable LSN the reader was bounded by when the answer started (the body may go a
     * little further); a failure while sending drops the connection, so a cut body never looks whole.
     */
    private void wal(Exchange ex) throws IOException {
        requireMethod(ex, "GET");
        // a replication consumer's endpoint, like /snapshot?for=follower and HELLO: the WAL holds every
        // key and value, also those of commits no follower has acknowledged yet (a plain read waits for
        // them), and past values of deleted keys; so it needs the write token when the node has one
        authorizeWrite(ex);
        byte[] raw = query(ex).get(Endpoints.FROM);
        if (raw == null) {
            throw new BadInputException("GET " + Endpoints.WAL + " needs ?" + Endpoints.FROM + "=LSN");
        }
        long from;
        try {
            from = Lsn.parse(new String(raw, StandardCharsets.UTF_8));
        } catch (IllegalArgumentException e) {
            throw new BadInputException(Endpoints.FROM + ": " + e.getMessage());
        }
        if (from < 1) {
            throw new BadInputException(Endpoints.FROM + " must be an LSN of at least 1");
        }
        io.walship.wal.WalReader reader = node.store().walReader().headersOnly();
        try (reader) {
            try {
                reader.seek(from);
            } catch (io.walship.wal.WalNoLongerAvailableException e) {
                throw new HttpError(410, "LSN " + Lsn.format(from) + " is no longer in this node's WAL");
            }
            if (reader.firstAvailableLsn() < 0 && from <= node.store().lastLsn()) {
                throw new HttpError(410, "this node's WAL is empty (it was made from a snapshot or base backup);"
                        + " LSN " + Lsn.format(from) + " is not in it");
            }
            ex.header("Content-Type", "application/octet-stream");
            ex.header(Headers.LSN, Lsn.format(reader.durableLsn()));
            ex.sendHeaders(200, 0);
            // not closed by a try-with-resources: that would end the body (the last chunk) before the
            // catch ran, and a stream cut by a failed read would reach the client as a whole answer
            java.io.DataOutputStream out = new java.io.DataOutputStream(
                    new java.io.BufferedOutputStream(ex.responseBody(), 1 << 16));
            try {
                io.walship.wal.WalEntry e;
                while ((e = reader.next()) != null) {
                    io.walship.protocol.WalStream.write(out, e.lsn(), reader.lastEntryBytes());
                }
            } catch (RuntimeException | IOException e) {
                throw new AbortedAnswer(e); // a short stream must not look whole
            }
            out.close(); // every entry is out: only now does the body end
        }
    }

    private void metrics(Exchange ex) throws IOException {
        requireMethod(ex, "GET");
        send(ex, 200, "text/plain; version=0.0.4; charset=utf-8", node.metrics().getBytes(StandardCharsets.UTF_8));
    }

    // ---- helpers ----------------------------------------------------------------------------

    /** With a write token: 401 unless the request carries {@code Authorization: Bearer <token>}. */
    private void authorizeWrite(Exchange ex) {
        if (writeToken == null) {
            return;
        }
        if (!writeToken.matchesHeader(ex.requestHeader(Headers.AUTHORIZATION))) {
            ex.header("WWW-Authenticate", "Bearer realm=\"walship\"");
            throw new HttpError(401, ex.requestHeader(Headers.AUTHORIZATION) != null
                    ? "the Authorization header does not carry this node's token"
                    : "writes need 'Authorization: Bearer <token>' (the node runs with --auth-token-file)");
        }
    }

    /**
     * Answers a commit once it has the follower acks {@code wait} needs (README, "Commit modes"),
     * with {@link Headers#SYNC} saying what it waited for.
     */
    private void written(Exchange ex, long lsn, CommitWait wait) throws IOException {
        int timeline = node.store().timeline(); // read before the wait: a switch after it cannot be this commit's
        String sync = node.awaitCommit(lsn, wait);
        if (sync != null) {
            ex.header(Headers.SYNC, sync);
        }
        WriteAnswer answer = new WriteAnswer(lsn); // the JSON of a WriteResponse, byte for byte
        ex.header(Headers.LSN, answer.lsn);
        ex.header(Headers.TIMELINE, Integer.toString(timeline));
        send(ex, 200, "application/json", answer.body);
    }

    /** The write's {@code ?sync=}, checked before it commits (400 if stronger than the node's mode). */
    private CommitWait commitWait(Exchange ex, Durability d) {
        byte[] raw = query(ex).get(Endpoints.SYNC);
        return node.commitWait(raw == null ? null : new String(raw, StandardCharsets.UTF_8), d);
    }

    private static Durability durability(Exchange ex) {
        byte[] raw = query(ex).get(Endpoints.DURABILITY);
        String d = raw == null ? "durable" : new String(raw, StandardCharsets.UTF_8);
        return switch (d) {
            case "durable" -> Durability.DURABLE;
            case "async" -> Durability.ASYNC;
            default -> throw new BadInputException("durability must be durable or async, got '" + d + "'");
        };
    }

    /** The key, after checking it and the value (if any) against the store's limits: 400 if over. */
    private static byte[] checked(byte[] key, byte[] value) {
        try {
            BTree.checkKey(key);
            if (value != null) {
                BTree.checkValue(value);
            }
        } catch (IllegalArgumentException e) {
            throw new BadInputException(e.getMessage());
        }
        return key;
    }

    private static byte[] pathKey(Exchange ex) {
        String raw = ex.rawPath().substring(Endpoints.KV.length());
        if (raw.isEmpty()) {
            throw new BadInputException("missing key: use /kv/{key}");
        }
        return checked(KeyPaths.decode(asciiOnly(raw, "the key")), null);
    }

    /**
     * {@code raw} if it is all ASCII. The JDK server reads the request line byte by byte as
     * ISO-8859-1, so a character past 0x7F is a raw byte the client did not percent-encode (RFC 3986
     * allows none): which bytes it meant is a guess (its UTF-8, read back as ISO-8859-1, would
     * otherwise be stored as other bytes), so it is bad input.
     */
    private static String asciiOnly(String raw, String what) {
        for (int i = 0; i < raw.length(); i++) {
            if (raw.charAt(i) >= 0x80) {
                throw new BadInputException(what + " has a raw non-ASCII byte at offset " + i
                        + ": percent-encode every byte outside A-Z a-z 0-9 - . _ ~ (e.g. %C3%A9 for é)");
            }
        }
        return raw;
    }

    /**
     * The query's parameters as bytes, byte-exact: {@code %XX} is a byte, a {@code +} stays a
     * {@code +} ({@link KeyPaths#decode}).
     *
     * @throws BadInputException on bad percent-encoding or a name given twice (which value was meant is
     *                           a guess: {@code durability=async&durability=durable})
     */
    private static Map<String, byte[]> query(Exchange ex) {
        String q = ex.rawQuery();
        if (q == null || q.isEmpty()) {
            return Map.of(); // a PUT asks twice (durability, sync)
        }
        Map<String, byte[]> out = new LinkedHashMap<>();
        for (String part : q.split("&")) {
            int eq = part.indexOf('=');
            String k = eq < 0 ? part : part.substring(0, eq);
            String v = eq < 0 ? "" : part.substring(eq + 1);
            byte[] previous;
            try {
                previous = out.put(new String(KeyPaths.decode(asciiOnly(k, "the name")), StandardCharsets.UTF_8),
                        KeyPaths.decode(asciiOnly(v, "the value")));
            } catch (BadInputException e) {
                throw new BadInputException("query parameter '" + k + "': " + e.getMessage());
            }
            if (previous != null) {
                throw new BadInputException("query parameter '" + k + "' is given more than once: give it once");
            }
        }
        return out;
    }

    private static void requireMethod(Exchange ex, String method) {
        if (!ex.method().equals(method)) {
            throw new HttpError(405, "method " + ex.method() + " not allowed on "
                    + ex.rawPath() + " (use " + method + ")");
        }
    }

    /**
     * The request's body. One that ends before its announced {@code Content-Length} (the client
     * stopped sending: a half-close, a cut connection) is bad input: 400 if the client still reads,
     * nothing written either way. (Jetty's stream ends such a body with an {@link EOFException};
     * the JDK server's drops the connection.)
     */
    private static byte[] body(Exchange ex) throws IOException {
        long announced = ex.contentLength();
        try (InputStream in = ex.requestBody()) {
            byte[] b;
            try {
                b = readBody(in, announced);
            } catch (EOFException e) {
                throw new BadInputException("the request body ended before " + (announced >= 0
                        ? "its Content-Length of " + announced + " bytes" : "its last chunk") + ": nothing was written");
            }
            if (b.length > MAX_BODY) {
                // read (and drop) a moderately oversized rest, so that a client still sending it
                // gets to read the 413 instead of a reset connection; past that, the connection goes
                // (read, not skip: the JDK server's body stream passes skip() to the raw socket)
                byte[] sink = new byte[64 << 10];
                long drained = 0;
                for (int n; drained < MAX_DRAIN && (n = in.read(sink)) >= 0; ) {
                    drained += n;
                }
                throw new HttpError(413, "request body over " + MAX_BODY + " bytes");
            }
            return b;
        }
    }

    /**
     * The first {@code MAX_BODY + 1} bytes of {@code in} (the whole body if it is not too large), as
     * {@code in.readNBytes(MAX_BODY + 1)} returns them, whatever {@code announced} says. The
     * request's {@code Content-Length} (-1: none) only sizes the array: a body of that size is read
     * straight into one array of its size and then checked to end there, where {@code readNBytes}
     * would have read into buffers of 8-16 KiB and copied them out (JFR: ~5% of the leader's CPU
     * under 16-connection PUTs of 100 bytes). A body that ends earlier or goes on is read as without
     * a length. Only lengths up to {@value #PRESIZED_BODY} bytes get their array up front: a client
     * that announces 4 MiB and then sends nothing must not make each request thread hold 4 MiB; a
     * larger body is read as before, its buffers growing with what arrives.
     */
    static byte[] readBody(InputStream in, long announced) throws IOException {
        if (announced < 0 || announced > PRESIZED_BODY) {
            return in.readNBytes(MAX_BODY + 1);
        }
        byte[] b = new byte[(int) announced];
        int n = in.readNBytes(b, 0, b.length);
        if (n < b.length) {
            return java.util.Arrays.copyOf(b, n); // it ended early
        }
        int next = in.read();
        if (next < 0) {
            return b;
        }
        byte[] rest = in.readNBytes(MAX_BODY - b.length); // with b and next: MAX_BODY + 1 at most
        byte[] all = java.util.Arrays.copyOf(b, b.length + 1 + rest.length);
        all[b.length] = (byte) next;
        System.arraycopy(rest, 0, all, b.length + 1, rest.length);
        return all;
    }

    private static void json(Exchange ex, int status, Object body) throws IOException {
        send(ex, status, "application/json", (Json.write(body) + "\n").getBytes(StandardCharsets.UTF_8));
    }

    private static void text(Exchange ex, int status, String line) throws IOException {
        send(ex, status, "text/plain; charset=utf-8", (line + "\n").getBytes(StandardCharsets.UTF_8));
    }

    private static void send(Exchange ex, int status, String type, byte[] body) throws IOException {
        ex.respond(status, type, body);
    }

    /**
     * The answer's {@code Walship-LSN} for a read of the state at {@code stateLsn} that depends on
     * commits up to {@code readLsn}, once those are visible: what the node says
     * ({@link Node#awaitVisible}), or the request's {@code min_lsn} if that is higher and within
     * the state read (the client named it; nothing is revealed). A read refused while it waits (503: too
     * many requests wait for acks, the lease lapsed, the store failed) gets what the node shows now from
     * {@link #lsnOn503}, as every 503 to a read does.
     */
    private long answerLsn(Exchange ex, long readLsn, long stateLsn) {
        long lsn = node.awaitVisible(readLsn, stateLsn);
        Long min = ex.minLsn();
        if (min != null && min > lsn && min <= stateLsn) {
            lsn = min;
        }
        return lsn;
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
    }
}
