package io.walship.client;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import javax.net.ssl.SSLContext;

import io.walship.protocol.DigestResponse;
import io.walship.protocol.Endpoints;
import io.walship.protocol.Escaping;
import io.walship.protocol.Headers;
import io.walship.protocol.Json;
import io.walship.protocol.KeyPaths;
import io.walship.protocol.StatusResponse;
import io.walship.protocol.tls.Tls;

/**
 * A Java client of walship's HTTP API that carries a {@link Session} — the last LSN the session has
 * seen — across the leader and its followers, so that a session gets read-your-writes and
 * monotonic reads without thinking about it.
 *
 * <ul>
 *   <li><b>Writes</b> ({@link #put}, {@link #delete}, {@link #batch}) go to the leader and return
 *       the commit LSN ({@code Walship-LSN}); the session's token moves to it. A node that answers
 *       {@code 421} with {@code Walship-Leader} (a follower, or a demoted leader) is followed to the
 *       leader it names, which becomes this client's leader. When the leader cannot be reached
 *       (the connection is refused or not made in time) or refuses the write before committing it
 *       (503 with {@code Walship-Committed: no}: it is fenced, or superseded by a newer leader),
 *       the client <b>discovers the leader</b>: it asks every node it knows ({@code GET /status}:
 *       the builder's leader and followers, and every node a 421, a 503 or a {@code /status} named)
 *       which node leads, picks the one on the highest timeline that says it is the leader and
 *       acknowledges writes, makes it this client's leader and resends the write there — for at
 *       most {@link Builder#discoverLeader} per write. A write is never resent after a failure
 *       whose outcome is unknown (no answer once the request was sent, a timeout, a 503 without
 *       {@code Walship-Committed: no}): that is thrown ({@link NodeUnreachableException},
 *       {@link UnavailableException}), and the next write first asks every known node once. A write may ask
 *       for a weaker commit mode than the leader's ({@code ?sync=}: {@link Builder#sync} for every
 *       write, or the forms taking a {@link SyncMode} for one); those forms return a
 *       {@link WriteResult} with what the write waited for ({@code Walship-Sync}), which says
 *       whether the leader answered {@linkplain WriteResult#degraded() degraded}.</li>
 *   <li><b>Reads</b> ({@link #get}, {@link #scan}, {@link #digest}) go to a node chosen by the
 *       {@link ReadPolicy} (by default the followers in turn) with {@code ?min_lsn=<token>}: the
 *       node answers from a state at least that new or refuses with 503. A refusal, a 5xx or no
 *       answer moves the read to the next follower and finally to the leader, which always
 *       satisfies the token. An answer whose {@code Walship-LSN} is below the token is treated as
 *       a refusal too, so the session never sees time go backwards even from a node that ignores
 *       {@code min_lsn}. The answer's LSN advances the token.</li>
 * </ul>
 *
 * <p>Every method has a form taking a {@link Session} and one using the client's own session
 * ({@link #session()}). Errors are {@link WalshipException}s, one subclass per documented status.
 *
 * <p>Thread-safe: one client may serve many threads and sessions; it holds one JDK
 * {@link HttpClient} and its connection pool. Close it to release them.
 */
public final class WalshipClient implements AutoCloseable {
    /**
     * The read query parameter: answer from a state at LSN ≥ this (16 hex digits, {@code 0x…} or
     * decimal), or 503. Spelled here until the protocol module's {@code Endpoints.MIN_LSN} (on the
     * follower branch) is merged.
     */
    public static final String MIN_LSN = "min_lsn";

    static final int DEFAULT_DISCOVERY_SECONDS = 30;
    static final Duration DEFAULT_DISCOVERY = Duration.ofSeconds(DEFAULT_DISCOVERY_SECONDS);
    /** The longest one round of discovery waits for the nodes' {@code /status} answers. */
    static final Duration STATUS_WAIT = Duration.ofSeconds(3);

