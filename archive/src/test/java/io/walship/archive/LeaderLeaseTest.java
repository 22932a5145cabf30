package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The leader lease with a manual clock (no sleeps, every instant chosen) on a real local archive;
 * the same tests run on S3Proxy ({@link S3ProxyLeaderLeaseTest}) and MinIO
 * ({@link ExternalS3LeaderLeaseTest}).
 */
class LeaderLeaseTest {
    static final Duration TTL = Duration.ofSeconds(10);
    static final Duration MARGIN = Duration.ofSeconds(1);
    static final LeaseRecord.Holder A = new LeaseRecord.Holder("node-a", "http://127.0.0.1:7070", "127.0.0.1:7071");
    static final LeaseRecord.Holder B = new LeaseRecord.Holder("node-b", "http://127.0.0.1:7080", "127.0.0.1:7081");
    /** The leader of timeline 1 (the claims tests, reviews 32b and 33). */
    static final LeaseRecord.Holder L = new LeaseRecord.Holder("node-l", "http://127.0.0.1:7070", "127.0.0.1:7071");
    /** A follower of timeline 1, promoted live (automatic failover). */
    static final LeaseRecord.Holder F = new LeaseRecord.Holder("node-f", "http://127.0.0.1:7080", "127.0.0.1:7081");
    /** The store an operator restored and promoted offline (restore --promote), started as walship leader --archive. */
    static final LeaseRecord.Holder N = new LeaseRecord.Holder("node-n", "http://127.0.0.1:7090", "127.0.0.1:7091");
    /** A follower of N (on N's timeline). */
    static final LeaseRecord.Holder G = new LeaseRecord.Holder("node-g", "http://127.0.0.1:7100", "127.0.0.1:7101");

    @TempDir
    Path tmp;
    ObjectStore store;
    final ManualLeaseClock clock = new ManualLeaseClock(1_780_000_000_000_000L);

    /** The archive the lease lives in. */
    protected ObjectStore newStore() throws Exception {
        return new LocalObjectStore(tmp.resolve("archive"));
    }

    @BeforeEach
    void open() throws Exception {
        store = newStore();
        store.verifyAccess();
    }

    @AfterEach
    void close() {
        store.close();
    }

    private LeaderLease acquire(LeaseRecord.Holder who, int timeline) {
        return acquire(store, who, timeline);
    }

    private LeaderLease acquire(ObjectStore s, LeaseRecord.Holder who, int timeline) {
        return LeaderLease.acquire(s, who, timeline, TTL, MARGIN, clock);
    }

    /** A live promotion's take of the lease on its old timeline ({@code PromotionLease}). */
    private LeaderLease toPromote(LeaseRecord.Holder who, int timeline) {
        return LeaderLease.acquireToPromote(store, who, timeline, TTL, MARGIN, clock);
    }

    @Test
    void theFirstAcquireCreatesTermOneAndOthersSeeWhoLeads() {
        assertTrue(LeaderLease.current(store).isEmpty());
        LeaderLease a = acquire(A, 1);
        LeaseRecord r = LeaderLease.current(store).orElseThrow();
        assertEquals(a.record(), r);
        assertEquals(1, r.term());
        assertEquals("node-a", r.nodeId());
        assertEquals("http://127.0.0.1:7070", r.httpUrl());
        assertEquals("127.0.0.1:7071", r.replUrl());
        assertEquals(clock.wallMicros() + 10_000_000L, r.expiresAtMicros());
        assertEquals(TTL.minus(MARGIN).toNanos(), a.validForNanos(), "valid for TTL minus the margin, monotonic");
        LeaseException.Held held = assertThrows(LeaseException.Held.class, () -> acquire(B, 1));
        assertEquals("node-a", held.current().nodeId());
        assertTrue(held.getMessage().contains("node-a"), held.getMessage());
    }

    @Test
    void renewalExtendsTheLeaseAndKeepsTheTerm() {
        LeaderLease a = acquire(A, 1);
        clock.advance(Duration.ofMillis(3333));
        a.renew();
        LeaseRecord r = LeaderLease.current(store).orElseThrow();
        assertEquals(1, r.term());
        assertEquals(clock.wallMicros() + 10_000_000L, r.expiresAtMicros());
        assertEquals(TTL.minus(MARGIN).toNanos(), a.validForNanos());
        clock.advance(Duration.ofSeconds(9));
        assertEquals(0, a.validForNanos(), "at expiry minus the margin the holder must stop");
    }

    @Test
    void anExpiredLeaseIsTakenOnlyPastTheSkewMarginAndTheOldHoldersRenewalIsRefused() {
        LeaderLease a = acquire(A, 1);
        long expires = a.record().expiresAtMicros();
        clock.advance(TTL); // exactly at expiry: not yet
        assertThrows(LeaseException.Held.class, () -> acquire(B, 1));
        clock.advance(MARGIN); // expiry + margin: still not (strictly after)
        assertThrows(LeaseException.Held.class, () -> acquire(B, 1));
        clock.advance(Duration.ofNanos(1000));
        LeaderLease b = acquire(B, 1);
        assertEquals(2, b.record().term(), "a takeover takes the next term");
        assertTrue(clock.wallMicros() > expires + MARGIN.toNanos() / 1000);
        assertTrue(a.validForNanos() <= 0, "the old holder had stopped a whole 2 margins before");
        LeaseException.Lost lost = assertThrows(LeaseException.Lost.class, a::renew, "a stale renewal is refused");
        assertEquals("node-b", lost.current().nodeId());
        assertEquals("node-b", LeaderLease.current(store).orElseThrow().nodeId(), "and changes nothing");
        assertThrows(LeaseException.Lost.class, a::renew, "lost for good");
        assertEquals(0, a.validForNanos());
    }

