package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Fencing decisions of the lease keeper, ticked by hand against a manual clock and a faulty archive. */
class LeaseKeeperTest {
    static final Duration TTL = LeaderLeaseTest.TTL;
    static final Duration MARGIN = LeaderLeaseTest.MARGIN;
    static final Duration THIRD = TTL.dividedBy(3);

    @TempDir
    Path tmp;
    FaultyLeaseStore store;
    final ManualLeaseClock clock = new ManualLeaseClock(1_780_000_000_000_000L);

    @BeforeEach
    void open() {
        LocalObjectStore local = new LocalObjectStore(tmp.resolve("archive"));
        local.verifyAccess();
        store = new FaultyLeaseStore(local);
    }

    private LeaseKeeper keeper(LeaseRecord.Holder who, int timeline) {
        return LeaseKeeper.manual(store, who, timeline, TTL, MARGIN, clock);
    }

    @Test
    void aHealthyLeaderRenewsEveryThirdAndStaysWritable() {
        LeaseKeeper a = keeper(LeaderLeaseTest.A, 1);
        assertFalse(a.writable(), "nothing taken before the first tick");
        a.tick();
        for (int i = 0; i < 30; i++) {
            assertTrue(a.writable(), "round " + i);
            clock.advance(THIRD);
            a.tick();
        }
        LeaseKeeper.Status s = a.status();
        assertEquals(LeaseKeeper.State.HELD, s.state());
        assertEquals(30, s.renewals());
        assertEquals(0, s.fencings());
        assertNull(s.reason());
    }

    @Test
    void renewalsFailingFenceBeforeExpiryMinusTheMarginAndACleanRenewalResumes() {
        LeaseKeeper a = keeper(LeaderLeaseTest.A, 1);
        a.tick();
        store.down = true;
        clock.advance(THIRD);
        a.tick();
        assertTrue(a.writable(), "one failed renewal: still valid");
        assertTrue(a.status().reason().contains("renewing the leader lease failed"), a.status().reason());
        clock.advance(THIRD);
        a.tick();
        assertTrue(a.writable());
        clock.advance(TTL.minus(MARGIN).minus(THIRD.multipliedBy(2)).minusMillis(1));
        assertTrue(a.writable(), "1 ms before expiry minus the margin");
        clock.advance(Duration.ofMillis(1));
        assertFalse(a.writable(), "at expiry minus the margin, without any tick");
        LeaseKeeper.Status s = a.status();
        assertEquals(LeaseKeeper.State.FENCED, s.state());
        assertTrue(s.reason().contains("could not be renewed"), s.reason());
        assertEquals(1, s.fencings());
        store.down = false;
        clock.advance(Duration.ofSeconds(5)); // long expired, but nobody took it: the same version renews cleanly
        a.tick();
        assertTrue(a.writable());
        assertEquals(1, a.status().term(), "its own lease, not a new term");
    }

    @Test
    void aFencedLeaderWhoseLeaseWasTakenNeverResumes() {
        LeaseKeeper a = keeper(LeaderLeaseTest.A, 1);
        a.tick();
        store.down = true;
        clock.advance(TTL.plus(MARGIN).plusMillis(1));
        a.tick();
        assertFalse(a.writable());
        LeaseKeeper b = LeaseKeeper.manual(store.inner, LeaderLeaseTest.B, 1, TTL, MARGIN, clock);
        b.tick();
        assertTrue(b.writable(), "B took the expired lease");
        store.down = false;
        a.tick();
        assertFalse(a.writable(), "A's renewal of the old version is refused");
        assertEquals(LeaseKeeper.State.LOST, a.status().state());
        assertTrue(a.status().holder().contains("node-b"), a.status().holder());
        for (int i = 0; i < 6; i++) {
            clock.advance(THIRD);
            b.tick();
            a.tick();
            assertTrue(b.writable());
            assertFalse(a.writable(), "A keeps trying to take it while B renews: refused every time");
        }
        assertEquals(LeaseKeeper.State.LOST, a.status().state());
        assertTrue(a.status().reason().contains("held by node-b"), a.status().reason());
    }