    private final HttpClient http;
    private final AtomicReference<URI> leader;
    private final List<URI> followers;
    /** scheme://host:port of the configured leader and followers: the only nodes that get the token. */
    private final Set<String> trusted;
    private final ReadPolicy policy;
    private final Duration requestTimeout;
    private final String authorization;
    private final Durability durability;
    private final SyncMode sync;
    private final int maxRedirects;
    /** How long one write may spend looking for the leader; zero: never. */
    private final Duration discovery;
    /** Every node this client knows: the builder's, then those named to it, in the order learnt. */
    private final Set<URI> known = java.util.Collections.synchronizedSet(new java.util.LinkedHashSet<>());
    /** A leader whose last write ended without a known outcome: the next write looks for the leader first. */
    private volatile URI suspect;
    /** One discovery at a time: the others wait for its answer rather than ask every node again. */
    private final Object discovering = new Object();
    private final AtomicInteger nextRead = new AtomicInteger();
    private final Session session = new Session();

    private WalshipClient(Builder b) {
        this.leader = new AtomicReference<>(b.leader);
        Set<String> origins = new HashSet<>();
        origins.add(origin(b.leader));
        b.followers.forEach(f -> origins.add(origin(f)));
        this.trusted = Set.copyOf(origins);
        this.followers = List.copyOf(b.followers);
        this.policy = b.policy;
        this.requestTimeout = b.requestTimeout;
        this.authorization = b.token == null ? null : "Bearer " + b.token;
        this.durability = b.durability;
        this.sync = b.sync;
        this.maxRedirects = b.maxRedirects;
        this.discovery = b.discovery;
        known.add(b.leader);
        known.addAll(b.followers);
        this.http = Tls.http(HttpClient.newBuilder(), b.sslContext)
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(b.connectTimeout)
                .followRedirects(HttpClient.Redirect.NEVER)
                .build();
    }

    /** A builder for a client of the leader at {@code leaderUrl} (e.g. {@code http://127.0.0.1:8080}). */
    public static Builder builder(String leaderUrl) {
        return new Builder(leaderUrl);
    }

    /** How a {@link WalshipClient} is set up. Not thread-safe; build once. */
    public static final class Builder {
        private final URI leader;
        private final List<URI> followers = new ArrayList<>();
        private ReadPolicy policy = ReadPolicy.FOLLOWERS_FIRST;
        private Duration connectTimeout = Duration.ofSeconds(5);
        private Duration requestTimeout = Duration.ofSeconds(30);
        private String token;
        private Durability durability = Durability.DURABLE;
        private SyncMode sync;
        private int maxRedirects = 3;
        private Duration discovery = DEFAULT_DISCOVERY;
        private SSLContext sslContext;

        private Builder(String leaderUrl) {
            this.leader = baseUrl(leaderUrl);
        }

        /** Adds a follower to read from (its HTTP base URL). */
        public Builder follower(String url) {
            followers.add(baseUrl(url));
            return this;
        }

        /** Adds followers to read from. */
        public Builder followers(List<String> urls) {
            urls.forEach(this::follower);
            return this;
        }

        public Builder readPolicy(ReadPolicy policy) {
            this.policy = Objects.requireNonNull(policy, "policy");
            return this;
        }

        /** How long to wait for a TCP connection (default 5 s). */
        public Builder connectTimeout(Duration timeout) {
            this.connectTimeout = positive(timeout, "connect timeout");
            return this;
        }

        /**
         * How long to wait for one answer (default 30 s). A follower may hold a read up to its
         * {@code --read-wait} (default 5 s) before it answers 503, so keep this above that.
         */
        public Builder requestTimeout(Duration timeout) {
            this.requestTimeout = positive(timeout, "request timeout");
            return this;
        }

        /**
         * For {@code https://} nodes: trust the CA certificates in this PEM bundle (the nodes'
         * {@code --tls-cert} must chain to one of them and name the host in the URL). Without it
         * (or {@link #sslContext}) the JVM's default trust store is used.
         *
         * @throws IllegalArgumentException the file is missing or holds no readable certificate
         */
        public Builder trust(Path caPem) {
            this.sslContext = Tls.clientContext(Objects.requireNonNull(caPem, "caPem"));
            return this;
        }

        /**
         * For {@code https://} nodes: this TLS context (e.g. with a client certificate or a
         * custom trust manager). TLS 1.3/1.2 only and hostname verification stay on.
         */
        public Builder sslContext(SSLContext context) {
            this.sslContext = Objects.requireNonNull(context, "context");
            return this;
        }