    @Test
    void aClockAheadByUpToTwoMarginsNeverOverlapsTheHolder() {
        LeaderLease a = acquire(A, 1);
        // The holder stops a margin before expiry (its own monotonic clock), a taker waits a margin past
        // it (its wall clock): B's wall clock may run ahead by almost two margins without an overlap.
        // Without either margin this fails.
        LeaseClock bAhead = clock.skewed(MARGIN.multipliedBy(2).minusMillis(1));
        for (int ms = 0; ms <= 20_000; ms += 250) {
            boolean aMayWrite = a.validForNanos() > 0;
            try {
                LeaderLease.acquire(store, B, 1, TTL, MARGIN, bAhead);
                assertFalse(aMayWrite, "B took the lease while A could still acknowledge, at +" + ms + " ms");
                return;
            } catch (LeaseException.Held expected) {
                // not yet
            }
            clock.advance(Duration.ofMillis(250));
        }
        throw new AssertionError("B never took the expired lease");
    }

    @Test
    void aRestartedHolderTakesItsOwnLeaseAtOnceWithTheNextTerm() {
        acquire(A, 1);
        clock.advance(Duration.ofSeconds(2)); // killed -9, restarted; the old lease has 8 s left
        LeaderLease again = acquire(A, 1);
        assertEquals(2, again.record().term());
    }

    @Test
    void aReleasedLeaseIsTakenAtOnce() {
        LeaderLease a = acquire(A, 1);
        a.release();
        assertTrue(LeaderLease.current(store).orElseThrow().released());
        assertEquals(0, a.validForNanos());
        LeaderLease b = acquire(B, 2);
        assertEquals(2, b.record().term(), "the term goes on: a release never deletes the lease");
    }

    @Test
    void aNewerTimelineInTheLeaseOrTheArchiveSupersedesAnOldLeader() {
        LeaderLease a = acquire(A, 1);
        a.release();
        acquire(B, 2);
        LeaseException.Superseded s = assertThrows(LeaseException.Superseded.class, () -> acquire(A, 1));
        assertTrue(s.getMessage().contains("timeline 2"), s.getMessage());

        // no lease at all, but the archive holds timeline 3: an old leader must not start writing
        ObjectStore other = new LocalObjectStore(tmp.resolve("other"));
        other.create(ArchiveLayout.historyKey(3), new ByteArrayInputStream("{}".getBytes()));
        assertThrows(LeaseException.Superseded.class,
                () -> LeaderLease.acquire(other, A, 2, TTL, MARGIN, clock));
    }

    /** An unreadable claim fences everyone, the leader whose lease it is too: when it was made cannot be known. */
    @Test
    void anUnreadableClaimFencesEvenTheLeaderWhoseLeaseItIs() {
        acquire(A, 1);
        store.create(ArchiveLayout.historyKey(2), new ByteArrayInputStream("{}".getBytes())); // unreadable: live
        clock.advance(Duration.ofSeconds(30)); // A restarts long after
        LeaseException.Superseded s = assertThrows(LeaseException.Superseded.class, () -> acquire(A, 1));
        assertTrue(s.getMessage().contains("cannot be read"), s.getMessage());
        assertThrows(LeaseException.Superseded.class, () -> acquire(B, 1), "nor anyone else");
    }

    /** A claim made now (the manual clock's wall time), as a promoting node would write it. */
    private void history(int timeline, int parent, String reason, String promotion) {
        long at = clock.wallMicros();
        store.create(ArchiveLayout.historyKey(timeline), new ByteArrayInputStream(new TimelineHistory(1, timeline, parent,
                "0000000000000040", "2026-01-01T00:00:00Z",
                java.time.Instant.ofEpochSecond(at / 1_000_000, at % 1_000_000 * 1000).toString(), reason, promotion)
                .toJson()));
    }

    /**
     * review30: a claim by an offline promotion (an inspection copy made with restore --promote, in the record's
     * {@code promotion} field or, in an older record, its reason) does not supersede a live promotion: one of the
     * dead leader's followers takes the lease on the old timeline (and then claims past the copy). A live promotion's
     * claim supersedes everyone but the lease's holder; a leader (re)starting is superseded by any newer claim unless
     * the lease is its own (review32b: an offline failover's claim fences the old leader).
     */
    @Test
    void onlyALivePromotionsClaimSupersedesANodeOnAnOlderTimeline() {
        acquire(A, 1); // the leader, then it dies
        history(2, 1, "restore --promote to the end of the archive", TimelineHistory.OFFLINE);
        history(3, 1, "restore --promote to LSN 0000000000000040", null); // an older walship's copy
        clock.advance(Duration.ofSeconds(30));
        LeaderLease b = toPromote(B, 1); // a follower of timeline 1 being promoted live
        assertEquals(1, b.record().timeline());
        assertEquals(2, b.record().term());

        history(4, 1, "live promotion of node-b at LSN 0000000000000040", TimelineHistory.LIVE);
        b.release();
        LeaseException.Superseded s = assertThrows(LeaseException.Superseded.class, () -> acquire(A, 1));
        assertTrue(s.getMessage().contains("timeline 4"), s.getMessage());
        // an older walship's record, with a live promotion's reason, counts as live too
        history(5, 4, "live promotion of node-c at LSN 0000000000000050", null);
        s = assertThrows(LeaseException.Superseded.class, () -> acquire(A, 4));
        assertTrue(s.getMessage().contains("timeline 5"), s.getMessage());
    }

