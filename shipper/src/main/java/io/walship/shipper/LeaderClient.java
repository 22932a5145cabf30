package io.walship.shipper;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.function.LongFunction;
import java.util.function.LongConsumer;

import javax.net.ssl.SSLContext;

import io.walship.archive.BackupManifest;
import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.protocol.DigestResponse;
import io.walship.protocol.Endpoints;
import io.walship.protocol.Headers;
import io.walship.protocol.Json;
import io.walship.protocol.tls.Tls;
import io.walship.wal.Lsn;
import io.walship.wal.StateDigest;

/**
 * What batch jobs and followers ask of a running leader over its HTTP API: a snapshot streamed
 * straight into a base backup or a follower's data directory ({@code GET /snapshot}), and its
 * digest ({@code GET /digest}). Thread-safe.
 */
public final class LeaderClient {
    private final String base;
    private final HttpClient http;

    public LeaderClient(String url) {
        this(url, null);
    }

    /**
     * @param tls for an {@code https://} URL: the context that verifies the leader
     *            ({@link Tls#clientContext}), or null for the JVM's default trust store
     */
    public LeaderClient(String url, SSLContext tls) {
        this.base = url.endsWith("/") ? url : url + "/";
        this.http = Tls.http(HttpClient.newBuilder(), tls).connectTimeout(Duration.ofSeconds(5)).build();
    }

    /** Takes a base backup of the running leader; {@code progress} gets the image size (or -1) first. */
    public BackupManifest backup(ObjectStore store, Codec codec, LongFunction<LongConsumer> progress)
            throws IOException, InterruptedException {
        return backup(store, codec, progress, BackupType.FULL.policy());
    }

    /** As {@link #backup(ObjectStore, Codec, LongFunction)}, of the given type ({@link BackupType}). */
    public BackupManifest backup(ObjectStore store, Codec codec, LongFunction<LongConsumer> progress, BackupType.Policy type)
            throws IOException, InterruptedException {
        return snapshot((body, digest, total) -> BaseBackup.upload(body,
                java.util.concurrent.CompletableFuture.completedFuture(digest), store, codec, progress.apply(total), type, false));
    }

    /** What receives a leader's snapshot image: its bytes, the digest the leader computed on it, its size (or -1). */
    @FunctionalInterface
    public interface SnapshotSink<T> {
        T accept(InputStream image, StateDigest digest, long size) throws IOException;
    }

    /**
     * Streams the running leader's current snapshot image ({@code GET /snapshot}) into
     * {@code sink}: a base backup, or a follower bootstrapping without an archive.
     */
    public <T> T snapshot(SnapshotSink<T> sink) throws IOException, InterruptedException {
        return snapshot(HttpRequest.newBuilder(URI.create(base + Endpoints.SNAPSHOT.substring(1))).GET().build(), sink);
    }

    /**
     * Like {@link #snapshot(SnapshotSink)} for a follower's bootstrap ({@code ?for=follower}): the
     * image is as new as the leader's durable WAL, not held back until followers acknowledged it
     * (a new follower's own acks may be what the newest commits wait for).
     *
     * @param authToken the leader's write token (its {@code --auth-token-file}), or null if it has none
     */
    public <T> T followerSnapshot(String authToken, SnapshotSink<T> sink) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + Endpoints.SNAPSHOT.substring(1) + "?"
                + Endpoints.FOR + "=" + Endpoints.FOR_FOLLOWER)).GET();
        if (authToken != null && !authToken.isEmpty()) {
            b.header(Headers.AUTHORIZATION, "Bearer " + authToken);
        }
        return snapshot(b.build(), sink);
    }

    private <T> T snapshot(HttpRequest request, SnapshotSink<T> sink) throws IOException, InterruptedException {
        HttpResponse<InputStream> r = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
        try (InputStream body = r.body()) {
            if (r.statusCode() != 200) {
                throw new IllegalStateException("leader answered HTTP " + r.statusCode() + " to GET /snapshot: "
                        + new String(body.readNBytes(500), StandardCharsets.UTF_8).trim());
            }
            long lsn = Lsn.parse(header(r, Headers.LSN));
            String sha = header(r, Headers.DIGEST);
            long pairs = Long.parseLong(header(r, Headers.DIGEST_PAIRS));
            long total = r.headers().firstValueAsLong("Content-Length").orElse(-1);
            return sink.accept(namingCuts(body, total), new StateDigest(lsn, pairs, sha), total);
        }
    }

    /** {@code body} whose read failures say that the leader's answer was cut off, and where (the JDK says "closed"). */
    private static InputStream namingCuts(InputStream body, long total) {
        return new java.io.FilterInputStream(body) {
            private final byte[] one = new byte[1];
            private long got;

            @Override
            public int read() throws IOException {
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
            }

            @Override
            public long skip(long n) throws IOException {
                try {
                    long skipped = super.skip(n);
                    got += Math.max(skipped, 0);
                    return skipped;
                } catch (IOException e) {
                    throw cut(e);
                }
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                try {
                    int n = super.read(b, off, len);
                    got += Math.max(n, 0);
                    return n;
                } catch (IOException e) {
                    throw cut(e);
                }
            }

            private IOException cut(IOException e) {
                return new IOException("the leader's answer to GET /snapshot was cut off after " + got + " of "
                        + (total < 0 ? "?" : total) + " bytes (" + e.getMessage() + "); the leader's log says why "
                        + "(under a heavy write load: a snapshot abandoned past its before-image limit, a quarter of"
                        + " the leader's --cache-size; a larger --cache-size, with the heap to match, raises it)", e);
            }
        };
    }

    /** The leader's current digest. */
    public StateDigest digest() throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + Endpoints.DIGEST.substring(1))).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IllegalStateException("leader answered HTTP " + r.statusCode() + " to GET /digest");
        }
        DigestResponse d = Json.read(r.body(), DigestResponse.class);
        return new StateDigest(Lsn.parse(d.lsn()), d.pairs(), d.sha256());
    }

    private static String header(HttpResponse<?> r, String name) {
        return r.headers().firstValue(name).orElseThrow(() -> new IllegalStateException(
                "leader response has no " + name + " header"));
    }
}
