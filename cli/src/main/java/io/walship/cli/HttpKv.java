package io.walship.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

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
import io.walship.protocol.tls.Tls;
import io.walship.wal.BTree;
import io.walship.wal.Lsn;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import io.walship.wal.WriteBatch;

/**
 * {@link KvBackend} through a running node's HTTP API: a leader, or a follower for reads (a write
 * sent to a follower is refused with the leader's URL). Thread-safe.
 */
final class HttpKv implements KvBackend {
    private final URI base;
    private final HttpClient client;
    private final AuthToken token;

    HttpKv(String url) {
        this(url, null);
    }

    /** @param token sent as {@code Authorization: Bearer} with every request, or null */
    HttpKv(String url, AuthToken token) {
        this(url, token, null);
    }

    /**
     * @param token sent as {@code Authorization: Bearer} with every request, or null
     * @param tls   verifies an https:// node ({@code --tls-ca}); null: the JVM's default trust store
     */
    HttpKv(String url, AuthToken token, SSLContext tls) {
        this.token = token;
        this.client = Tls.http(HttpClient.newBuilder(), tls).connectTimeout(Duration.ofSeconds(5)).build();
        URI u;
        try {
            u = URI.create(url.endsWith("/") ? url : url + "/");
        } catch (IllegalArgumentException e) {
            throw new BadInputException("bad --url '" + url + "': " + e.getMessage());
        }
        if (!("http".equals(u.getScheme()) || "https".equals(u.getScheme())) || u.getHost() == null) {
            throw new BadInputException("--url must look like http://HOST:PORT or https://HOST:PORT, got '" + url + "'");
        }
        this.base = u;
    }

    /** An API path ({@link Endpoints}) under the base URL, which may itself have a path. */
    private URI uri(String path) {
        return base.resolve(path.substring(1));
    }

    private URI kv(byte[] key) {
        return uri(Endpoints.KV + KeyPaths.encode(key));
    }