    /**
     * review30: an offline promotion (walship promote --data) claimed timeline 2 but its leader has not started;
     * meanwhile a live promotion passed over the claim and leads timeline 3. The offline-promoted store, started as
     * walship leader --archive on timeline 2, finds the lease on timeline 3 and is superseded: never two leaders.
     */
    @Test
    void anOfflinePromotedStoreStartedAfterALivePromotionPassedItOverIsSuperseded() {
        acquire(A, 1);
        history(2, 1, "promote at LSN 0000000000000040", TimelineHistory.OFFLINE);
        clock.advance(Duration.ofSeconds(30)); // A died
        LeaderLease b = toPromote(B, 1);
        history(3, 1, "live promotion of node-b at LSN 0000000000000040", TimelineHistory.LIVE);
        LeaderLease b3 = acquire(B, 3); // its own, at once
        assertEquals(3, b3.record().timeline());
        assertEquals(b.record().term() + 1, b3.record().term());
        LeaseRecord.Holder c = new LeaseRecord.Holder("node-c", "http://127.0.0.1:7090", "127.0.0.1:7091");
        LeaseException.Superseded s = assertThrows(LeaseException.Superseded.class, () -> acquire(c, 2));
        assertTrue(s.getMessage().contains("timeline 3"), s.getMessage());
        clock.advance(Duration.ofSeconds(60)); // even once B's lease expired, or after it released it
        assertThrows(LeaseException.Superseded.class, () -> acquire(c, 2));
        b3.release();
        assertThrows(LeaseException.Superseded.class, () -> acquire(c, 2));
    }

    /**
     * review30: the lease only moves to newer timelines, so one on a timeline off this node's ancestry was taken
     * after this node's timeline forked, by a node leading another history: an offline-promoted store (timeline 2,
     * forked from 1) that leads while a live promotion, having passed over its claim, claims timeline 3 (forked from
     * 1). That promotion's node must never take the lease from it, even once it expires: it would lose what timeline 2
     * acknowledged. Along the ancestry the lease is taken as before.
     */
    @Test
    void aLeaseOnATimelineOffThisNodesAncestrySupersedesIt() {
        acquire(A, 1);
        history(2, 1, "promote at LSN 0000000000000040", TimelineHistory.OFFLINE);
        clock.advance(Duration.ofSeconds(30));
        LeaderLease f = acquire(A, 2); // the offline-promoted store leads timeline 2
        history(3, 1, "live promotion of node-b at LSN 0000000000000040", TimelineHistory.LIVE);
        clock.advance(Duration.ofSeconds(30)); // expired
        LeaseException.Superseded s = assertThrows(LeaseException.Superseded.class, () -> acquire(B, 3));
        assertTrue(s.getMessage().contains("not an ancestor") && s.getMessage().contains("timeline 3 forked from 1"),
                s.getMessage());
        f.release();
        assertThrows(LeaseException.Superseded.class, () -> acquire(B, 3), "released: still not");
        // a child of timeline 2 takes it, as a promotion of the leader of 2's follower does
        history(4, 2, "live promotion of node-b at LSN 0000000000000050", TimelineHistory.LIVE);
        assertEquals(4, acquire(B, 4).record().timeline());
    }

    @Test
    void aRenewalWhoseAnswerWasLostIsOurOwn() {
        LostAnswerStore lossy = new LostAnswerStore(store, k -> k.equals(ArchiveLayout.LEASE));
        LeaderLease a = LeaderLease.acquire(lossy, A, 1, TTL, MARGIN, clock);
        clock.advance(Duration.ofSeconds(3));
        a.renew(); // stored, then answered 412 for our own bytes
        assertTrue(lossy.lost().stream().anyMatch(k -> k.startsWith(ArchiveLayout.LEASE + "@")), lossy.lost().toString());
        assertEquals(TTL.minus(MARGIN).toNanos(), a.validForNanos());
        clock.advance(Duration.ofSeconds(3));
        a.renew(); // and the next renewal uses the right ETag
        assertEquals(a.record(), LeaderLease.current(store).orElseThrow());
    }

    @Test
    void aRenewalThatErredAfterItWasWrittenIsAdoptedByTheNext() {
        FaultyLeaseStore faulty = new FaultyLeaseStore(store);
        LeaderLease a = LeaderLease.acquire(faulty, A, 1, TTL, MARGIN, clock);
        clock.advance(Duration.ofSeconds(3));
        faulty.failAfterWrite = true;
        assertThrows(StorageException.class, a::renew);
        assertEquals(TTL.minus(MARGIN).minusSeconds(3).toNanos(), a.validForNanos(), "not extended by an unknown outcome");
        clock.advance(Duration.ofSeconds(3));
        a.renew(); // 412 against the old ETag, but the bytes there are our failed renewal's
        assertEquals(TTL.minus(MARGIN).toNanos(), a.validForNanos());
        assertEquals(a.record(), LeaderLease.current(store).orElseThrow());
    }

    @Test
    void aCorruptLeaseIsNamedNotOverwritten() {
        store.createReturningEtag(ArchiveLayout.LEASE, "not json".getBytes());
        CorruptObjectException e = assertThrows(CorruptObjectException.class, () -> acquire(A, 1));
        assertTrue(e.getMessage().contains(ArchiveLayout.LEASE), e.getMessage());
    }

    @Test
    void badTimesAreRefused() {
        assertThrows(IllegalArgumentException.class,
                () -> LeaderLease.acquire(store, A, 1, Duration.ofSeconds(3), Duration.ofSeconds(1), clock));
        assertThrows(IllegalArgumentException.class,
                () -> LeaderLease.acquire(store, A, 1, Duration.ZERO, Duration.ZERO, clock));
    }

    // review32b: lease takes once offline promotions' claims stopped fencing live promotions (each test walks one
    // sequence of takes a cluster makes and says which must be refused so that no acknowledged write is lost)

