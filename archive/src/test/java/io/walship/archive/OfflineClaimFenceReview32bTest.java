package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Duration;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * review32b: the leader lease once offline promotions' claims stopped fencing anything (claims branch). Manual
 * clock, local archive, no sleeps. Each test walks one sequence of lease takes that the nodes of a cluster make and
 * says which take must be refused so that no acknowledged write is lost.
 */
class OfflineClaimFenceReview32bTest {
    static final Duration TTL = Duration.ofSeconds(10);
    static final Duration MARGIN = Duration.ofSeconds(1);
    /** The leader of timeline 1. */
    static final LeaseRecord.Holder L = new LeaseRecord.Holder("node-l", "http://127.0.0.1:7070", "127.0.0.1:7071");
    /** A follower of timeline 1 (automatic failover). */
    static final LeaseRecord.Holder F = new LeaseRecord.Holder("node-f", "http://127.0.0.1:7080", "127.0.0.1:7081");
    /** The store an operator restored and promoted offline (restore --promote), started as walship leader --archive. */
    static final LeaseRecord.Holder N = new LeaseRecord.Holder("node-n", "http://127.0.0.1:7090", "127.0.0.1:7091");
    /** A follower of N (on N's timeline). */
    static final LeaseRecord.Holder G = new LeaseRecord.Holder("node-g", "http://127.0.0.1:7100", "127.0.0.1:7101");

    @TempDir
    Path tmp;
    ObjectStore store;
    final ManualLeaseClock clock = new ManualLeaseClock(1_780_000_000_000_000L);

    @BeforeEach
    void open() {
        store = new LocalObjectStore(tmp.resolve("archive"));
        store.verifyAccess();
    }

    @AfterEach
    void close() {
        store.close();
    }

    private LeaderLease acquire(ObjectStore s, LeaseRecord.Holder who, int timeline) {
        return LeaderLease.acquire(s, who, timeline, TTL, MARGIN, clock);
    }

    private void history(int timeline, int parent, String reason, String promotion) {
        store.create(ArchiveLayout.historyKey(timeline), new ByteArrayInputStream(new TimelineHistory(1, timeline, parent,
                "0000000000000040", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", reason, promotion).toJson()));
    }

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
}
