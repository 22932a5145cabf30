package io.walship.archive;

import java.io.ByteArrayInputStream;
import java.util.Objects;

/**
 * The leader lease document, {@code lease/leader.json} (docs/FORMAT.md, "The leader lease"): who
 * leads which timeline, where to reach it, and until when. Written only by compare-and-swap
 * ({@link LeaderLease}); never deleted, so {@code term} only grows: each new acquisition (a
 * takeover, or the holder's own restart) takes {@code term + 1}, a renewal keeps it.
 *
 * @param formatVersion    1
 * @param nodeId           the holder's node id
 * @param timeline         the timeline the holder writes
 * @param httpUrl          the holder's HTTP API ({@code http://HOST:PORT}), "" if unknown
 * @param replUrl          the holder's replication address ({@code HOST:PORT}), "" if it serves none
 * @param term             the acquisition counter, from 1
 * @param acquiredAtMicros wall clock (µs since the epoch) when this term was acquired
 * @param renewedAtMicros  wall clock of the last renewal (= acquiredAtMicros at first)
 * @param expiresAtMicros  wall clock after which (plus the skew margin) another node may take the lease
 * @param released         the holder gave it up on a clean shutdown (expiresAtMicros is then the release time)
 */
public record LeaseRecord(int formatVersion, String nodeId, int timeline, String httpUrl, String replUrl, long term,
                          long acquiredAtMicros, long renewedAtMicros, long expiresAtMicros, boolean released) {
    public static final int FORMAT_VERSION = 1;

    /** Who holds a lease, as written into it. */
    public record Holder(String nodeId, String httpUrl, String replUrl) {
        public Holder {
            Objects.requireNonNull(nodeId, "nodeId");
            if (nodeId.isBlank()) {
                throw new IllegalArgumentException("a lease holder needs a node id");
            }
            httpUrl = httpUrl == null ? "" : httpUrl;
            replUrl = replUrl == null ? "" : replUrl;
        }
    }

    public Holder holder() {
        return new Holder(nodeId, httpUrl, replUrl);
    }

    /** Whether another node may take the lease at wall time {@code nowMicros}: released, or expired by more than the margin. */
    public boolean takeable(long nowMicros, long skewMarginMicros) {
        return released || nowMicros > expiresAtMicros + skewMarginMicros;
    }

    LeaseRecord renewed(long nowMicros, long ttlMicros) {
        return new LeaseRecord(formatVersion, nodeId, timeline, httpUrl, replUrl, term, acquiredAtMicros, nowMicros,
                nowMicros + ttlMicros, false);
    }

    LeaseRecord releasedAt(long nowMicros) {
        return new LeaseRecord(formatVersion, nodeId, timeline, httpUrl, replUrl, term, acquiredAtMicros, nowMicros,
                nowMicros, true);
    }

    public byte[] toJson() {
        return ArchiveJson.write(this);
    }

    public static LeaseRecord read(byte[] json, String key) {
        LeaseRecord r = ArchiveJson.read(new ByteArrayInputStream(json), LeaseRecord.class, key, "leader lease");
        if (r.formatVersion() != FORMAT_VERSION) {
            throw new CorruptObjectException(key, "leader lease format version " + r.formatVersion()
                    + ", this walship reads " + FORMAT_VERSION);
        }
        if (r.nodeId() == null || r.nodeId().isBlank() || r.timeline() < 1 || r.term() < 1) {
            throw new CorruptObjectException(key, "leader lease lacks a node id, a timeline or a term");
        }
        return r;
    }

    /** One line for logs and errors: who, which timeline, until when. */
    public String describe() {
        return nodeId + " (timeline " + timeline + ", term " + term
                + (httpUrl.isEmpty() ? "" : ", " + httpUrl) + ")"
                + (released ? " released at " : " until ") + instant(expiresAtMicros);
    }

    /** A wall-clock time in µs since the epoch as an instant. */
    static java.time.Instant instant(long micros) {
        return java.time.Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L), Math.floorMod(micros, 1_000_000L) * 1000L);
    }
}
