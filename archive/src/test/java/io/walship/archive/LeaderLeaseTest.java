package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.file.Path;
import java.time.Duration;

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
        return LeaderLease.acquire(store, who, timeline, TTL, MARGIN, clock);
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

    @Test
    void anOfflinePromotionThatNeverLedDoesNotFenceTheLeaderWhoseLeaseItIs() {
        acquire(A, 1);
        store.create(ArchiveLayout.historyKey(2), new ByteArrayInputStream("{}".getBytes())); // unreadable: live
        clock.advance(Duration.ofSeconds(30)); // A restarts long after
        assertEquals(2, acquire(A, 1).record().term());
        assertThrows(LeaseException.Superseded.class, () -> acquire(B, 1), "not for anyone else");
    }

    private void history(int timeline, int parent, String reason, String promotion) {
        store.create(ArchiveLayout.historyKey(timeline), new ByteArrayInputStream(new TimelineHistory(1, timeline, parent,
                "0000000000000040", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", reason, promotion).toJson()));
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
}