        /** Sends {@code Authorization: Bearer <token>} with every request. */
        public Builder authToken(String token) {
            String t = Objects.requireNonNull(token, "token").trim();
            if (t.isEmpty() || t.chars().anyMatch(c -> c < 0x20 || c == 0x7F)) {
                throw new IllegalArgumentException("auth token must be non-empty printable text");
            }
            this.token = t;
            return this;
        }

        /**
         * Reads the token from {@code file} (its content, trimmed — the same file the leader's
         * {@code --auth-token-file} reads).
         *
         * @throws IllegalArgumentException if the file cannot be read or holds no token
         */
        public Builder authTokenFile(Path file) {
            String content;
            try {
                content = Files.readString(file, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new IllegalArgumentException("cannot read auth token file " + file + ": " + e);
            }
            if (content.trim().isEmpty()) {
                throw new IllegalArgumentException("auth token file " + file + " is empty");
            }
            return authToken(content);
        }

        /** When writes are acknowledged (default {@link Durability#DURABLE}). */
        public Builder durability(Durability durability) {
            this.durability = Objects.requireNonNull(durability, "durability");
            return this;
        }

        /**
         * The commit mode every write asks for ({@code ?sync=}), unless a write names its own; null
         * (the default): the leader's {@code --sync-mode}. It may only be as strong as the leader's
         * or weaker (else each write fails with {@link BadRequestException}); with
         * {@link Durability#ASYNC} only {@link SyncMode#ASYNC}.
         */
        public Builder sync(SyncMode mode) {
            this.sync = mode;
            return this;
        }

        /**
         * How long one write may spend finding the leader when its leader cannot be reached or
         * refuses it before committing (fenced, superseded), before it fails with that error
         * (default {@value #DEFAULT_DISCOVERY_SECONDS} s: a failover takes about the lease TTL plus
         * twice the skew margin, 12 s with the defaults). {@link Duration#ZERO} turns discovery off:
         * a write then fails at once, as before. The nodes asked are the leader and followers given
         * here and every node named to the client since; give it every node's URL so that it can
         * find a promoted follower.
         */
        public Builder discoverLeader(Duration maxTime) {
            if (maxTime == null || maxTime.isNegative()) {
                throw new IllegalArgumentException("leader discovery time must be zero or positive, got " + maxTime);
            }
            this.discovery = maxTime;
            return this;
        }

        /** How many 421 redirects one write follows (default 3). */
        public Builder maxRedirects(int n) {
            if (n < 0) {
                throw new IllegalArgumentException("max redirects cannot be negative: " + n);
            }
            this.maxRedirects = n;
            return this;
        }

        public WalshipClient build() {
            return new WalshipClient(this);
        }

        private static Duration positive(Duration d, String what) {
            if (d == null || d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException(what + " must be positive, got " + d);
            }
            return d;
        }
    }