    /**
     * An offline failover while the old leader may come back. L leads timeline 1 and dies; automatic failover starts:
     * follower F takes the lease on 1 and its promotion is refused (a peer ahead could not be fetched from), so it
     * releases it. The operator fails over offline: restore --promote claims timeline 2 (forked at the archive's end
     * of 1), to start as walship leader --data NEW. Before NEW is up, L is restarted (systemd). On main L is
     * superseded (the archive holds timeline 2 and the lease is not L's); on the claims branch the offline claim
     * counts for nothing, so L takes the lease on timeline 1 and acknowledges writes past timeline 2's fork. When L
     * stops (a clean stop releases the lease) or dies, NEW takes the lease on timeline 2 — its parent is the lease's
     * timeline, so offAncestry passes — and leads a history without L's acknowledged writes. One of the two takes
     * must be refused.
     */
    @Test
    void anOldLeaderThatLedAgainAfterAnOfflineClaimIsNotOverwrittenByThatClaimsStore() {
        acquire(store, L, 1);
        clock.advance(Duration.ofSeconds(30)); // L died
        LeaderLease.acquireToPromote(store, F, 1, TTL, MARGIN, clock).release(); // an automatic failover attempt,
        // refused after the lease step
        history(2, 1, "restore --promote to the end of the archive", TimelineHistory.OFFLINE);
        LeaderLease back;
        try {
            back = acquire(store, L, 1); // L restarted before NEW is up
        } catch (LeaseException.Superseded s) {
            return; // main: the old leader is superseded by the claim, nothing it acknowledges is lost
        }
        // L leads timeline 1 again and acknowledges writes past timeline 2's fork; then it stops
        back.release();
        assertThrows(LeaseException.Superseded.class, () -> acquire(store, N, 2),
                "timeline 1 led again (a new lease term) after timeline 2 forked from it: the offline-promoted store"
                        + " taking the lease would lose every write the old leader acknowledged since");
    }

    /**
     * The race offAncestry was added for: NEW (offline, timeline 2) took the lease after the live promotion of F
     * renewed it on timeline 1, and F's claim of timeline 3 landed after that; NEW leads 2 and acknowledges writes.
     * NEW dies. F's lease keeper on timeline 3 retries every TTL/3; a history read that fails on the way (a 503 after
     * the SDK's retries, a slow archive) makes offAncestry skip its check ("only the other checks decide"), and NEW's
     * lease, expired, is taken: F leads timeline 3, which lacks everything NEW acknowledged on 2. newestLiveTimeline
     * counts an unreadable record as live (doubt refuses); offAncestry lets the doubt through.
     */
    @Test
    void anUnreadableHistoryDoesNotLetTheLeaseBeTakenFromATimelineOffTheTakersAncestry() {
        acquire(store, L, 1);
        history(2, 1, "restore --promote to the end of the archive", TimelineHistory.OFFLINE);
        clock.advance(Duration.ofSeconds(30)); // L died
        acquire(store, N, 2); // NEW leads timeline 2
        history(3, 1, "live promotion of node-f at LSN 0000000000000040", TimelineHistory.LIVE); // F's late claim
        clock.advance(Duration.ofSeconds(30)); // NEW died, its lease expired
        ObjectStore flaky = new ForwardingObjectStore(store) {
            @Override
            public InputStream get(String key) {
                if (key.equals(ArchiveLayout.historyKey(3))) {
                    throw new StorageException("get " + key + ": injected: HTTP 503 after every retry");
                }
                return super.get(key);
            }
        };
        assertThrows(RuntimeException.class, () -> acquire(flaky, F, 3),
                "the lease is on timeline 2; whether 2 is an ancestor of 3 is unknown: taking it may lose 2's writes");
        // with the record readable, the same take is refused (as the claims branch's own test shows)
        assertThrows(LeaseException.Superseded.class, () -> acquire(store, F, 3));
    }

    /**
     * After that race (NEW leads timeline 2; F's live claim of timeline 3, forked from 1, never led: F was superseded
     * at its lease take), NEW dies and its follower G is promoted (automatic failover). G takes the lease on timeline
     * 2 first — and is superseded for ever by "the archive holds timeline 3, claimed by a live promotion", although
     * claimNext from 2 would pass over 3 (another parent's claim) and 3 can never lead (the lease is on 2, off its
     * ancestry). Every live promotion of NEW's followers is refused for good: the liveness review30 fixed for copies,
     * lost again through a claim the walk itself passes over.
     */
    @Test
    void aLiveClaimOfAnotherParentThatCanNeverLeadDoesNotBlockTheFailoverOfTheTimelineThatLeads() {
        acquire(store, L, 1);
        history(2, 1, "restore --promote to the end of the archive", TimelineHistory.OFFLINE);
        clock.advance(Duration.ofSeconds(30));
        acquire(store, N, 2);
        history(3, 1, "live promotion of node-f at LSN 0000000000000040", TimelineHistory.LIVE);
        assertThrows(LeaseException.Superseded.class, () -> acquire(store, F, 3)); // F never leads 3
        clock.advance(Duration.ofSeconds(30)); // NEW died
        assertDoesNotThrow(() -> LeaderLease.acquireToPromote(store, G, 2, TTL, MARGIN, clock),
                "a follower of timeline 2's leader takes the lease on 2 to be promoted (it then claims 4)");
    }

    // review33: the second round (acquire vs acquireToPromote, descendants)

