package io.walship.archive;

import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The leader lease held by this node: {@code lease/leader.json} in the archive, changed only by
 * compare-and-swap on its ETag ({@link ObjectStore#replaceIfMatch}), so of two nodes that read the
 * same version at most one can write the next one — the archive is the only arbiter, no
 * coordinator needed.
 *
 * <p><b>Time.</b> The lease carries a wall-clock expiry ({@code renewedAt + ttl}) that other nodes
 * compare with their own wall clocks: they take it only once it expired by more than the skew
 * margin. The holder never trusts its wall clock for its own deadline: it counts on the monotonic
 * clock from the moment it <em>sent</em> the write that acquired or renewed it, and considers the
 * lease valid for {@code ttl - margin} from then ({@link #validForNanos}). As long as the clocks of
 * two nodes differ by less than the margin, the holder stops before anyone else may start
 * (docs/OPERATIONS.md, "The leader lease").
 *
 * <p><b>Lost answers.</b> A create or replace whose answer was lost and whose SDK retry came back
 * 412 is recognised by content ({@link ObjectStore#replaceIfMatchOrSame}); a renewal that failed
 * with an error (it may or may not have been written) is remembered, and a later 412 for exactly
 * those bytes is taken as our own write, not a takeover.
 *
 * <p>Thread-safe (synchronized); calls block on the archive.
 */
public final class LeaderLease {
    private static final Logger LOG = LoggerFactory.getLogger(LeaderLease.class);
    private static final int MAX_RACES = 16;

    private final ObjectStore store;
    private final LeaseRecord.Holder me;
    private final int timeline;
    private final Duration ttl;
    private final Duration margin;
    private final LeaseClock clock;
    private LeaseRecord record;
    private String etag;
    private long validUntilNanos;
    private boolean lost;
    /** The bytes of a renewal that failed with an error: written or not, we cannot tell yet. */
    private byte[] uncertain;
    private LeaseRecord uncertainRecord;

    private LeaderLease(ObjectStore store, LeaseRecord.Holder me, int timeline, Duration ttl, Duration margin,
                        LeaseClock clock, LeaseRecord record, String etag, long sentNanos) {
        this.store = store;
        this.me = me;
        this.timeline = timeline;
        this.ttl = ttl;
        this.margin = margin;
        this.clock = clock;
        this.record = record;
        this.etag = etag;
        this.validUntilNanos = sentNanos + ttl.toNanos() - margin.toNanos();
    }

    /** Checks a TTL and skew margin: both positive, the margin less than a third of the TTL. */
    public static void checkTimes(Duration ttl, Duration margin) {
        Objects.requireNonNull(ttl, "ttl");
        Objects.requireNonNull(margin, "margin");
        if (ttl.isNegative() || ttl.isZero() || margin.isNegative()) {
            throw new IllegalArgumentException("the lease TTL must be positive and the skew margin not negative");
        }
        if (margin.multipliedBy(3).compareTo(ttl) >= 0) {
            throw new IllegalArgumentException("the lease skew margin (" + margin + ") must be less than a third of"
                    + " the lease TTL (" + ttl + "): renewals run every TTL/3 and must land before expiry minus the margin");
        }
    }

    /**
     * Takes the leader lease for {@code me} on {@code timeline}: creates it if there is none, or
     * replaces it (term + 1) if it is this node's own (same node id: a restart), released, or expired
     * by more than {@code skewMargin}.
     *
     * @throws LeaseException.Held       another node holds it and it has not expired
     * @throws LeaseException.Superseded the lease names a newer timeline or one off this node's ancestry
     *                                   ({@link #offAncestry}), or the archive holds any newer timeline and the
     *                                   lease is not this node's own
     * @throws StorageException          the archive failed, or a history on the ancestry could not be read
     *                                   (nothing taken)
     */
    public static LeaderLease acquire(ObjectStore store, LeaseRecord.Holder me, int timeline, Duration ttl,
                                      Duration skewMargin, LeaseClock clock) {
        return acquire(store, me, timeline, ttl, skewMargin, clock, true);
    }

    /**
     * As {@link #acquire(ObjectStore, LeaseRecord.Holder, int, Duration, Duration, LeaseClock)}, but with
     * {@code ownAtOnce} false a lease carrying this node's id is treated like another node's (taken only
     * once released or expired past the margin): for a node that lost the lease, whose id in it is then
     * another live process's.
     */
    public static LeaderLease acquire(ObjectStore store, LeaseRecord.Holder me, int timeline, Duration ttl,
                                      Duration skewMargin, LeaseClock clock, boolean ownAtOnce) {
        return acquire(store, me, timeline, ttl, skewMargin, clock, ownAtOnce, false, NO_OWN);
    }

    /**
     * As {@link #acquire(ObjectStore, LeaseRecord.Holder, int, Duration, Duration, LeaseClock, boolean)}, reading this
     * node's own timeline records from {@code own} first (its data directory, {@code DATA/timelines/T.history}; empty:
     * not kept there), the archive's only where it has none: the node's ancestry is what its data directory says, and
     * a copy restored from another archive has its claim only there and in that archive until its ship loops, which
     * run under the lease, copy it here ({@link #offAncestry}, {@link #wentOnPastFork}). A record {@code own} cannot
     * read is looked up in the archive; with none there either, the take fails (a storage error, retried).
     */
    public static LeaderLease acquire(ObjectStore store, LeaseRecord.Holder me, int timeline, Duration ttl,
                                      Duration skewMargin, LeaseClock clock, boolean ownAtOnce,
                                      java.util.function.IntFunction<Optional<TimelineHistory>> own) {
        return acquire(store, me, timeline, ttl, skewMargin, clock, ownAtOnce, false, own);
    }

    /** No records of the node's own: every history is read from the archive. */
    static final java.util.function.IntFunction<Optional<TimelineHistory>> NO_OWN = t -> Optional.empty();

    /**
     * As {@link #acquire(ObjectStore, LeaseRecord.Holder, int, Duration, Duration, LeaseClock)}, for a live promotion
     * of a follower on {@code timeline} (the lease taken on the old timeline before the claim): only a newer timeline
     * claimed by a live promotion from {@code timeline} or one of its descendants supersedes it
     * ({@link #descendants}), so that an inspection copy ({@code restore --promote}) never blocks a failover.
     * A leader (re)starting keeps the stricter rule: any newer claim supersedes it unless the lease is its own (an
     * offline failover's claim fences the old leader, whose restart would otherwise lead the parent again).
     */
    public static LeaderLease acquireToPromote(ObjectStore store, LeaseRecord.Holder me, int timeline, Duration ttl,
                                               Duration skewMargin, LeaseClock clock) {
        return acquire(store, me, timeline, ttl, skewMargin, clock, true, true, NO_OWN);
    }

    private static LeaderLease acquire(ObjectStore store, LeaseRecord.Holder me, int timeline, Duration ttl,
                                       Duration skewMargin, LeaseClock clock, boolean ownAtOnce, boolean toPromote,
                                       java.util.function.IntFunction<Optional<TimelineHistory>> own) {
        Objects.requireNonNull(store, "store");
        Objects.requireNonNull(me, "me");
        Objects.requireNonNull(clock, "clock");
        checkTimes(ttl, skewMargin);
        if (timeline < 1) {
            throw new IllegalArgumentException("timeline must be at least 1");
        }
        long ttlMicros = ttl.toNanos() / 1000;
        for (int race = 0; race < MAX_RACES; race++) {
            long sent = clock.nanoTime();
            long now = clock.wallMicros();
            Optional<ObjectStore.Versioned> cur = store.getVersioned(ArchiveLayout.LEASE);
            LeaseRecord existing = cur.map(v -> LeaseRecord.read(v.content(), ArchiveLayout.LEASE)).orElse(null);
            boolean ours = ownAtOnce && existing != null && existing.nodeId().equals(me.nodeId())
                    && existing.timeline() <= timeline;
            if (existing != null && existing.timeline() > timeline) {
                throw new LeaseException.Superseded("the leader lease is on timeline " + existing.timeline()
                        + ", newer than this node's " + timeline + ": held by " + existing.describe(), existing);
            }
            if (existing != null && existing.timeline() < timeline) {
                Optional<String> off = offAncestry(store, existing.timeline(), timeline, own);
                if (off.isPresent()) {
                    throw new LeaseException.Superseded("the leader lease is on timeline " + existing.timeline() + ", held"
                            + " by " + existing.describe() + ", which is not an ancestor of this node's timeline " + timeline
                            + " (" + off.get() + "): that timeline led a history this one does not hold", existing);
                }
            }
            boolean ownHere = ours && existing.timeline() == timeline;
            // a leader (re)starting under its own lease: claims made since its last renewal fence it (a live
            // promotion's take passes over offline claims whenever they were made)
            Descendants d = descendants(store, timeline, toPromote,
                    ownHere && !toPromote ? existing.renewedAtMicros() - skewMargin.toNanos() / 1000 : Long.MAX_VALUE);
            int newest = d.newest();
            if (newest > timeline && !ownHere) {
                throw new LeaseException.Superseded("the archive holds timeline " + newest + ", claimed by "
                        + (toPromote ? "a live promotion" : "a promotion") + " from this node's timeline " + timeline
                        + " or a timeline after it" + (existing == null ? ""
                        : "; the lease was last held by " + existing.describe()), existing);
            }
            if (d.since() > timeline) {
                throw new LeaseException.Superseded("timeline " + d.since() + " was claimed (" + d.sinceWhat()
                        + ") from this node's timeline " + timeline + " or a timeline after it, after this node last"
                        + " renewed its lease (" + existing.describe() + ", renewed " + LeaseRecord.instant(existing.renewedAtMicros())
                        + "): a failover while this node was down; leading timeline " + timeline + " again would write"
                        + " a history that timeline " + d.since() + " does not hold (if it leads, make this node its"
                        + " follower: walship follow --data … --archive …)", existing);
            }
            if (existing != null && !ours && !existing.takeable(now, skewMargin.toNanos() / 1000)) {
                throw new LeaseException.Held(existing);
            }
            if (existing != null && existing.timeline() < timeline) {
                // only once the lease could be taken: a copy waiting beside a running leader lists nothing per tick
                Optional<String> past = wentOnPastFork(store, existing.timeline(), timeline, own, toPromote);
                if (past.isPresent()) {
                    throw new LeaseException.Superseded(past.get() + "; the leader lease was last held by "
                            + existing.describe(), existing);
                }
            }
            LeaseRecord next = new LeaseRecord(LeaseRecord.FORMAT_VERSION, me.nodeId(), timeline, me.httpUrl(),
                    me.replUrl(), existing == null ? 1 : existing.term() + 1, now, now, now + ttlMicros, false);
            byte[] json = next.toJson();
            try {
                String etag = existing == null ? store.createReturningEtagOrSame(ArchiveLayout.LEASE, json)
                        : store.replaceIfMatchOrSame(ArchiveLayout.LEASE, cur.get().etag(), json);
                if (newest > timeline) {
                    LOG.warn("the archive holds timeline {} but the leader lease was this node's on timeline {}, renewed"
                            + " after that claim: a copy promoted beside this running leader (restore --promote), which"
                            + " never led; this node keeps leading", newest, timeline);
                }
                LOG.info("took the leader lease: {}{}", next.describe(),
                        existing == null ? "" : existing.nodeId().equals(me.nodeId()) ? " (this node's own, term "
                                + existing.term() + ")" : " (after " + existing.describe() + ")");
                return new LeaderLease(store, me, timeline, ttl, skewMargin, clock, next, etag, sent);
            } catch (ObjectExistsException | PreconditionFailedException e) {
                LOG.info("the leader lease changed while this node took it; reading it again");
            }
        }
        throw new LeaseException.Lost("the leader lease changed " + MAX_RACES + " times while this node tried to take it",
                null);
    }

    /**
     * Why {@code leased} (the timeline the lease names, older than {@code timeline}) is not an ancestor of
     * {@code timeline}, or empty if it is (or if a history record on the way cannot be read: then only the other
     * checks decide, as before this one). The lease only moves to newer timelines, so a lease on a timeline off this
     * one's ancestry was taken after this one forked, by a node that led another history (a store promoted offline
     * whose claim a live promotion passed over, then started as a leader): taking the lease from it would lose what
     * it acknowledged.
     */
    static Optional<String> offAncestry(ObjectStore store, int leased, int timeline,
                                        java.util.function.IntFunction<Optional<TimelineHistory>> own) {
        int t = timeline;
        StringBuilder path = new StringBuilder();
        while (t > leased) {
            TimelineHistory h;
            try {
                h = ownFirst(store, own, t);
            } catch (EncryptionKeyException e) {
                throw e;
            } catch (RuntimeException e) {
                // doubt refuses: taking the lease from a timeline that led another history would lose its writes
                throw new StorageException("cannot tell whether the leader lease's timeline " + leased + " is an ancestor"
                        + " of timeline " + timeline + ": the history of timeline " + t + " cannot be read ("
                        + e.getMessage() + "); the lease is not taken", e);
            }
            if (h == null) {
                // no record here (a timeline claimed in another archive, a test's bare lease): only the other checks
                // decide, as before this one existed
                LOG.warn("timeline {} has no history in this archive; not checking that the lease's timeline {} is an"
                        + " ancestor of {}", t, leased, timeline);
                return Optional.empty();
            }
            path.append(path.length() == 0 ? "" : ", ").append("timeline ").append(t).append(" forked from ")
                    .append(h.parent());
            t = h.parent();
        }
        return t == leased ? Optional.empty() : Optional.of(path.toString());
    }

    /**
     * Why {@code timeline} must not take the lease from {@code leased} (an ancestor: {@link #offAncestry} passed), or
     * empty: a timeline on the way down was claimed by a copy restored to the end of the archive
     * ({@link TimelineHistory#forkedAtArchiveEnd}, {@code restore --promote}), and its parent's WAL is archived past
     * the fork. The copy forked where the parent's archived WAL ended when its restore read it; WAL archived past that
     * was written by the parent's leader afterwards (a copy made beside a running leader, or restored while the old
     * leader's last uploads were still arriving), and its commits were acknowledged: leading the copy would lose
     * them. Clock-free: the archive's own listing decides. A restore to a chosen LSN or time (a deliberate fork),
     * {@code promote --data} and live promotions are not checked ({@code fork} absent). What the parent acknowledged
     * but never archived is beyond this check. The records are this node's own first ({@code own}), else the
     * archive's (cached per archive). A timeline on the way that has no record anywhere is passed over for a leader
     * (as {@link #offAncestry} does), but refuses a live promotion ({@code toPromote}: a follower of a timeline whose
     * leader never held the lease, whose claim this archive lacks, cannot be checked; review rev41).
     *
     * @throws StorageException the listing failed (nothing decided: the take is retried)
     */
    static Optional<String> wentOnPastFork(ObjectStore store, int leased, int timeline,
                                           java.util.function.IntFunction<Optional<TimelineHistory>> own,
                                           boolean toPromote) {
        int t = timeline;
        while (t > leased) {
            TimelineHistory h;
            try {
                h = ownFirst(store, own, t);
            } catch (CorruptObjectException e) {
                return Optional.empty(); // offAncestry refused an unreadable record already; none here
            }
            if (h == null) {
                if (toPromote) {
                    // a live promotion of a follower of timeline t, whose leader never held the lease (it is on an
                    // older timeline) and whose claim this archive lacks (made in another archive): whether t may
                    // lead cannot be checked, and doubt refuses (review rev41)
                    return Optional.of("the archive " + store.describe() + " holds no history of timeline " + t
                            + ", whose leader never held the leader lease (it is on timeline " + leased + "): whether"
                            + " timeline " + t + " holds what timeline " + leased + " acknowledged cannot be checked;"
                            + " a live promotion of its follower is refused (restore from the archive the claim was"
                            + " made in, or start that timeline's leader with this archive first)");
                }
                return Optional.empty();
            }
            if (h.forkedAtArchiveEnd()) {
                long fork = h.forkLsnValue();
                long archived = 0;
                String prefix = ArchiveLayout.WAL + ArchiveLayout.timelineHex(h.parent()) + "/";
                for (ObjectInfo o : store.list(prefix, null)) {
                    archived = Math.max(archived, ArchiveLayout.parseSegment(o.key())
                            .map(ArchiveLayout.SegmentName::lastLsn).orElse(0L));
                }
                if (archived > fork) {
                    return Optional.of("timeline " + h.parent() + " went on past the fork of timeline " + t
                            + ": the archive holds its WAL to LSN " + ArchiveLayout.lsnHex(archived) + ", and timeline " + t
                            + " forked after LSN " + h.forkLsn() + " (" + h.reason() + ", at " + h.createdAt() + "), so"
                            + " the leader of timeline " + h.parent() + " acknowledged writes after the copy was restored"
                            + " and timeline " + t + " does not hold them; restore again from " + store.describe()
                            + " (walship restore --archive … --promote) to include them, or restore --lsn " + h.forkLsn()
                            + " --promote to fork there on purpose");
                }
            }
            t = h.parent();
        }
        return Optional.empty();
    }

    /** This node's record of timeline {@code t} if {@code own} has one it can read, else the archive's ({@link #history}). */
    private static TimelineHistory ownFirst(ObjectStore store, java.util.function.IntFunction<Optional<TimelineHistory>> own,
                                            int t) {
        RuntimeException unreadable = null;
        try {
            Optional<TimelineHistory> mine = own.apply(t);
            if (mine.isPresent()) {
                return mine.get();
            }
        } catch (RuntimeException e) {
            LOG.warn("this node's record of timeline {} cannot be read ({}); reading the archive's", t, e.getMessage());
            unreadable = e;
        }
        TimelineHistory there = history(store, t);
        if (there == null && unreadable != null) {
            // doubt refuses: this node's ancestry cannot be known, so nothing the lease take checks can be
            throw new StorageException("this node's record of timeline " + t + " cannot be read ("
                    + unreadable.getMessage() + ") and " + store.describe() + " holds none; the lease is not taken",
                    unreadable);
        }
        return there;
    }

    /** History records read by lease takes, per archive: they are never rewritten, so each is read once. */
    private static final java.util.Map<ObjectStore, java.util.Map<Integer, TimelineHistory>> HISTORIES =
            java.util.Collections.synchronizedMap(new java.util.WeakHashMap<>());

    /**
     * {@code timelines/T.history}, read once per archive (logged once if an offline promotion wrote it), or null if
     * absent.
     *
     * @throws CorruptObjectException it cannot be parsed or checked
     * @throws StorageException       the read failed (not remembered: the next take reads it again)
     */
    static TimelineHistory history(ObjectStore store, int t) {
        java.util.Map<Integer, TimelineHistory> known = HISTORIES.computeIfAbsent(store,
                k -> new java.util.concurrent.ConcurrentHashMap<>());
        TimelineHistory h = known.get(t);
        if (h == null) {
            try {
                h = TimelineHistory.readOne(store, t);
            } catch (ObjectNotFoundException e) {
                return null;
            }
            if (known.putIfAbsent(t, h) == null && !h.live()) {
                LOG.info("timeline {} was claimed by an offline promotion ({})", t, h.reason());
            }
        }
        return h;
    }

    /** What {@link #descendants} found: the newest claim through a timeline, and the newest made since a time. */
    record Descendants(int newest, int since, String sinceWhat) { }

    /**
     * The newest timeline after {@code timeline} claimed by a promotion whose ancestry passes through
     * {@code timeline} (with {@code liveOnly}, by a live promotion: {@link TimelineHistory#live()}), or
     * {@code timeline} if none: such a claim forked from this history, so a node on {@code timeline} taking the lease
     * would lead the parent of a newer history. A leader (re)starting counts every such claim, an offline failover's
     * ({@code restore --promote}) included; a live promotion passes over offline claims (inspection and drill copies;
     * {@code walship promote --data}: a promoted store that leads holds the lease on its timeline, which the take
     * finds first). A claim on another branch (a drill copy of an ancestor, a live claim that can take the lease only
     * from its own ancestry, {@link #offAncestry}) supersedes neither. A record that is corrupt, or absent on the way
     * down, counts as passing through {@code timeline} (doubt refuses); a failed read is an archive failure.
     * <p>And ({@code since}), for a node whose own lease is on {@code timeline}, the newest claim of any kind
     * forked from it or a later timeline that was made at or after {@code sinceMicros} (the lease's last renewal
     * or release less the skew margin), or {@code timeline} if none ({@code sinceWhat} says what it was;
     * {@code sinceMicros} {@link Long#MAX_VALUE}: not asked). A claim made while the holder still renewed is a copy
     * made beside a running leader (an inspection or drill copy, which never led); one made after the holder's last
     * renewal is a failover while it was down, and the old leader must not lead its timeline again. The claim's
     * {@code createdAt} is the promoting node's clock and the renewal the holder's: a claim within the margin before
     * the renewal counts as after it. A corrupt record, or one whose time cannot be parsed, counts as made after it
     * (doubt refuses).
     *
     * @throws StorageException a history could not be read (nothing decided: the take is retried)
     */
    static Descendants descendants(ObjectStore store, int timeline, boolean liveOnly, long sinceMicros) {
        int newest = timeline;
        int since = timeline;
        String sinceWhat = "";
        for (ObjectInfo o : store.list(ArchiveLayout.TIMELINES, null)) {
            int t = ArchiveLayout.parseHistory(o.key()).orElse(1);
            if (t <= timeline) {
                continue;
            }
            TimelineHistory h;
            try {
                h = history(store, t);
            } catch (CorruptObjectException e) {
                LOG.warn("the history of timeline {} is corrupt ({}); counting it as a claim from timeline {}", t,
                        e.getMessage(), timeline);
                newest = t;
                if (sinceMicros != Long.MAX_VALUE) {
                    since = t;
                    sinceWhat = "its history cannot be read: " + e.getMessage();
                }
                continue;
            }
            if (h == null) {
                continue; // listed, then gone (walship never deletes histories)
            }
            int u = h.parent();
            while (u > timeline) {
                TimelineHistory a;
                try {
                    a = history(store, u);
                } catch (CorruptObjectException e) {
                    a = null;
                }
                if (a == null) {
                    break; // unknown on the way down: counts as passing through timeline
                }
                u = a.parent();
            }
            if (u < timeline) {
                continue; // another branch
            }
            if (!liveOnly || h.live()) {
                newest = t;
            }
            if (sinceMicros != Long.MAX_VALUE && claimedAtMicros(h, Long.MAX_VALUE) >= sinceMicros) {
                since = t;
                sinceWhat = h.reason() + ", at " + h.createdAt();
            }
        }
        return new Descendants(newest, since, sinceWhat);
    }

    /** {@code createdAt} in µs since the epoch, or {@code unknown} if it cannot be parsed. */
    private static long claimedAtMicros(TimelineHistory h, long unknown) {
        try {
            java.time.Instant at = java.time.Instant.parse(h.createdAt());
            return Math.addExact(Math.multiplyExact(at.getEpochSecond(), 1_000_000L), at.getNano() / 1000);
        } catch (RuntimeException e) {
            return unknown;
        }
    }

    /** The lease as it is in the archive now (who leads, where), or empty if there never was one. */
    public static Optional<LeaseRecord> current(ObjectStore store) {
        return store.getVersioned(ArchiveLayout.LEASE).map(v -> LeaseRecord.read(v.content(), ArchiveLayout.LEASE));
    }

    /**
     * Extends the lease by the TTL from now, if it is still the version this node wrote (If-Match).
     *
     * @throws LeaseException.Lost someone else replaced it; every later call throws too
     * @throws StorageException    the archive failed: the renewal may or may not have been written
     *                             (a later renewal sorts that out); the lease is not extended
     */
    public synchronized void renew() {
        if (lost) {
            throw new LeaseException.Lost("the leader lease was lost earlier; take it again with acquire", null);
        }
        long sent = clock.nanoTime();
        long now = clock.wallMicros();
        LeaseRecord next = record.renewed(Math.max(now, record.renewedAtMicros() + 1), ttl.toNanos() / 1000);
        byte[] json = next.toJson();
        String newEtag;
        try {
            newEtag = replaceOrAdoptUncertain(json);
        } catch (PreconditionFailedException e) {
            LeaseRecord there = current(store).orElse(null);
            if (record.equals(there)) {
                // still the version this node wrote: nobody took it. S3 answers 409 (mapped to a failed
                // precondition) while another conditional write to the key is in flight, e.g. the SDK's
                // retry of this very renewal racing its first attempt, which may still land
                uncertain = json;
                uncertainRecord = next;
                throw new StorageException("renewing the leader lease was refused (" + e.getMessage() + ") but the lease"
                        + " still holds this node's version: a conflicting write in flight; not extended");
            }
            lost = true;
            throw new LeaseException.Lost("the leader lease was replaced by someone else"
                    + (there == null ? " (it is gone)" : ": now " + there.describe()), there);
        } catch (StorageException e) {
            uncertain = json;
            uncertainRecord = next;
            throw e;
        }
        uncertain = null;
        uncertainRecord = null;
        record = next;
        etag = newEtag;
        validUntilNanos = sent + ttl.toNanos() - margin.toNanos();
    }

    /** replaceIfMatchOrSame, but a 412 for the bytes of an earlier failed renewal is our own write too. */
    private String replaceOrAdoptUncertain(byte[] json) {
        try {
            return store.replaceIfMatchOrSame(ArchiveLayout.LEASE, etag, json);
        } catch (PreconditionFailedException e) {
            if (uncertain == null) {
                throw e;
            }
            Optional<ObjectStore.Versioned> now = store.getVersioned(ArchiveLayout.LEASE);
            if (now.isEmpty() || !Arrays.equals(now.get().content(), uncertain)) {
                throw e;
            }
            LOG.info("the earlier renewal that failed with an error had been written; renewing from it");
            record = uncertainRecord;
            etag = now.get().etag();
            uncertain = null;
            uncertainRecord = null;
            return store.replaceIfMatchOrSame(ArchiveLayout.LEASE, etag, json);
        }
    }

    /**
     * Gives the lease up on a clean shutdown: marks it released (If-Match), so the next leader need
     * not wait for it to expire. Never deletes it (the term must keep growing). A failure is logged:
     * the lease then simply expires.
     */
    public synchronized void release() {
        validUntilNanos = clock.nanoTime(); // nothing acknowledged from here on
        if (lost) {
            return;
        }
        LeaseRecord gone = record.releasedAt(Math.max(clock.wallMicros(), record.renewedAtMicros() + 1));
        try {
            etag = replaceOrAdoptUncertain(gone.toJson());
            record = gone;
            lost = true;
            LOG.info("released the leader lease (term {})", record.term());
        } catch (RuntimeException e) {
            LOG.warn("could not release the leader lease ({}); it expires at its own time", e.getMessage());
        }
    }

    /** The lease as this node last wrote it. */
    public synchronized LeaseRecord record() {
        return record;
    }

    /** Nanoseconds (monotonic) before this node must stop acknowledging writes; ≤ 0 once past. */
    public synchronized long validForNanos() {
        return lost ? 0 : validUntilNanos - clock.nanoTime();
    }

    /** Whether someone else replaced the lease (or it was released): renewals will fail. */
    public synchronized boolean lost() {
        return lost;
    }

    public LeaseRecord.Holder holder() {
        return me;
    }

    public int timeline() {
        return timeline;
    }

    public Duration ttl() {
        return ttl;
    }

    public Duration skewMargin() {
        return margin;
    }
}