    @Test
    void aNodeWaitsForAnotherHoldersLeaseThenTakesItWhenItExpires() {
        LeaseKeeper a = keeper(LeaderLeaseTest.A, 1);
        a.tick();
        LeaseKeeper b = keeper(LeaderLeaseTest.B, 1);
        b.tick();
        assertFalse(b.writable());
        assertEquals(LeaseKeeper.State.WAITING, b.status().state());
        assertTrue(b.status().reason().contains("held by node-a"), b.status().reason());
        a.close(); // A shuts down cleanly: released
        assertFalse(a.writable());
        b.tick();
        assertTrue(b.writable());
        assertEquals(2, b.status().term());
    }

    @Test
    void aNewerTimelineSupersedesForGood() {
        LeaseKeeper b = keeper(LeaderLeaseTest.B, 2);
        b.tick();
        LeaseKeeper a = keeper(LeaderLeaseTest.A, 1);
        a.tick();
        assertEquals(LeaseKeeper.State.SUPERSEDED, a.status().state());
        b.close();
        clock.advance(TTL.multipliedBy(3));
        a.tick();
        assertEquals(LeaseKeeper.State.SUPERSEDED, a.status().state(), "never again on the old timeline");
        assertFalse(a.writable());
    }

    /**
     * Two live processes with the same node id (a restart while the old one is paused, or an id
     * repeated by mistake): the second takes the lease at once (documented), the first loses it at its
     * next renewal. A keeper that LOST its lease must not then take it back at once because the lease
     * carries its own node id: the other process holds it and still acknowledges until its own
     * deadline, so the two would ping-pong the lease and both acknowledge writes at the same time.
     */
    @Test
    void aKeeperThatLostItsLeaseToItsOwnNodeIdWaitsForItToExpire() {
        LeaseKeeper old = keeper(LeaderLeaseTest.A, 1);
        old.tick();
        assertTrue(old.writable());
        LeaseKeeper restarted = keeper(LeaderLeaseTest.A, 1);
        restarted.tick(); // the same node id: taken back at once
        assertTrue(restarted.writable());
        clock.advance(THIRD);
        old.tick(); // its renewal finds the other process's version
        assertEquals(LeaseKeeper.State.LOST, old.status().state());
        for (int round = 0; round < 6; round++) {
            clock.advance(THIRD);
            old.tick();
            assertFalse(old.writable() && restarted.writable(), "round " + round + ": both acknowledge writes");
            restarted.tick();
            assertFalse(old.writable() && restarted.writable(), "round " + round + ": both acknowledge writes");
            assertTrue(restarted.writable(), "round " + round + ": the holder keeps renewing");
        }
        restarted.close(); // released: now the old one may take it like any other node
        old.tick();
        assertTrue(old.writable());
    }

    /**
     * S3 answers 409 ConditionalRequestConflict to a conditional PUT while another one on the key is in
     * flight (the SDK's retry of an attempt that timed out but still runs), and the store maps it to a
     * precondition failure. The lease still holds the version this node wrote: nobody took it, so the
     * renewal failed, it is not LOST (which would fence the holder until its own lease expired).
     */
    @Test
    void aConflictWhileTheLeaseStillHoldsOurVersionIsAFailedRenewalNotALoss() {
        LeaseKeeper a = keeper(LeaderLeaseTest.A, 1);
        a.tick();
        store.conflictOnce = true;
        clock.advance(THIRD);
        a.tick();
        assertEquals(LeaseKeeper.State.HELD, a.status().state(), String.valueOf(a.status().reason()));
        assertTrue(a.writable());
        clock.advance(THIRD);
        a.tick();
        assertTrue(a.writable());
        assertNull(a.status().reason(), "renewed cleanly");
        assertEquals(1, a.status().term());
    }
}