    /**
     * A live promotion that claimed its timeline is superseded for ever by a drill copy claimed before its lease
     * keeper took the lease on the claimed timeline. F (follower of 1) takes the lease on 1 (acquireToPromote), claims
     * 2 (live). Between the claim and LiveFollower.becomeLeader's LeaseKeeper start (saving histories, closing the
     * cascade, Store.open — or, after a failure past the claim, until the operator runs the advised "walship leader
     * --data … --node-id F"), an operator's restore --promote drill claims 3. F's take on 2 (acquire, the leader
     * rule: newestTimeline 3 > 2, and the lease — F's own — is on 1, not 2) is Superseded: F refuses writes for good,
     * and no follower of 1 can fail over either (2 is a live claim from 1). The cluster has no leader until an operator
     * steps in, although claims2's promise is that an inspection copy never blocks a failover. (Same shape on main,
     * where claimNext took exactly 2 and a copy claimed 3 in the window.)
     */
    @Test
    void aDrillCopyClaimedBetweenALiveClaimAndItsLeaseTakeDoesNotSupersedeTheNewLeader() {
        LeaderLease.acquire(store, L, 1, TTL, MARGIN, clock);
        clock.advance(Duration.ofSeconds(30)); // L died
        LeaderLease.acquireToPromote(store, F, 1, TTL, MARGIN, clock).renew(); // step 2, renewed before the claim
        history(2, 1, "live promotion of node-f at LSN 0000000000000040", TimelineHistory.LIVE); // F's claim
        history(3, 1, "restore --promote to the end of the archive", TimelineHistory.OFFLINE); // a drill, meanwhile
        assertDoesNotThrow(() -> LeaderLease.acquire(store, F, 2, TTL, MARGIN, clock),
                "F's lease keeper on its claimed timeline 2, the lease still F's own on 1: the drill copy 3 never led");
        // and no other follower of 1 could fail over instead
    }

    /**
     * A transient archive failure reading one history record during newestLiveDescendant (a 503 after the SDK's
     * retries) makes acquireToPromote throw Superseded ("the archive holds timeline 2, claimed by a live promotion"),
     * which PromotionLease turns at once into a 409 "another promotion already happened" — not retried until its
     * deadline as an archive failure (and as offAncestry's StorageException now is). Here 2 is a drill copy: nothing
     * supersedes F, and the same take a moment later succeeds. Doubt may refuse, but as an archive failure (retried),
     * not as a verdict that a live promotion happened.
     */
    @Test
    void aTransientFailureReadingAHistoryIsAnArchiveFailureNotASupersedingLiveClaim() {
        LeaderLease.acquire(store, L, 1, TTL, MARGIN, clock);
        history(2, 1, "restore --promote to the end of the archive", TimelineHistory.OFFLINE);
        clock.advance(Duration.ofSeconds(30)); // L died
        AtomicBoolean failed = new AtomicBoolean();
        ObjectStore flaky = new ForwardingObjectStore(store) {
            @Override
            public InputStream get(String key) {
                if (key.equals(ArchiveLayout.historyKey(2)) && failed.compareAndSet(false, true)) {
                    throw new StorageException("get " + key + ": injected: HTTP 503 after every retry");
                }
                return super.get(key);
            }
        };
        RuntimeException e = assertThrows(RuntimeException.class,
                () -> LeaderLease.acquireToPromote(flaky, F, 1, TTL, MARGIN, clock));
        assertTrue(!(e instanceof LeaseException.Superseded),
                "a failed read is an archive failure (PromotionLease retries it), not a live promotion's claim: " + e);
        assertDoesNotThrow(() -> LeaderLease.acquireToPromote(flaky, F, 1, TTL, MARGIN, clock));
    }

    /**
     * Cost: while the old leader's lease is held, PromotionLease polls acquireToPromote every min(TTL/10, 500 ms), and
     * each poll reads every history record newer than the follower's timeline before it finds the lease Held (and logs
     * one INFO line per offline claim). Drill copies made while a timeline leads are all newer than it and never
     * deleted: with N of them a failover wait of TTL + 2·margin costs N GETs per poll (N × ~25 GETs, N × 25 log
     * lines), and each take spends N sequential GETs between reading the lease and writing it. Histories are
     * immutable: a wait should not read each more than once, and a Held poll need not read them at all.
     */
    @Test
    void pollingAHeldLeaseDoesNotReReadEveryDrillCopysHistory() {
        int copies = 50;
        LeaderLease.acquire(store, L, 1, TTL, MARGIN, clock); // L alive (or dead, lease not yet expired)
        for (int t = 2; t < 2 + copies; t++) {
            history(t, 1, "restore --promote to the end of the archive", TimelineHistory.OFFLINE);
        }
        AtomicInteger reads = new AtomicInteger();
        ObjectStore counting = new ForwardingObjectStore(store) {
            @Override
            public InputStream get(String key) {
                if (ArchiveLayout.parseHistory(key).isPresent()) {
                    reads.incrementAndGet();
                }
                return super.get(key);
            }
        };
        int polls = 10;
        for (int i = 0; i < polls; i++) {
            assertThrows(LeaseException.Held.class, () -> LeaderLease.acquireToPromote(counting, F, 1, TTL, MARGIN, clock));
            clock.advance(Duration.ofMillis(500));
        }
        System.out.println("history GETs for " + polls + " Held polls with " + copies + " drill copies: " + reads.get());
        assertTrue(reads.get() <= copies, "history GETs for " + polls + " Held polls with " + copies
                + " drill copies: " + reads.get() + " (each poll re-reads every record)");
    }

    // an own lease and an offline claim: made beside the running leader (a drill copy), or while it was down (a failover)

    /** A claim whose record says it was made at the clock's wall time now, plus {@code offset}. */
    private void claimNow(int timeline, int parent, String promotion, Duration offset) {
        long at = clock.wallMicros() + offset.toNanos() / 1000;
        store.create(ArchiveLayout.historyKey(timeline), new ByteArrayInputStream(new TimelineHistory(1, timeline, parent,
                "0000000000000040", "2026-01-01T00:00:00Z",
                java.time.Instant.ofEpochSecond(at / 1_000_000, at % 1_000_000 * 1000).toString(),
                "restore --promote to the end of the archive", promotion).toJson()));
    }

