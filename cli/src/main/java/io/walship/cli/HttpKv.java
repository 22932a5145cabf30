package io.walship.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import io.walship.wal.BTree;
import io.walship.wal.Lsn;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import io.walship.wal.WriteBatch;

/** {@link KvBackend} through a running leader's HTTP API. Thread-safe. */
final class HttpKv implements KvBackend {
    private final URI base;
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    HttpKv(String url) {
        URI u;
        try {
            u = URI.create(url.endsWith("/") ? url : url + "/");
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("bad --url '" + url + "': " + e.getMessage());
        }
        if (!"http".equals(u.getScheme()) || u.getHost() == null) {
            throw new IllegalArgumentException("--url must look like http://HOST:PORT, got '" + url + "'");
        }
        this.base = u;
    }

    static String encodeKey(byte[] key) {
        StringBuilder sb = new StringBuilder();
        for (byte b : key) {
            int c = b & 0xFF;
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || "-._~".indexOf(c) >= 0) {
                sb.append((char) c);
            } else {
                sb.append('%').append(String.format("%02X", c));
            }
        }
        return sb.toString();
    }

    private HttpResponse<byte[]> send(HttpRequest.Builder req) {
        try {
            return client.send(req.timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw new UncheckedIOException("request to " + base + " failed: " + ErrorReporter.message(e), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted");
        }
    }

    private static HttpResponse<byte[]> check(HttpResponse<byte[]> r) {
        if (r.statusCode() >= 400) {
            String reason = new String(r.body(), StandardCharsets.UTF_8).trim().replaceFirst("^error: ", "");
            if (r.statusCode() < 500) {
                throw new IllegalArgumentException("leader refused the request (HTTP " + r.statusCode() + "): " + reason);
            }
            throw new IllegalStateException("leader failed the request (HTTP " + r.statusCode() + "): " + reason);
        }
        return r;
    }

    private static long lsnOf(HttpResponse<byte[]> r) {
        return Lsn.parse(r.headers().firstValue(LeaderServer.LSN_HEADER).orElseThrow(
                () -> new IllegalStateException("leader response has no " + LeaderServer.LSN_HEADER + " header")));
    }

    @Override
    public long put(byte[] key, byte[] value) {
        return lsnOf(check(send(HttpRequest.newBuilder(base.resolve("kv/" + encodeKey(key)))
                .PUT(HttpRequest.BodyPublishers.ofByteArray(value)))));
    }

    @Override
    public Store.Read get(byte[] key) {
        HttpResponse<byte[]> r = send(HttpRequest.newBuilder(base.resolve("kv/" + encodeKey(key))).GET());
        if (r.statusCode() == 404) {
            return new Store.Read(null, lsnOf(r));
        }
        return new Store.Read(check(r).body(), lsnOf(r));
    }

    @Override
    public long delete(byte[] key) {
        return lsnOf(check(send(HttpRequest.newBuilder(base.resolve("kv/" + encodeKey(key))).DELETE())));
    }

    @Override
    public long write(WriteBatch batch) {
        List<Map<String, String>> ops = new ArrayList<>();
        java.util.Base64.Encoder b64 = java.util.Base64.getEncoder();
        for (WriteBatch.Op op : batch.ops()) {
            Map<String, String> m = new LinkedHashMap<>();
            m.put("op", op.isDelete() ? "delete" : "put");
            m.put("keyBase64", b64.encodeToString(op.key()));
            if (!op.isDelete()) {
                m.put("valueBase64", b64.encodeToString(op.value()));
            }
            ops.add(m);
        }
        return lsnOf(check(send(HttpRequest.newBuilder(base.resolve("batch"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(Json.write(Map.of("ops", ops)))))));
    }

    @Override
    public long scan(byte[] from, byte[] to, long limit, BTree.Visitor visitor) {
        List<String> params = new ArrayList<>();
        if (limit != Long.MAX_VALUE) {
            params.add("limit=" + limit);
        }
        if (from != null) {
            params.add("from=" + URLEncoder.encode(new String(from, StandardCharsets.UTF_8), StandardCharsets.UTF_8));
        }
        if (to != null) {
            params.add("to=" + URLEncoder.encode(new String(to, StandardCharsets.UTF_8), StandardCharsets.UTF_8));
        }
        String path = "scan" + (params.isEmpty() ? "" : "?" + String.join("&", params));
        HttpResponse<byte[]> r = check(send(HttpRequest.newBuilder(base.resolve(path)).GET()));
        try (InputStream in = new java.io.ByteArrayInputStream(r.body());
             BufferedReader br = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = br.readLine()) != null) {
                int tab = line.indexOf('\t');
                if (!visitor.visit(Escaping.unescape(line.substring(0, tab)), Escaping.unescape(line.substring(tab + 1)))) {
                    break;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return lsnOf(r);
    }

    @Override
    public StateDigest digest() {
        HttpResponse<byte[]> r = check(send(HttpRequest.newBuilder(base.resolve("digest")).GET()));
        try {
            JsonNode n = Json.MAPPER.readTree(r.body());
            return new StateDigest(Lsn.parse(n.get("lsn").asText()), n.get("pairs").asLong(), n.get("sha256").asText());
        } catch (IOException e) {
            throw new UncheckedIOException("bad digest answer from the leader", e);
        }
    }

    @Override
    public void close() {
        // HttpClient needs no closing on Java 17
    }
}
