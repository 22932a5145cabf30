package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
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
 * review33: the second round of the claims change (claims2: acquire vs acquireToPromote, newestLiveDescendant).
 * Manual clock, local archive, no sleeps.
 */
class ClaimsRound2Review33Test {
    static final Duration TTL = Duration.ofSeconds(10);
    static final Duration MARGIN = Duration.ofSeconds(1);
    /** The leader of timeline 1. */
    static final LeaseRecord.Holder L = new LeaseRecord.Holder("node-l", "http://127.0.0.1:7070", "127.0.0.1:7071");
    /** A follower of timeline 1, promoted live. */
    static final LeaseRecord.Holder F = new LeaseRecord.Holder("node-f", "http://127.0.0.1:7080", "127.0.0.1:7081");

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

    private void history(int timeline, int parent, String reason, String promotion) {
        store.create(ArchiveLayout.historyKey(timeline), new ByteArrayInputStream(new TimelineHistory(1, timeline, parent,
                "0000000000000040", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", reason, promotion).toJson()));
    }

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
}