    /**
     * L leads timeline 1 and is killed; while it is down the operator fails over offline (restore --promote claims 2,
     * to be started as a leader). L is restarted under its own node id (systemd) before or after NEW is up: its lease
     * is its own, but the claim came after its last renewal, so it must not lead 1 again (before: it took term 2, a
     * WARN "a promotion that never led", and acknowledged writes that timeline 2 never holds — two leaders).
     */
    @Test
    void anOldLeaderRestartedUnderItsOwnLeaseAfterAnOfflineFailoverIsSuperseded() {
        acquire(L, 1);
        clock.advance(Duration.ofSeconds(30)); // L killed; its lease expired
        claimNow(2, 1, TimelineHistory.OFFLINE, Duration.ZERO);
        clock.advance(Duration.ofSeconds(5));
        LeaseException.Superseded s = assertThrows(LeaseException.Superseded.class, () -> acquire(L, 1));
        assertTrue(s.getMessage().contains("timeline 2 was claimed") && s.getMessage().contains("was down"),
                s.getMessage());
        assertEquals(1, LeaderLease.current(store).orElseThrow().term(), "nothing written");
        assertDoesNotThrow(() -> acquire(N, 2), "the offline-promoted store leads timeline 2");
    }

    /** The same after a clean stop: a released lease was last renewed when it was released. */
    @Test
    void anOldLeaderThatReleasedItsLeaseBeforeAnOfflineFailoverIsSupersededOnRestart() {
        acquire(L, 1).release();
        clock.advance(Duration.ofSeconds(2));
        claimNow(2, 1, TimelineHistory.OFFLINE, Duration.ZERO);
        assertThrows(LeaseException.Superseded.class, () -> acquire(L, 1));
    }

    /**
     * A drill copy promoted while L runs: L renews its lease after the claim, so a later restart of L (a deploy, or
     * kill -9) keeps leading timeline 1; a copy made within the skew margin before L's last renewal cannot be told
     * from one made after it (the two clocks may differ by the margin), and fences L.
     */
    @Test
    void aCopyPromotedBesideTheRunningLeaderDoesNotFenceItsRestartButOneWithinTheMarginDoes() {
        LeaderLease l = acquire(L, 1);
        clock.advance(Duration.ofSeconds(1));
        claimNow(2, 1, TimelineHistory.OFFLINE, Duration.ZERO); // the drill, L running
        clock.advance(MARGIN.plusSeconds(2));
        l.renew();
        clock.advance(Duration.ofSeconds(30)); // L killed
        assertEquals(2, acquire(L, 1).record().term(), "L keeps leading: the copy was made while it renewed");

        clock.advance(Duration.ofSeconds(2));
        LeaderLease again = acquire(L, 1); // term 3, renewed now
        claimNow(3, 1, TimelineHistory.OFFLINE, MARGIN.dividedBy(2).negated()); // a clock half a margin behind
        again.release();
        assertThrows(LeaseException.Superseded.class, () -> acquire(L, 1));
    }

    // rev34: adversarial review of the own-lease fence (branch ownfence)

    /**
     * rev34 D1: an offline failover's claim that this binary cannot read (a newer walship's restore --promote writes
     * history format 2; or any record that fails TimelineHistory.read) is counted by descendants ("corrupt
     * counts", doubt refuses) but skipped by claimedWhileDown ({@code h != null}). So L, killed and restarted under its
     * own lease after the failover, leads timeline 1 again with the WARN "renewed after that claim: a copy promoted
     * beside this running leader" — the two-leader / lost-writes shape the commit fixes for readable records, while an
     * unparsable createdAt in a readable record does fence (Long.MAX_VALUE). Doubt should refuse here too.
     */
    @Test
    void rev34AnOldLeaderRestartedAfterAFailoverWhoseClaimItCannotReadIsSuperseded() {
        acquire(L, 1);
        clock.advance(Duration.ofSeconds(30)); // L killed; its lease expired
        long at = clock.wallMicros();
        // the failover's claim, written by a newer walship (history format 2) while L was down
        store.create(ArchiveLayout.historyKey(2), new ByteArrayInputStream(new TimelineHistory(2, 2, 1,
                "0000000000000040", "2026-01-01T00:00:00Z",
                java.time.Instant.ofEpochSecond(at / 1_000_000, at % 1_000_000 * 1000).toString(),
                "restore --promote to the end of the archive", TimelineHistory.OFFLINE).toJson()));
        clock.advance(Duration.ofSeconds(5));
        assertThrows(LeaseException.Superseded.class, () -> acquire(L, 1),
                "a claim made after L's last renewal that L cannot read: doubt refuses, as for an unparsable createdAt");
        assertThrows(LeaseException.Superseded.class, () -> acquire(B, 1), "as it is for anyone else");
    }

    // rev35: a review of a fork rule (a lease renewed after a claim = the parent led on), not adopted

