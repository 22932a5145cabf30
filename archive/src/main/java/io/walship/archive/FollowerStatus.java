package io.walship.archive;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A follower's status object, {@code followers/NODE.json} (docs/FORMAT.md, "Follower status"):
 * what a follower run with {@code --archive} tells the others about itself, so that after a
 * leader's death the {@code --failover auto} ones agree, without talking to each other, on the most
 * up-to-date of them (the highest {@code flushedLsn} on the current timeline, ties to the smallest
 * node id), and the winner asks every follower that published one, {@code manual} ones included,
 * for WAL it lacks. Written by its follower
 * only (replaced unconditionally by its owner: one writer per key), read by everyone; never trusted
 * for safety — the leader lease's compare-and-swap is the arbiter.
 *
 * @param formatVersion  1
 * @param nodeId         the follower's node id ({@code --node-id} or its persistent default)
 * @param timeline       the timeline it is on
 * @param flushedLsn     the last LSN durable in its WAL (16 hex digits)
 * @param httpUrl        its HTTP API, where a promoting peer fetches WAL from ({@code GET /wal})
 * @param replUrl        its replication address ({@code HOST:PORT}), "" without {@code --repl}
 * @param writtenAtMicros wall clock (µs since the epoch) of this write; older than the freshness
 *                       bound (or newer than the clock plus the skew margin), the object takes no
 *                       part in an election
 * @param failover       {@link #AUTO} (a candidate in elections) or {@link #MANUAL} (promoted by hand
 *                       only, but asked for WAL by the winner); absent (written before the field
 *                       existed, when only auto followers wrote objects) reads as {@link #AUTO}
 */
public record FollowerStatus(int formatVersion, String nodeId, int timeline, String flushedLsn, String httpUrl,
                             String replUrl, long writtenAtMicros, String failover) {
    public static final int FORMAT_VERSION = 1;
    public static final String AUTO = "auto";
    public static final String MANUAL = "manual";
    /** A larger object is corrupt (skipped unread): a status object is a few hundred bytes. */
    public static final int MAX_BYTES = 64 * 1024;

    public FollowerStatus {
        httpUrl = httpUrl == null ? "" : httpUrl;
        replUrl = replUrl == null ? "" : replUrl;
        failover = failover == null ? AUTO : failover;
    }

    /** Whether this follower runs {@code --failover auto}, i.e. is a candidate in elections. */
    public boolean candidate() {
        return AUTO.equals(failover);
    }

    /** {@link #flushedLsn()} as a number ({@link #read} checked it is 16 hex digits). */
    public long flushed() {
        return lsn(flushedLsn);
    }

    private static long lsn(String text) {
        if (text == null || text.length() != 16) {
            throw new IllegalArgumentException("not 16 hex digits");
        }
        for (int i = 0; i < 16; i++) {
            if (Character.digit(text.charAt(i), 16) < 0) {
                throw new IllegalArgumentException("not 16 hex digits");
            }
        }
        long v = Long.parseUnsignedLong(text, 16);
        if (v < 0) {
            throw new IllegalArgumentException("beyond the largest LSN");
        }
        return v;
    }

    /** The object key of node {@code nodeId}: characters outside {@code A-Z a-z 0-9 . _ -} become {@code =XX} (UTF-8 hex). */
    public static String key(String nodeId) {
        Objects.requireNonNull(nodeId, "nodeId");
        StringBuilder b = new StringBuilder(ArchiveLayout.FOLLOWERS);
        byte[] bytes = nodeId.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < bytes.length; i++) {
            int c = bytes[i] & 0xff;
            boolean plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'
                    || c == '-' || (c == '.' && i > 0);
            if (plain) {
                b.append((char) c);
            } else {
                b.append('=').append(String.format("%02X", c));
            }
        }
        return b.append(".json").toString();
    }

    public byte[] toJson() {
        return ArchiveJson.write(this);
    }

    /**
     * Reads and checks the status object {@code key}: every field an election or a promotion uses
     * must be valid (a garbage object is refused here, and skipped by {@link #readAll}, rather than
     * failing every election that reads it).
     *
     * @throws CorruptObjectException naming the key and what is wrong
     */
    public static FollowerStatus read(byte[] json, String key) {
        if (json.length > MAX_BYTES) {
            throw new CorruptObjectException(key, "follower status of " + json.length + " bytes, more than the "
                    + MAX_BYTES + " a status object may have");
        }
        FollowerStatus s = ArchiveJson.read(new ByteArrayInputStream(json), FollowerStatus.class, key, "follower status");
        if (s.formatVersion() != FORMAT_VERSION) {
            throw new CorruptObjectException(key, "follower status format version " + s.formatVersion()
                    + ", this walship reads " + FORMAT_VERSION);
        }
        if (s.nodeId() == null || s.nodeId().isBlank() || s.timeline() < 1 || s.flushedLsn() == null) {
            throw new CorruptObjectException(key, "follower status lacks a node id, a timeline or a flushed LSN");
        }
        try {
            lsn(s.flushedLsn());
        } catch (IllegalArgumentException e) {
            throw new CorruptObjectException(key, "follower status flushedLsn '" + s.flushedLsn() + "' is not an LSN ("
                    + e.getMessage() + ")");
        }
        if (s.writtenAtMicros() <= 0) {
            throw new CorruptObjectException(key, "follower status writtenAtMicros " + s.writtenAtMicros()
                    + " is not a time");
        }
        if (!s.failover().equals(AUTO) && !s.failover().equals(MANUAL)) {
            throw new CorruptObjectException(key, "follower status failover '" + s.failover() + "' is neither "
                    + AUTO + " nor " + MANUAL);
        }
        if (!s.httpUrl().isEmpty() && !httpUrl(s.httpUrl())) {
            throw new CorruptObjectException(key, "follower status httpUrl '" + s.httpUrl() + "' is not an http(s) URL");
        }
        if (!key.equals(key(s.nodeId()))) {
            throw new CorruptObjectException(key, "follower status of node '" + s.nodeId() + "' belongs at "
                    + key(s.nodeId()));
        }
        return s;
    }

    private static boolean httpUrl(String url) {
        try {
            java.net.URI u = new java.net.URI(url);
            return ("http".equals(u.getScheme()) || "https".equals(u.getScheme())) && u.getHost() != null
                    && u.getRawQuery() == null && u.getRawFragment() == null;
        } catch (java.net.URISyntaxException e) {
            return false;
        }
    }

    /**
     * Writes {@code status} as its node's object: created if absent, else replaced by
     * compare-and-swap on the version read just before (one writer per key, so a refusal only
     * means a lost answer or a stale ETag: read again and retry once).
     */
    public static void publish(ObjectStore store, FollowerStatus status) {
        String key = key(status.nodeId());
        byte[] json = status.toJson();
        for (int attempt = 0; ; attempt++) {
            try {
                var cur = store.getVersioned(key);
                if (cur.isEmpty()) {
                    store.createReturningEtagOrSame(key, json);
                } else {
                    store.replaceIfMatchOrSame(key, cur.get().etag(), json);
                }
                return;
            } catch (ObjectExistsException | PreconditionFailedException e) {
                if (attempt >= 2) {
                    throw e;
                }
            }
        }
    }

    /**
     * Every follower's status object in the archive; an unreadable one (or one listed larger than
     * {@link #MAX_BYTES}, not even fetched) is skipped and named in {@code skipped}.
     */
    public static List<FollowerStatus> readAll(ObjectStore store, List<String> skipped) {
        List<FollowerStatus> out = new ArrayList<>();
        for (ObjectInfo o : store.list(ArchiveLayout.FOLLOWERS, null)) {
            if (!o.key().endsWith(".json")) {
                continue;
            }
            try {
                if (o.size() > MAX_BYTES) {
                    throw new CorruptObjectException(o.key(), "follower status of " + o.size() + " bytes, more than the "
                            + MAX_BYTES + " a status object may have");
                }
                var v = store.getVersioned(o.key());
                if (v.isPresent()) {
                    out.add(read(v.get().content(), o.key()));
                }
            } catch (CorruptObjectException e) {
                skipped.add(o.key() + ": " + e.getMessage());
            }
        }
        return out;
    }
}