    /**
     * A node's base URL: {@code http(s)://host:port[/prefix]}, without a trailing slash. A bare
     * {@code host:port} (as {@code Walship-Leader} might name it) means {@code http://host:port}.
     */
    static URI baseUrl(String url) {
        Objects.requireNonNull(url, "url");
        String s = url.trim();
        if (!s.contains("://")) {
            s = "http://" + s;
        }
        while (s.endsWith("/")) {
            s = s.substring(0, s.length() - 1);
        }
        URI uri;
        try {
            uri = URI.create(s);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("not a node URL: '" + url + "'");
        }
        if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) || uri.getHost() == null
                || uri.getRawQuery() != null || uri.getRawFragment() != null) {
            throw new IllegalArgumentException("not a node URL: '" + url + "' (expected http://HOST:PORT)");
        }
        return uri;
    }

    /**
     * The leader a 421 names, if it is an HTTP URL. A follower that does not know its leader's
     * HTTP URL names the leader's replication address ({@code HOST:PORT}), which takes no HTTP.
     */
    static URI leaderUrl(String named) {
        String s = named.trim();
        if (!(s.startsWith("http://") || s.startsWith("https://"))) {
            throw new IllegalArgumentException("'" + s + "' is not an HTTP URL (a follower names the leader's replication"
                    + " address when it does not know its HTTP URL); configure the leader's URL");
        }
        return baseUrl(s);
    }

    // ---- accessors --------------------------------------------------------------------------

    /** The client's own session, used by every method that takes none. */
    public Session session() {
        return session;
    }

    /** The leader writes go to now (it changes when a 421 names another). */
    public URI leader() {
        return leader.get();
    }

    public List<URI> followers() {
        return followers;
    }

    /** Every node this client knows (the builder's leader and followers first, then those named to it since). */
    public List<URI> knownNodes() {
        synchronized (known) {
            return List.copyOf(known);
        }
    }

    // ---- writes -----------------------------------------------------------------------------

    /** Commits {@code key = value} on the leader; returns the commit LSN. */
    public long put(Session s, byte[] key, byte[] value) {
        return put(s, key, value, null).lsn();
    }

    public long put(Session s, String key, String value) {
        return put(s, utf8(key), utf8(value));
    }

    public long put(byte[] key, byte[] value) {
        return put(session, key, value);
    }

    public long put(String key, String value) {
        return put(session, key, value);
    }

    /**
     * Commits {@code key = value} on the leader asking for commit mode {@code sync} ({@code ?sync=};
     * null: the builder's, else the leader's own); returns the LSN and what the write waited for.
     */
    public WriteResult put(Session s, byte[] key, byte[] value, SyncMode sync) {
        return write(s, "PUT", Endpoints.KV + KeyPaths.encode(key), value, "application/octet-stream", sync);
    }

    public WriteResult put(Session s, String key, String value, SyncMode sync) {
        return put(s, utf8(key), utf8(value), sync);
    }

    /** Commits the deletion of {@code key} on the leader (absent or not); returns the commit LSN. */
    public long delete(Session s, byte[] key) {
        return delete(s, key, null).lsn();
    }

    public long delete(Session s, String key) {
        return delete(s, utf8(key));
    }

    public long delete(byte[] key) {
        return delete(session, key);
    }

    public long delete(String key) {
        return delete(session, key);
    }

    /** As {@link #delete(Session, byte[])}, asking for commit mode {@code sync} (see {@link #put(Session, byte[], byte[], SyncMode)}). */
    public WriteResult delete(Session s, byte[] key, SyncMode sync) {
        return write(s, "DELETE", Endpoints.KV + KeyPaths.encode(key), null, null, sync);
    }

    public WriteResult delete(Session s, String key, SyncMode sync) {
        return delete(s, utf8(key), sync);
    }

    /** Commits {@code batch} on the leader as one entry, whole or not at all; returns its LSN. */
    public long batch(Session s, Batch batch) {
        return batch(s, batch, null).lsn();
    }

    public long batch(Batch batch) {
        return batch(session, batch);
    }

    /** As {@link #batch(Session, Batch)}, asking for commit mode {@code sync} (see {@link #put(Session, byte[], byte[], SyncMode)}). */
    public WriteResult batch(Session s, Batch batch, SyncMode sync) {
        if (batch.size() == 0) {
            throw new IllegalArgumentException("a batch needs at least one operation");
        }
        return write(s, "POST", Endpoints.BATCH, Json.writeBytes(batch.request()), "application/json", sync);
    }

    private WriteResult write(Session s, String method, String path, byte[] body, String contentType,
                              SyncMode requested) {
        Objects.requireNonNull(s, "session");
        Map<String, String> query = new LinkedHashMap<>();
        if (durability == Durability.ASYNC) {
            query.put(Endpoints.DURABILITY, "async");
        }
        SyncMode mode = requested != null ? requested : sync;
        if (mode != null) {
            query.put(Endpoints.SYNC, mode.wire());
        }
        long deadline = System.nanoTime() + discovery.toNanos();
        URI target = leader.get();
        if (target.equals(suspect) && !discovery.isZero()) {
            // the last write to it ended without an outcome: it may be gone or paused, so ask every
            // node once first (one round: if none answers, it is tried as it is)
            URI found = discover(target, deadline, true);
            suspect = null;
            target = found != null ? found : leader.get();
        }
        int redirects = 0;
        while (true) {
            HttpResponse<byte[]> r;
            try {
                r = send(target, method, path, query, body, contentType);
            } catch (NodeUnreachableException e) {
                if (!e.connectFailed()) {
                    suspect = target; // sent, no answer: the outcome is unknown, never resent
                    throw e;
                }
                // the request never reached it: safe to send wherever the leader is now
                target = resendTo(target, deadline, e);
                continue;
            }
            if (r.statusCode() == 421) {
                String named = r.headers().firstValue(Headers.LEADER).orElse(null);
                if (named == null || named.isBlank()) {
                    throw new MisdirectedRequestException(target, reason(r) + " (and it names no leader in "
                            + Headers.LEADER + ")", null);
                }
                if (redirects >= maxRedirects) {
                    throw new MisdirectedRequestException(target, reason(r) + " (gave up after " + redirects
                            + " redirects; last named leader " + named + ")", named);
                }
                URI next;
                try {
                    next = leaderUrl(named);
                } catch (IllegalArgumentException e) {
                    throw new MisdirectedRequestException(target, reason(r) + " (" + e.getMessage() + ")", named);
                }
                known.add(next);
                leader.compareAndSet(target, next);
                target = next;
                redirects++;
                continue;
            }
            if (r.statusCode() == 503) {
                learn(r.headers().firstValue(Headers.LEADER).orElse(null));
                WalshipException refused = error(target, r);
                if (!(refused instanceof UnavailableException u && u.notCommitted())) {
                    suspect = target; // it may have committed the write: never resent
                    throw refused;
                }
                // refused before committing (fenced, superseded, overloaded): resend only to another leader
                URI found = discoverOther(target, deadline);
                if (found == null) {
                    throw refused;
                }
                target = found;
                continue;
            }
            if (r.statusCode() != 200) {
                throw error(target, r);
            }
            long lsn = lsn(target, r).orElseThrow(() -> new WalshipException(leader(), 200,
                    "write answer without " + Headers.LSN));
            s.observe(lsn);
            return new WriteResult(lsn, r.headers().firstValue(Headers.SYNC).orElse(null));
        }
    }

    // ---- leader discovery -------------------------------------------------------------------

    /** After a request that never reached {@code target}: the leader to resend it to, or {@code e} with why not. */
    private URI resendTo(URI target, long deadline, NodeUnreachableException e) {
        if (discovery.isZero()) {
            throw e;
        }
        URI found = discover(target, deadline, false);
        if (found == null) {
            e.addSuppressed(new WalshipException(target, 0, "no node claimed to be a writable leader within "
                    + discovery + " (asked " + knownNodes() + ")"));
            throw e;
        }
        return found;
    }

    /** After a refusal by {@code target}: a writable leader other than it, or null (none within the deadline). */
    private URI discoverOther(URI target, long deadline) {
        if (discovery.isZero()) {
            return null;
        }
        URI found = discover(target, deadline, false);
        // the refusing node itself, writable after all (a passing refusal, too many waiting): not resent
        return found == null || found.equals(target) ? null : found;
    }

    /** Adds a node named to this client ({@code Walship-Leader}, a {@code /status}) if it is an HTTP URL. */
    private void learn(String named) {
        if (named == null || named.isBlank()) {
            return;
        }
        try {
            known.add(leaderUrl(named));
        } catch (IllegalArgumentException ignored) {
            // a replication address (HOST:PORT without a scheme): it takes no HTTP
        }
    }

    /**
     * Finds the leader after a failure of {@code failed}: asks every known node's {@code /status}
     * in rounds until one says it is the leader and acknowledges writes (the highest timeline wins;
     * a tie goes to the current leader, then to the node learnt first), makes it this client's
     * leader and returns it; null if none did by {@code deadline} (or in the first round, if
     * {@code once}). One discovery runs at a time; a thread that waited for another's finds its
     * answer and asks nobody.
     */
    URI discover(URI failed, long deadline, boolean once) {
        synchronized (discovering) {
            URI now = leader.get();
            if (!now.equals(failed) && !now.equals(suspect)) {
                return now; // another thread (or a 421) moved the leader meanwhile
            }
            long backoff = 50_000_000L;
            while (true) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return null;
                }
                int before = known.size();
                URI best = askAll(Duration.ofNanos(Math.min(left, STATUS_WAIT.toNanos())));
                if (best != null) {
                    leader.set(best);
                    return best;
                }
                if (once) {
                    return null;
                }
                if (known.size() > before) {
                    continue; // new nodes were named: ask them at once
                }
                left = deadline - System.nanoTime();
                if (left <= 0) {
                    return null;
                }
                java.util.concurrent.locks.LockSupport.parkNanos(Math.min(left, backoff));
                if (Thread.interrupted()) {
                    Thread.currentThread().interrupt();
                    return null;
                }
                backoff = Math.min(backoff * 2, 1_000_000_000L);
            }
        }
    }

    /** One round: every known node's {@code /status} at once; the writable leader on the highest timeline, or null. */
    private URI askAll(Duration wait) {
        List<URI> nodes = knownNodes();
        List<java.util.concurrent.CompletableFuture<HttpResponse<byte[]>>> answers = new ArrayList<>();
        for (URI node : nodes) {
            answers.add(http.sendAsync(HttpRequest.newBuilder(URI.create(node + Endpoints.STATUS)).timeout(wait).GET()
                    .build(), HttpResponse.BodyHandlers.ofByteArray()));
        }
        URI current = leader.get();
        URI best = null;
        int bestTimeline = -1;
        for (int i = 0; i < nodes.size(); i++) {
            StatusResponse st;
            try {
                // each request ends within its own timeout; the join waits for no more than that
                st = Json.read(answers.get(i).join().body(), StatusResponse.class);
            } catch (IOException | RuntimeException e) {
                continue; // unreachable or not a walship node: it leads nothing
            }
            if (st == null) {
                continue;
            }
            if (st.leader() != null) {
                learn(st.leader().url());
            }
            if (!claimsWritableLeadership(st)) {
                continue;
            }
            int t = st.timeline();
            if (t > bestTimeline || (t == bestTimeline && nodes.get(i).equals(current))) {
                best = nodes.get(i);
                bestTimeline = t;
            }
        }
        return best;
    }

    /**
     * Whether a {@code /status} says its node is the leader and acknowledges writes now: it names
     * itself as the leader, writable (a node without the {@code leader} part: a leader whose store has
     * not failed and whose lease, if it has one, is writable).
     */
    static boolean claimsWritableLeadership(StatusResponse st) {
        if (st.leader() != null) {
            return st.leader().self() && Boolean.TRUE.equals(st.leader().writable()) && !st.failed();
        }
        return "leader".equals(st.role()) && !st.failed() && (st.lease() == null || st.lease().writable());
    }

    // ---- reads ------------------------------------------------------------------------------

    /** Reads {@code key} at a state no older than the session's token; the token moves to the answer's LSN. */
    public GetResult get(Session s, byte[] key) {
        return read(s, Endpoints.KV + KeyPaths.encode(key), Map.of(), true, (node, r, lsn) ->
                new GetResult(key, r.statusCode() == 404 ? null : r.body(), lsn, node));
    }

    public GetResult get(Session s, String key) {
        return get(s, utf8(key));
    }

    public GetResult get(byte[] key) {
        return get(session, key);
    }

    public GetResult get(String key) {
        return get(session, key);
    }

    /**
     * The pairs with {@code from <= key < to} (null: unbounded) in key order, at most
     * {@code limit} (≤ 0: all), all from one state no older than the session's token.
     */
    public ScanResult scan(Session s, String from, String to, long limit) {
        Map<String, String> q = new LinkedHashMap<>();
        if (from != null) {
            q.put(Endpoints.FROM, from);
        }
        if (to != null) {
            q.put(Endpoints.TO, to);
        }
        if (limit > 0) {
            q.put(Endpoints.LIMIT, Long.toString(limit));
        }
        return read(s, Endpoints.SCAN, q, false, (node, r, lsn) -> {
            List<ScanResult.Entry> entries = new ArrayList<>();
            String text = new String(r.body(), StandardCharsets.UTF_8);
            for (String line : text.split("\n")) {
                if (line.isEmpty()) {
                    continue;
                }
                int tab = line.indexOf('\t');
                if (tab < 0) {
                    throw new WalshipException(node, 200, "scan answer line without a tab: " + abbreviate(line));
                }
                entries.add(new ScanResult.Entry(Escaping.unescape(line.substring(0, tab)),
                        Escaping.unescape(line.substring(tab + 1))));
            }
            return new ScanResult(entries, lsn, node);
        });
    }

    public ScanResult scan(String from, String to, long limit) {
        return scan(session, from, to, limit);
    }

    /** The state digest of the whole store, at a state no older than the session's token. */
    public DigestResult digest(Session s) {
        return read(s, Endpoints.DIGEST, Map.of(), false, (node, r, lsn) -> {
            DigestResponse d;
            try {
                d = Json.read(r.body(), DigestResponse.class);
            } catch (IOException e) {
                throw new WalshipException(node, 200, "digest answer is not JSON: " + e.getMessage().lines().findFirst().orElse(""));
            }
            return new DigestResult(Lsns.parse(d.lsn()), d.pairs(), d.sha256(), node);
        });
    }

    public DigestResult digest() {
        return digest(session);
    }

    @FunctionalInterface
    private interface Answer<T> {
        T parse(URI node, HttpResponse<byte[]> r, long lsn);
    }

    /**
     * Tries the nodes in {@link #readOrder()} until one answers from a state at LSN ≥ the
     * session's token. 4xx answers are the request's fault and end the read at once; refusals
     * (503, an answer below the token), 5xx and unreachable nodes move on. If every node fails,
     * the leader's failure is thrown with the others' attached as suppressed exceptions.
     */
    private <T> T read(Session s, String path, Map<String, String> query, boolean absentIs404, Answer<T> answer) {
        Objects.requireNonNull(s, "session");
        long token = s.lsn();
        Map<String, String> q = new LinkedHashMap<>(query);
        if (token > 0) {
            q.put(MIN_LSN, Lsns.format(token));
        }
        List<WalshipException> failures = new ArrayList<>();
        for (URI node : readOrder()) {
            HttpResponse<byte[]> r;
            try {
                r = send(node, "GET", path, q, null, null);
            } catch (NodeUnreachableException e) {
                failures.add(e);
                continue;
            }
            int status = r.statusCode();
            OptionalLong lsn = lsn(node, r);
            boolean absent = absentIs404 && status == 404 && lsn.isPresent();
            if (status == 200 || absent) {
                if (lsn.isEmpty()) {
                    failures.add(new WalshipException(node, status, "read answer without " + Headers.LSN));
                    continue;
                }
                if (lsn.getAsLong() < token) {
                    failures.add(new UnavailableException(node, "answered at LSN " + Lsns.format(lsn.getAsLong())
                            + ", below the session's " + Lsns.format(token), lsn));
                    continue;
                }
                s.observe(lsn.getAsLong());
                return answer.parse(node, r, lsn.getAsLong());
            }
            WalshipException e = error(node, r);
            if (status >= 400 && status < 500) {
                throw e;
            }
            failures.add(e);
        }
        WalshipException last = failures.remove(failures.size() - 1);
        failures.forEach(last::addSuppressed);
        throw last;
    }

    /** The nodes a read tries, in order: the leader always last. */
    List<URI> readOrder() {
        URI lead = leader.get();
        if (policy == ReadPolicy.LEADER_ONLY || followers.isEmpty()) {
            return List.of(lead);
        }
        int n = followers.size();
        List<URI> order = new ArrayList<>(n + 1);
        if (policy == ReadPolicy.ROUND_ROBIN) {
            int start = Math.floorMod(nextRead.getAndIncrement(), n + 1);
            if (start == n) {
                return List.of(lead);
            }
            for (int i = 0; i < n; i++) {
                order.add(followers.get((start + i) % n));
            }
        } else {
            int start = Math.floorMod(nextRead.getAndIncrement(), n);
            for (int i = 0; i < n; i++) {
                order.add(followers.get((start + i) % n));
            }
        }
        order.remove(lead);
        order.add(lead);
        return order;
    }

    // ---- transport --------------------------------------------------------------------------

    private static String origin(URI u) {
        int port = u.getPort() != -1 ? u.getPort() : "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
        return (u.getScheme() + "://" + u.getHost() + ":" + port).toLowerCase(java.util.Locale.ROOT);
    }

    private HttpResponse<byte[]> send(URI node, String method, String path, Map<String, String> query,
            byte[] body, String contentType) {
        StringBuilder url = new StringBuilder(node.toString()).append(path);
        char sep = '?';
        for (Map.Entry<String, String> e : query.entrySet()) {
            url.append(sep).append(URLEncoder.encode(e.getKey(), StandardCharsets.UTF_8)).append('=')
                    .append(URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8));
            sep = '&';
        }
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url.toString()))
                .timeout(requestTimeout)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofByteArray(body));
        if (contentType != null) {
            b.header("Content-Type", contentType);
        }
        if (authorization != null && trusted.contains(origin(node))) {
            // the token goes only to nodes this client was configured with: a follower's 421 may
            // name any URL, and following it must not hand the write token to whoever that is
            b.header(Headers.AUTHORIZATION, authorization);
        }
        try {
            return http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (HttpTimeoutException e) {
            boolean connect = e instanceof java.net.http.HttpConnectTimeoutException;
            throw new NodeUnreachableException(node, method + " " + path + (connect ? " could not connect within the"
                    + " connect timeout" : " got no answer within " + requestTimeout), e, connect);
        } catch (java.net.ConnectException e) {
            // refused (or no route): no byte of the request reached the node
            throw new NodeUnreachableException(node, method + " " + path + " could not connect: " + e, e, true);
        } catch (IOException e) {
            throw new NodeUnreachableException(node, method + " " + path + " failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new WalshipException(node, 0, method + " " + path + " interrupted", e);
        }
    }

    private static OptionalLong lsn(URI node, HttpResponse<byte[]> r) {
        String h = r.headers().firstValue(Headers.LSN).orElse(null);
        if (h == null) {
            return OptionalLong.empty();
        }
        try {
            return OptionalLong.of(Lsns.parse(h));
        } catch (IllegalArgumentException e) {
            throw new WalshipException(node, r.statusCode(), "bad " + Headers.LSN + " header: " + e.getMessage());
        }
    }

    /** The exception for a non-success answer, by its status. */
    static WalshipException error(URI node, HttpResponse<byte[]> r) {
        String reason = reason(r);
        int status = r.statusCode();
        return switch (status) {
            case 400 -> new BadRequestException(node, reason);
            case 401 -> new UnauthorizedException(node, reason);
            case 404 -> new NotFoundException(node, reason);
            case 413 -> new PayloadTooLargeException(node, reason);
            case 421 -> new MisdirectedRequestException(node, reason, r.headers().firstValue(Headers.LEADER).orElse(null));
            case 503 -> new UnavailableException(node, reason, lsn(node, r),
                    "no".equalsIgnoreCase(r.headers().firstValue(Headers.COMMITTED).orElse("")));
            case 507 -> new InsufficientStorageException(node, reason);
            default -> status >= 500 ? new ServerErrorException(node, status, reason)
                    : new WalshipException(node, status, reason);
        };
    }

    /** The node's one-line reason: the first line of the body, without the API's "error: " prefix. */
    private static String reason(HttpResponse<byte[]> r) {
        String text = new String(r.body() == null ? new byte[0] : r.body(), StandardCharsets.UTF_8);
        String line = text.lines().filter(l -> !l.isBlank()).findFirst().orElse("").trim();
        if (line.startsWith("error: ")) {
            line = line.substring("error: ".length());
        }
        return line.isEmpty() ? "(no reason given)" : abbreviate(line);
    }

    private static String abbreviate(String s) {
        return s.length() <= 300 ? s : s.substring(0, 300) + "…";
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Releases the HTTP client's connections and threads (on Java 21+; on 17 they end when idle). */
    @Override
    public void close() {
        if (http instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception ignored) {
                // closing is best effort
            }
        }
    }
}