    /**
     * rev35 D1: the fork rule reads the lease's renewedAt as "timeline 1 led on after the fork", but a live promotion's
     * take of the lease on 1 (acquireToPromote: automatic failover, walship promote --url) writes renewedAt too, and a
     * refused promotion releases it (renewedAt = the release time). L dies; the operator fails over offline (restore
     * --promote claims 2 while L is down); before N is started, a follower's promotion takes the lease on 1 (it passes
     * over offline claims) and is refused (a peer holds more WAL and the fetch failed, …), releasing it. Nobody
     * acknowledged anything on 1 after the fork, yet N is Superseded for good ("timeline 1 led on after the fork … lacks
     * what it acknowledged since"), and L too (the lease is no longer its own): nobody can lead until another copy.
     */
    @Test
    void rev35AnOfflineFailoverIsNotFencedByARefusedLivePromotionsTakeOfTheOldTimeline() {
        acquire(L, 1);
        clock.advance(Duration.ofSeconds(30)); // L killed; its lease expired
        claimNow(2, 1, TimelineHistory.OFFLINE, Duration.ZERO); // the operator's offline failover, L down
        clock.advance(Duration.ofSeconds(2));
        LeaderLease f = toPromote(F, 1); // automatic failover of a follower takes the lease on 1 ...
        clock.advance(Duration.ofSeconds(1));
        f.release(); // ... and is refused before it claims anything
        clock.advance(Duration.ofSeconds(1));
        assertThrows(LeaseException.Superseded.class, () -> acquire(L, 1), "L: a failover happened while it was down");
        LeaderLease n = acquire(N, 2); // a fork rule keyed on the lease's renewedAt refused this
        assertEquals(2, n.record().timeline());
    }

    /**
     * A claim's time is only read for a leader restarting under its own lease: an offline claim whose createdAt cannot
     * be parsed (not walship's writing) does not stop a live promotion, which passes over offline claims.
     */
    @Test
    void anUnparsableClaimTimeDoesNotStopALivePromotion() {
        acquire(L, 1);
        store.create(ArchiveLayout.historyKey(2), new ByteArrayInputStream(new TimelineHistory(1, 2, 1,
                "0000000000000040", "2026-01-01T00:00:00Z", "yesterday", "restore --promote to the end of the archive",
                TimelineHistory.OFFLINE).toJson()));
        clock.advance(Duration.ofSeconds(30)); // L died
        assertDoesNotThrow(() -> toPromote(F, 1));
    }

    // a copy restored to the end of the archive (fork "end") forked where its parent's archived WAL ended: parent WAL
    // archived past the fork was acknowledged after the copy was made (rev34 D2 and rev35 D3 where the parent shipped)

    /** Timeline {@code timeline}'s claim from {@code parent} after LSN {@code fork}, made now, with {@code forkKind}. */
    private void claimAt(int timeline, int parent, long fork, String forkKind, String reason) {
        long at = clock.wallMicros();
        store.create(ArchiveLayout.historyKey(timeline), new ByteArrayInputStream(new TimelineHistory(1, timeline, parent,
                ArchiveLayout.lsnHex(fork), "2026-01-01T00:00:00Z", LeaseRecord.instant(at).toString(), reason,
                TimelineHistory.OFFLINE, forkKind).toJson()));
    }

    /** A WAL segment of {@code timeline} in the archive (its name is all the lease take reads). */
    private void archived(int timeline, long first, long last) {
        store.create(new ArchiveLayout.SegmentName(timeline, first, last).key(), new ByteArrayInputStream(new byte[]{1}));
    }

    @Test
    void aCopyRestoredToTheEndDoesNotLeadOnceItsParentArchivedWalPastTheFork() {
        LeaderLease l = acquire(L, 1);
        archived(1, 1, 0x40);
        claimAt(2, 1, 0x40, TimelineHistory.FORK_END, "restore --promote to the end of the archive"); // beside L
        clock.advance(Duration.ofSeconds(3));
        l.renew();
        archived(1, 0x41, 0x48); // L acknowledged and shipped more on timeline 1
        assertThrows(LeaseException.Held.class, () -> acquire(N, 2), "while L holds the lease: waits (lists nothing)");
        l.release(); // a clean stop
        clock.advance(Duration.ofSeconds(1));
        LeaseException.Superseded past = assertThrows(LeaseException.Superseded.class, () -> acquire(N, 2),
                "not after L released its lease");
        assertTrue(past.getMessage().contains("timeline 1 went on past the fork of timeline 2")
                && past.getMessage().contains("0000000000000048") && past.getMessage().contains("restore --lsn"),
                past.getMessage());
        clock.advance(Duration.ofSeconds(60));
        assertThrows(LeaseException.Superseded.class, () -> acquire(N, 2), "nor once it expired");
        LeaseRecord r = LeaderLease.current(store).orElseThrow();
        assertEquals("node-l", r.nodeId(), "nothing written");
        assertTrue(r.released());
        // restored again, to the new end: the copy holds everything timeline 1 archived, and leads
        claimAt(3, 1, 0x48, TimelineHistory.FORK_END, "restore --promote to the end of the archive");
        assertEquals(3, acquire(N, 3).record().timeline());
    }

    /** The offline failover: the old leader killed, the copy restored to the archive's end, which nothing passed. */
    @Test
    void aCopyRestoredToTheEndLeadsWhenItsParentArchivedNothingPastTheFork() {
        acquire(L, 1);
        archived(1, 1, 0x20);
        archived(1, 0x21, 0x40);
        clock.advance(Duration.ofSeconds(30)); // L killed
        claimAt(2, 1, 0x40, TimelineHistory.FORK_END, "restore --promote to the end of the archive");
        assertEquals(2, acquire(N, 2).record().timeline());
    }

    /** A restore to a chosen LSN or time forks before the archive's end on purpose: no check (fork absent). */
    @Test
    void aDeliberateForkBeforeTheArchivesEndLeads() {
        acquire(L, 1).release();
        archived(1, 1, 0x80);
        claimAt(2, 1, 0x40, null, "restore --promote to up to LSN 0000000000000040");
        assertEquals(2, acquire(N, 2).record().timeline());
    }

