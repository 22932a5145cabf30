package io.walship.archive;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A timeline's birth record ({@code timelines/TTTTTTTT.history}, JSON, docs/FORMAT.md): timeline
 * {@code timeline} forked from {@code parent} after LSN {@code forkLsn}, so its WAL starts at
 * {@code forkLsn + 1} and everything up to {@code forkLsn} is the parent's (and so on up to
 * timeline 1, which has no record). Creating the record is how a promotion claims a timeline:
 * the object is created only if absent, so two promotions never share one.
 *
 * @param formatVersion 1
 * @param timeline      the new timeline
 * @param parent        the timeline it forked from
 * @param forkLsn       the last LSN shared with the parent (16 hex digits)
 * @param forkTime      commit time of that LSN, ISO-8601 UTC
 * @param createdAt     when the promotion happened, ISO-8601 UTC
 * @param reason        free text ("restore --promote to LSN …")
 * @param promotion     {@value #LIVE} (a live promotion, {@code walship promote --url} or automatic failover, which held
 *                      the leader lease on {@code parent} when it claimed) or {@value #OFFLINE} ({@code restore --promote},
 *                      {@code walship promote --data}); null in records written before the field existed (then
 *                      {@link #live()} infers it from {@code reason}). Not written when null, so such a record read
 *                      and written again keeps its bytes; older walship versions ignore it.
 * @param fork          {@value #FORK_END} if the promoted copy was restored to the end of the archive
 *                      ({@code restore --promote} without a target): it forked where the parent's archived WAL ended
 *                      when the restore read it, so parent WAL archived past {@code forkLsn} was written after the copy
 *                      was made, and the copy must not lead ({@link LeaderLease}); null otherwise (a restore to a chosen
 *                      LSN or time, a deliberate fork; {@code promote --data}; a live promotion; records written
 *                      before the field existed). Not written when null; older walship versions ignore it.
 */
public record TimelineHistory(int formatVersion, int timeline, int parent, String forkLsn, String forkTime,
                              String createdAt, String reason,
                              @com.fasterxml.jackson.annotation.JsonInclude(
                                      com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL) String promotion,
                              @com.fasterxml.jackson.annotation.JsonInclude(
                                      com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL) String fork) {
    public static final int FORMAT_VERSION = 1;
    /** {@link #promotion()} of a live promotion's claim ({@code Promotion.claimNext}). */
    public static final String LIVE = "live";
    /** {@link #promotion()} of an offline promotion's claim ({@code Promotion.claim}). */
    public static final String OFFLINE = "offline";

    /** {@link #fork()} of a copy restored to the end of the archive and promoted ({@code restore --promote}). */
    public static final String FORK_END = "end";

    /** A record without {@link #promotion()} or {@link #fork()} (as written before the fields existed). */
    public TimelineHistory(int formatVersion, int timeline, int parent, String forkLsn, String forkTime,
                           String createdAt, String reason) {
        this(formatVersion, timeline, parent, forkLsn, forkTime, createdAt, reason, null, null);
    }

    /** A record without {@link #fork()}. */
    public TimelineHistory(int formatVersion, int timeline, int parent, String forkLsn, String forkTime,
                           String createdAt, String reason, String promotion) {
        this(formatVersion, timeline, parent, forkLsn, forkTime, createdAt, reason, promotion, null);
    }

    /** Whether the copy that claimed this timeline was restored to the end of the archive ({@link #fork()}). */
    public boolean forkedAtArchiveEnd() {
        return FORK_END.equals(fork);
    }

    /**
     * Whether a live promotion claimed this timeline (it held the leader lease on {@link #parent()} when it did, and
     * may lead it now). From {@link #promotion()}; without it (a record written before the field existed) from the
     * reason: one starting with {@code "restore --promote"} or {@code "promote at LSN"} (what offline promotions
     * wrote) is offline, anything else live. An unknown value counts as live: a live promotion refuses to pass over
     * a live claim, so the doubt refuses rather than lets two leaders in.
     */
    public boolean live() {
        if (promotion != null) {
            return !OFFLINE.equals(promotion);
        }
        return reason == null || !(reason.startsWith("restore --promote") || reason.startsWith("promote at LSN"));
    }

    /** One stretch of a timeline's ancestry: LSNs {@code fromLsn..toLsn} come from {@code timeline}. */
    public record Span(int timeline, long fromLsn, long toLsn) {
        public boolean contains(long lsn) {
            return lsn >= fromLsn && lsn <= toLsn;
        }
    }

    public long forkLsnValue() {
        return Long.parseUnsignedLong(forkLsn, 16);
    }

    public byte[] toJson() {
        return ArchiveJson.write(this);
    }

    public static TimelineHistory read(InputStream in, String key) {
        TimelineHistory h = ArchiveJson.read(in, TimelineHistory.class, key, "timeline history");
        if (h.formatVersion() != FORMAT_VERSION) {
            throw new CorruptObjectException(key, "timeline history format version " + h.formatVersion()
                    + ", this walship reads " + FORMAT_VERSION);
        }
        if (h.forkLsn() == null || !h.forkLsn().matches("[0-9A-F]{16}") || h.parent() < 1 || h.parent() >= h.timeline()) {
            throw new CorruptObjectException(key, "timeline history lacks a valid parent or fork LSN");
        }
        if (ArchiveLayout.parseHistory(key).map(t -> t != h.timeline()).orElse(false)) {
            throw new CorruptObjectException(key, "timeline history describes timeline " + h.timeline());
        }
        return h;
    }

    /** Reads every history record the listing names, by timeline. */
    public static Map<Integer, TimelineHistory> readAll(ObjectStore store, ArchiveListing listing) {
        Map<Integer, TimelineHistory> out = new HashMap<>();
        for (int t : listing.histories()) {
            out.put(t, readOne(store, t));
        }
        return out;
    }

    /** Reads and checks {@code timelines/T.history}. */
    public static TimelineHistory readOne(ObjectStore store, int timeline) {
        String key = ArchiveLayout.historyKey(timeline);
        try (InputStream in = store.get(key)) {
            return read(new ByteArrayInputStream(in.readAllBytes()), key);
        } catch (IOException e) {
            throw new StorageException("read " + key + ": " + e.getMessage(), e);
        }
    }

    /**
     * Whether the base backup {@code n} lies on {@code ancestry}, as a restore of it picks backups: on a span's
     * timeline, from one before the span's first LSN (a backup taken right after a promotion sits at the fork LSN,
     * one before its timeline's first entry) to its last.
     */
    public static boolean onAncestry(ArchiveLayout.BackupName n, List<Span> ancestry) {
        for (Span s : ancestry) {
            if (s.timeline() == n.timeline() && n.lsn() >= s.fromLsn() - 1 && n.lsn() <= s.toLsn()) {
                return true;
            }
        }
        return false;
    }

    /**
     * The ancestry of {@code timeline}, oldest first: which timeline each LSN comes from. The
     * last span is open-ended. A timeline other than 1 without a record is an error (its start
     * would be unknown).
     */
    public static List<Span> ancestry(int timeline, Map<Integer, TimelineHistory> histories) {
        List<Span> reversed = new ArrayList<>();
        long to = Long.MAX_VALUE;
        int t = timeline;
        while (t != 1) {
            TimelineHistory h = histories.get(t);
            if (h == null) {
                throw new CorruptObjectException(ArchiveLayout.historyKey(t), "timeline " + t
                        + " has WAL or backups but no history record, so where it forked is unknown");
            }
            reversed.add(new Span(t, h.forkLsnValue() + 1, to));
            to = h.forkLsnValue();
            t = h.parent();
        }
        reversed.add(new Span(1, 1, to));
        List<Span> out = new ArrayList<>();
        for (int i = reversed.size() - 1; i >= 0; i--) {
            out.add(reversed.get(i));
        }
        return out;
    }
}
