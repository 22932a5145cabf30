package io.walship.archive;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A follower's status object, {@code followers/NODE.json} (docs/FORMAT.md, "Follower status"):
 * what a follower run with {@code --failover auto} tells the others about itself, so that after a
 * leader's death they agree, without talking to each other, on the most up-to-date one (the highest
 * {@code flushedLsn} on the current timeline, ties to the smallest node id). Written by its follower
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
 *                       bound, the object is ignored
 */
public record FollowerStatus(int formatVersion, String nodeId, int timeline, String flushedLsn, String httpUrl,
                             String replUrl, long writtenAtMicros) {
    public static final int FORMAT_VERSION = 1;

    public FollowerStatus {
        httpUrl = httpUrl == null ? "" : httpUrl;
        replUrl = replUrl == null ? "" : replUrl;
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

    public static FollowerStatus read(byte[] json, String key) {
        FollowerStatus s = ArchiveJson.read(new ByteArrayInputStream(json), FollowerStatus.class, key, "follower status");
        if (s.formatVersion() != FORMAT_VERSION) {
            throw new CorruptObjectException(key, "follower status format version " + s.formatVersion()
                    + ", this walship reads " + FORMAT_VERSION);
        }
        if (s.nodeId() == null || s.nodeId().isBlank() || s.timeline() < 1 || s.flushedLsn() == null) {
            throw new CorruptObjectException(key, "follower status lacks a node id, a timeline or a flushed LSN");
        }
        return s;
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

    /** Every follower's status object in the archive; an unreadable one is skipped (and named in {@code skipped}). */
    public static List<FollowerStatus> readAll(ObjectStore store, List<String> skipped) {
        List<FollowerStatus> out = new ArrayList<>();
        for (ObjectInfo o : store.list(ArchiveLayout.FOLLOWERS, null)) {
            if (!o.key().endsWith(".json")) {
                continue;
            }
            try {
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