    /**
     * The check follows the path down to the lease's timeline: a deliberate fork (3 from 2) of a copy restored to the
     * end (2 from 1) whose parent went on is refused as well, and the walk reads histories, not WAL, of the steps it
     * passes.
     */
    @Test
    void aForkOfACopyWhoseParentWentOnIsRefusedToo() {
        acquire(L, 1).release();
        archived(1, 1, 0x40);
        claimAt(2, 1, 0x40, TimelineHistory.FORK_END, "restore --promote to the end of the archive");
        archived(1, 0x41, 0x41);
        claimAt(3, 2, 0x40, null, "restore --promote to up to LSN 0000000000000040");
        LeaseException.Superseded s = assertThrows(LeaseException.Superseded.class, () -> acquire(N, 3));
        assertTrue(s.getMessage().contains("timeline 1 went on past the fork of timeline 2"), s.getMessage());
    }

    /**
     * The node's own records come first (walship leader: its data directory). A copy restored from another archive
     * has its claim ({@code fork: end}) only there, or the lease's archive holds another claim of its timeline number
     * (a drill forked there on purpose, no {@code fork}): either way its own record decides, and its parent's WAL past
     * the fork refuses it (reviews rev36 D1, rev38 R1). Read from the archive alone, neither was checked.
     */
    @Test
    void theNodesOwnRecordsDecideItsAncestry() {
        acquire(L, 1).release();
        archived(1, 1, 0x48);
        TimelineHistory mine = new TimelineHistory(1, 2, 1, "0000000000000040", "2026-01-01T00:00:00Z",
                LeaseRecord.instant(clock.wallMicros()).toString(), "restore --promote to the end of the archive",
                TimelineHistory.OFFLINE, TimelineHistory.FORK_END);
        java.util.function.IntFunction<java.util.Optional<TimelineHistory>> own =
                t -> t == 2 ? java.util.Optional.of(mine) : java.util.Optional.empty();
        LeaseException.Superseded s = assertThrows(LeaseException.Superseded.class,
                () -> LeaderLease.acquire(store, N, 2, TTL, MARGIN, clock, true, own));
        assertTrue(s.getMessage().contains("timeline 1 went on past the fork of timeline 2"), s.getMessage());
        claimAt(2, 1, 0x40, null, "restore --promote to up to LSN 0000000000000040"); // a drill's claim of 2 here
        assertThrows(LeaseException.Superseded.class, () -> LeaderLease.acquire(store, N, 2, TTL, MARGIN, clock, true, own));
        java.util.function.IntFunction<java.util.Optional<TimelineHistory>> unreadable = t -> {
            throw new IllegalStateException("a damaged file");
        };
        assertEquals(2, LeaderLease.acquire(store, N, 2, TTL, MARGIN, clock, true, unreadable).record().timeline(),
                "an own record that cannot be read: the archive's (the drill's, no fork: end) decides");
    }

    // review rev41

    /**
     * rev41 D1: a follower of a copy restored to the end of another archive promotes live past its parent's shipped
     * WAL. The copy N (timeline 2, {@code fork: end} after LSN 0x40) was restored from the second archive: its claim is
     * only there and in N's data directory until its ship loops, which run under the lease, copy it here. While it
     * waits for L's lease (WAITING) it serves followers ({@code LeaderCommand.leaseGate}: "it serves, as it always
     * did"), so G follows it on timeline 2. L ships past the fork and stops; N's own take is refused
     * ({@link #theNodesOwnRecordsDecideItsAncestry}), but G's live promotion ({@code PromotionLease} →
     * {@code acquireToPromote}, which reads no own records) finds no record of timeline 2 in this archive: neither
     * {@code offAncestry} nor {@code wentOnPastFork} checks anything, G takes the lease on timeline 2, claims 3 from
     * it and leads N's history without what L acknowledged after 0x40.
     */
    @Test
    void rev41aFollowerOfACopyFromTheSecondArchiveDoesNotPromotePastItsParentsShippedWal() {
        LeaderLease l = acquire(L, 1);
        archived(1, 1, 0x40);
        // N restored from the second archive (its end: 0x40) and claimed timeline 2 there; G follows N
        clock.advance(Duration.ofSeconds(3));
        l.renew();
        archived(1, 0x41, 0x48); // L acknowledged and shipped more on timeline 1
        l.release(); // L stops
        clock.advance(Duration.ofSeconds(1));
        assertThrows(LeaseException.Superseded.class, () -> toPromote(G, 2),
                "G's history is N's copy, forked after LSN 0x40: L's writes to 0x48 are not in it");
        assertEquals("node-l", LeaderLease.current(store).orElseThrow().nodeId(), "nothing written");
    }

    /**
     * rev41 D2: an own record that cannot be read falls back to the archive, and where the archive has none (the copy's
     * claim lives only in the second archive and its data directory) nothing is checked: the copy takes the lease past
     * its parent's shipped WAL. Main's rule for an unreadable record on the walk is that doubt refuses
     * ({@code offAncestry}: StorageException, the take retried).
     */
    @Test
    void rev41anUnreadableOwnRecordWithNoneInTheArchiveDoesNotTakeTheLease() {
        acquire(L, 1).release();
        archived(1, 1, 0x48); // the copy forked after 0x40 (restored from the second archive); L went on to 0x48
        java.util.function.IntFunction<java.util.Optional<TimelineHistory>> unreadable = t -> {
            if (t == 2) {
                throw new IllegalStateException("a damaged DATA/timelines/2.history");
            }
            return java.util.Optional.empty();
        };
        assertThrows(RuntimeException.class,
                () -> LeaderLease.acquire(store, N, 2, TTL, MARGIN, clock, true, unreadable),
                "the copy's only record of its fork cannot be read: doubt refuses");
        assertEquals("node-l", LeaderLease.current(store).orElseThrow().nodeId(), "nothing written");
    }
}
