package io.walship.cli;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.TreeSet;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ObjectInfo;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.protocol.Json;
import io.walship.protocol.StatusResponse;
import io.walship.protocol.TestPorts;

/**
 * What the failover process tests ({@link FailoverProcessTest}, {@link RejoinProcessTest}) ask of the
 * nodes they start: ports, logs, HTTP, digests, the archive's WAL segments.
 */
final class Nodes {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private Nodes() {
    }


    /** A log file's text ("" while it does not exist). */
    static String read(Path p) {
        try {
            return Files.exists(p) ? Files.readString(p) : "";
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static String tail(String log) {
        return log.length() > 6000 ? log.substring(log.length() - 6000) : log;
    }

    static HttpResponse<String> send(HttpRequest.Builder b) {
        try {
            return HTTP.send(b.timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    static HttpResponse<String> get(String url) {
        return send(HttpRequest.newBuilder(URI.create(url)).GET());
    }

    /** The node's /status, or null while it does not answer one. */
    static StatusResponse status(String url) {
        try {
            HttpResponse<String> r = get(url + "/status");
            return Json.read(r.body(), StatusResponse.class);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    static String digest(String url) {
        try {
            HttpResponse<String> r = get(url + "/digest");
            return r.statusCode() == 200 ? r.body() : "HTTP " + r.statusCode();
        } catch (RuntimeException e) {
            return "unreachable: " + e;
        }
    }

    /** Waits (up to 120 s) until both nodes answer the same digest. */
    static void awaitSameDigest(String what, String a, String b) {
        try {
            Poll.until(Duration.ofSeconds(120), () -> digest(a) + " / " + digest(b), v -> {
                String[] two = v.split(" / ");
                return two[0].equals(two[1]) && !two[0].startsWith("HTTP") && !two[0].startsWith("unreachable");
            });
        } catch (AssertionError e) {
            throw new AssertionError(what + ": " + e.getMessage(), e);
        }
    }

    /** The archive's WAL segments of {@code timeline}, as "KEY SIZE". */
    static Set<String> segments(String archive, int timeline) {
        try (ObjectStore a = ObjectStores.open(archive)) {
            Set<String> out = new TreeSet<>();
            for (ObjectInfo o : a.list(ArchiveLayout.WAL, null)) {
                ArchiveLayout.parseSegment(o.key()).filter(n -> n.timeline() == timeline)
                        .ifPresent(n -> out.add(o.key() + " " + o.size()));
            }
            return out;
        }
    }
}
