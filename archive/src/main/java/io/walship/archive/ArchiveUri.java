package io.walship.archive;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Where an archive lives: {@code file:///path/prefix} or
 * {@code s3://bucket/prefix?endpoint=http://127.0.0.1:9000&region=us-east-1&path-style=true}.
 * Credentials never appear in a URI: S3 uses the standard AWS provider chain (environment,
 * profile, instance role) unless explicit keys are given in code or configuration.
 */
public sealed interface ArchiveUri permits ArchiveUri.Local, ArchiveUri.S3 {

    /** A local directory archive. */
    record Local(Path root) implements ArchiveUri {
        @Override
        public String toString() {
            return "file://" + root;
        }
    }

    /**
     * An S3-compatible archive. {@code accessKey}/{@code secretKey} are null unless set
     * explicitly; {@link #toString} never shows them.
     */
    record S3(String bucket, String prefix, URI endpoint, String region, boolean pathStyle,
              String accessKey, String secretKey) implements ArchiveUri {
        public S3 withCredentials(String access, String secret) {
            return new S3(bucket, prefix, endpoint, region, pathStyle, access, secret);
        }

        @Override
        public String toString() {
            StringBuilder sb = new StringBuilder("s3://").append(bucket);
            if (!prefix.isEmpty()) {
                sb.append('/').append(prefix);
            }
            String sep = "?";
            if (endpoint != null) {
                sb.append(sep).append("endpoint=").append(endpoint);
                sep = "&";
            }
            sb.append(sep).append("region=").append(region);
            if (pathStyle) {
                sb.append("&path-style=true");
            }
            return sb.toString();
        }
    }

    /**
     * The archive's identity as text: {@code file:///path} (normalised, no trailing {@code /}) or
     * {@code s3://bucket/prefix} followed by {@code @} and the endpoint with its scheme and host in
     * lower case, its default port and trailing {@code /} dropped (nothing after the bucket and
     * prefix but the endpoint: region, path style and credentials do not make another archive).
     * Two URIs naming the same archive have the same normalised form.
     */
    default String normalized() {
        if (this instanceof Local l) {
            String path = l.root().toAbsolutePath().normalize().toString();
            while (path.length() > 1 && path.endsWith("/")) {
                path = path.substring(0, path.length() - 1);
            }
            return "file://" + path;
        }
        S3 s = (S3) this;
        StringBuilder sb = new StringBuilder("s3://").append(s.bucket());
        if (!s.prefix().isEmpty()) {
            sb.append('/').append(s.prefix());
        }
        if (s.endpoint() != null) {
            URI e = s.endpoint();
            String scheme = e.getScheme().toLowerCase(java.util.Locale.ROOT);
            int port = e.getPort();
            if (("http".equals(scheme) && port == 80) || ("https".equals(scheme) && port == 443)) {
                port = -1;
            }
            String path = e.getPath() == null ? "" : e.getPath().replaceAll("/+$", "");
            sb.append('@').append(scheme).append("://").append(e.getHost().toLowerCase(java.util.Locale.ROOT))
                    .append(port < 0 ? "" : ":" + port).append(path);
        }
        return sb.toString();
    }

    /**
     * The archive's ID: the first 16 hex digits of the SHA-256 of {@link #normalized()}. It names the
     * archive's shipping lock and retention mark in a data directory ({@code ship.ID.lock},
     * {@code marks/archived.ID}), so they follow the archive, not its place in a list.
     */
    default String id() {
        try {
            byte[] d = java.security.MessageDigest.getInstance("SHA-256")
                    .digest(normalized().getBytes(StandardCharsets.UTF_8));
            return java.util.HexFormat.of().formatHex(d, 0, 8);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    Set<String> S3_PARAMS = Set.of("endpoint", "region", "path-style");

    /** @throws ArchiveConfigException with a one-line reason */
    static ArchiveUri parse(String text) {
        if (text == null || text.isBlank()) {
            throw new ArchiveConfigException("missing archive URI (file:///path or s3://bucket/prefix)");
        }
        URI u;
        try {
            u = new URI(text.trim());
        } catch (URISyntaxException e) {
            throw new ArchiveConfigException("bad archive URI '" + text + "': " + e.getReason());
        }
        String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase();
        switch (scheme) {
            case "file" -> {
                if (u.getPath() == null || u.getPath().isEmpty() || (u.getAuthority() != null && !u.getAuthority().isEmpty())) {
                    throw new ArchiveConfigException("bad archive URI '" + text + "': use file:///absolute/path");
                }
                if (u.getQuery() != null) {
                    throw new ArchiveConfigException("bad archive URI '" + text + "': file:// takes no options");
                }
                return new Local(Path.of(u.getPath()).normalize());
            }
            case "s3" -> {
                String bucket = u.getHost();
                if (bucket == null || !bucket.matches("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")) {
                    throw new ArchiveConfigException("bad archive URI '" + text
                            + "': s3://BUCKET/prefix needs a valid bucket name (3-63 of a-z 0-9 . -)");
                }
                String prefix = u.getPath() == null ? "" : u.getPath().replaceAll("^/+|/+$", "");
                if (!prefix.isEmpty()) {
                    try {
                        Keys.check(prefix);
                    } catch (IllegalArgumentException e) {
                        throw new ArchiveConfigException("bad archive URI '" + text + "': bad prefix: " + e.getMessage());
                    }
                }
                Map<String, String> q = query(u.getRawQuery(), text);
                URI endpoint = null;
                if (q.containsKey("endpoint")) {
                    try {
                        endpoint = new URI(q.get("endpoint"));
                    } catch (URISyntaxException e) {
                        throw new ArchiveConfigException("bad endpoint in '" + text + "': " + e.getReason());
                    }
                    if (!"http".equals(endpoint.getScheme()) && !"https".equals(endpoint.getScheme())
                            || endpoint.getHost() == null) {
                        throw new ArchiveConfigException("bad endpoint in '" + text + "': use http(s)://HOST:PORT");
                    }
                }
                String region = q.getOrDefault("region", envOr("AWS_REGION", "us-east-1"));
                String ps = q.getOrDefault("path-style", endpoint != null ? "true" : "false");
                if (!ps.equals("true") && !ps.equals("false")) {
                    throw new ArchiveConfigException("bad archive URI '" + text + "': path-style must be true or false");
                }
                return new S3(bucket, prefix, endpoint, region, Boolean.parseBoolean(ps), null, null);
            }
            default -> throw new ArchiveConfigException("bad archive URI '" + text
                    + "': the scheme must be file:// or s3://");
        }
    }

    private static Map<String, String> query(String raw, String text) {
        Map<String, String> out = new LinkedHashMap<>();
        if (raw == null || raw.isEmpty()) {
            return out;
        }
        for (String part : raw.split("&")) {
            int eq = part.indexOf('=');
            String k = URLDecoder.decode(eq < 0 ? part : part.substring(0, eq), StandardCharsets.UTF_8);
            String v = eq < 0 ? "" : URLDecoder.decode(part.substring(eq + 1), StandardCharsets.UTF_8);
            if (!S3_PARAMS.contains(k)) {
                throw new ArchiveConfigException("bad archive URI '" + text + "': unknown option '" + k
                        + "' (known: endpoint, region, path-style)");
            }
            out.put(k, v);
        }
        return out;
    }

    private static String envOr(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? fallback : v;
    }
}