    /** What to do about a TLS handshake that failed ({@code --tls-ca}), or nothing. */
    private static String tlsHint(IOException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof javax.net.ssl.SSLHandshakeException) {
                return "; is the node's certificate signed by a CA in --tls-ca FILE (or the JVM's trust store)"
                        + " and does it name the host in --url?";
            }
        }
        return "";
    }

    private HttpResponse<byte[]> send(HttpRequest.Builder req) {
        try {
            if (token != null) {
                req.header(Headers.AUTHORIZATION, AuthToken.BEARER + token.secret());
            }
            return client.send(req.timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw new UncheckedIOException("request to " + base + " failed: " + ErrorReporter.message(e) + tlsHint(e), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted");
        }
    }

    private HttpResponse<byte[]> check(HttpResponse<byte[]> r) {
        if (r.statusCode() >= 400) {
            if (r.statusCode() == 421) {
                String leader = r.headers().firstValue(Headers.LEADER).orElse("(unknown)");
                throw new CliException(ExitCodes.USAGE, base + " is a follower and takes no writes; the leader is " + leader,
                        "send writes to the leader: --url " + leader);
            }
            throw refusal(r.statusCode(), new String(r.body(), StandardCharsets.UTF_8));
        }
        return r;
    }

    /**
     * A leader's error answer as the exit code it stands for (README, "Exit codes"): 400 is a
     * usage error (2), as is 401 (a missing or wrong token), 413 too large (4), 507 storage full (5), 503 unavailable or failed (6),
     * anything else a failure (1). The leader's one-line reason is kept.
     */
    static CliException refusal(int status, String body) {
        String reason = body.trim().replaceFirst("^(error|internal error): ", "");
        String what = "leader answered HTTP " + status + ": " + reason;
        return switch (status) {
            case 400 -> new CliException(ExitCodes.USAGE, what);
            case 401 -> new CliException(ExitCodes.USAGE, what, "pass the leader's token with --auth-token-file FILE");
            case 413 -> new CliException(ExitCodes.TOO_LARGE, what, "split the batch (at most 10,000 operations, 4 MiB)");
            case 507 -> new CliException(ExitCodes.STORAGE_FULL, what,
                    "the leader's WAL disk is full; nothing of this write was applied");
            case 503 -> new CliException(ExitCodes.UNAVAILABLE, what,
                    "see the leader's /status; a failed store needs a restart (docs/OPERATIONS.md, \"What failures look like\")");
            default -> new CliException(ExitCodes.FAILURE, what);
        };
    }

    private static long lsnOf(HttpResponse<byte[]> r) {
        return Lsn.parse(r.headers().firstValue(Headers.LSN).orElseThrow(
                () -> new IllegalStateException("the response has no " + Headers.LSN + " header")));
    }

    @Override
    public long put(byte[] key, byte[] value) {
        return lsnOf(check(send(HttpRequest.newBuilder(kv(key))
                .PUT(HttpRequest.BodyPublishers.ofByteArray(value)))));
    }

    @Override
    public Store.Read get(byte[] key) {
        HttpResponse<byte[]> r = send(HttpRequest.newBuilder(kv(key)).GET());
        if (r.statusCode() == 404) {
            return new Store.Read(null, lsnOf(r));
        }
        return new Store.Read(check(r).body(), lsnOf(r));
    }

    @Override
    public long delete(byte[] key) {
        return lsnOf(check(send(HttpRequest.newBuilder(kv(key)).DELETE())));
    }

    @Override
    public long write(WriteBatch batch) {
        List<BatchRequest.Op> ops = new ArrayList<>();
        for (WriteBatch.Op op : batch.ops()) {
            ops.add(op.isDelete() ? BatchRequest.Op.delete(op.key()) : BatchRequest.Op.put(op.key(), op.value()));
        }
        return lsnOf(check(send(HttpRequest.newBuilder(uri(Endpoints.BATCH))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(Json.writeBytes(new BatchRequest(ops)))))));
    }

    @Override
    public long scan(byte[] from, byte[] to, long limit, BTree.Visitor visitor) {
        List<String> params = new ArrayList<>();
        if (limit != Long.MAX_VALUE) {
            params.add(Endpoints.LIMIT + "=" + limit);
        }
        // bounds travel as percent-encoded bytes, like keys: byte-exact, whatever they are
        if (from != null) {
            params.add(Endpoints.FROM + "=" + KeyPaths.encode(from));
        }
        if (to != null) {
            params.add(Endpoints.TO + "=" + KeyPaths.encode(to));
        }
        String path = Endpoints.SCAN + (params.isEmpty() ? "" : "?" + String.join("&", params));
        HttpResponse<InputStream> r;
        try {
            // the timeout is for the answer to start; the body then streams for as long as it takes
            r = client.send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(60)).GET().build(),
                    HttpResponse.BodyHandlers.ofInputStream());
        } catch (IOException e) {
            throw new UncheckedIOException("request to " + base + " failed: " + ErrorReporter.message(e) + tlsHint(e), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted");
        }
        // streamed: each line is handed on as it arrives; a connection the leader drops mid-answer is an error
        try (InputStream in = r.body();
             BufferedReader br = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            if (r.statusCode() >= 400) {
                throw refusal(r.statusCode(), new String(in.readAllBytes(), StandardCharsets.UTF_8));
            }
            long lsn = Lsn.parse(r.headers().firstValue(Headers.LSN).orElseThrow(
                    () -> new IllegalStateException("leader response has no " + Headers.LSN + " header")));
            String line;
            while ((line = br.readLine()) != null) {
                int tab = line.indexOf('\t');
                if (tab < 0) {
                    throw new IllegalStateException("leader sent a scan line without a tab: " + line);
                }
                if (!visitor.visit(Escaping.unescape(line.substring(0, tab)), Escaping.unescape(line.substring(tab + 1)))) {
                    break;
                }
            }
            return lsn;
        } catch (IOException e) {
            throw new UncheckedIOException("the leader's scan answer broke off: " + ErrorReporter.message(e), e);
        }
    }

    @Override
    public StateDigest digest() {
        HttpResponse<byte[]> r = check(send(HttpRequest.newBuilder(uri(Endpoints.DIGEST)).GET()));
        try {
            DigestResponse d = Json.read(r.body(), DigestResponse.class);
            return new StateDigest(Lsn.parse(d.lsn()), d.pairs(), d.sha256());
        } catch (IOException e) {
            throw new UncheckedIOException("bad digest answer from " + base, e);
        }
    }

    @Override
    public void close() {
        // HttpClient needs no closing on Java 17
    }
}
