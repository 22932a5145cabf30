package io.walship.scheduler;

import static io.walship.scheduler.ArchiveFixture.backup;
import static io.walship.scheduler.ArchiveFixture.followerOf;
import static io.walship.scheduler.ArchiveFixture.livePromote;
import static io.walship.scheduler.ArchiveFixture.ship;
import static io.walship.scheduler.ArchiveFixture.writes;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

import io.walship.archive.ArchiveListing;
import io.walship.archive.Codec;
import io.walship.archive.CountingObjectStore;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.TimelineHistory;
import io.walship.restorer.ArchiveVerifier;
import io.walship.restorer.Promotion;
import io.walship.restorer.Restore;
import io.walship.shipper.ShipLoop;
import io.walship.shipper.WalShipper;
import io.walship.wal.Lsn;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import io.walship.wal.WalMarks;
import io.walship.wal.WalshipException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shipper's check that an archive reaches a promoted timeline's fork (ForkReach, after
 * LaggingArchiveAfterFailoverReview30Test): a second archive B that was behind when the leader died is refused by the
 * new leader's shipper, naming the hole and the fix, and ships nothing on the new timeline until a base backup on it
 * is taken into B or the parent's missing WAL is copied there; a promoted follower whose WAL holds the entries B lacks
 * ships them first. The check reads the run's own listing: a refused run costs the requests any run that lists does,
 * and once it passed an idle run makes none.
 */
class LaggingArchiveForkCheckTest {
    @TempDir
    Path tmp;

    /**
     * A leader ships to A and B (a base backup in each); it dies with B's shipping behind A's. Returns B's end on
     * timeline 1 (the fork is A's end).
     */
    private long leaderDiesWithBBehind(Path leader, ObjectStore a, ObjectStore b) {
        try (Store s = Store.open(leader)) {
            writes(s, "a", 40);
            backup(s, a);
            backup(s, b);
            writes(s, "b", 40);
        }
        ship(leader, a);
        ship(leader, b);
        try (Store s = Store.open(leader)) {
            writes(s, "c", 40);
        }
        ship(leader, a);
        long bEnd = ArchiveListing.of(b).lastArchivedLsn(1);
        assertTrue(bEnd < ArchiveListing.of(a).lastArchivedLsn(1), "setup: B lags A");
        return bEnd;
    }

    /** The documented failover: restore from A, promote into A, writes on timeline 2 shipped to A. Returns the fork. */
    private long offlineFailover(ObjectStore a, Path standby) {
        Restore.run(a, standby, Restore.Options.defaults(), new Restore.Listener() { });
        Promotion.Promoted p = Promotion.promote(standby, a);
        assertEquals(2, p.timeline());
        try (Store s = Store.open(standby)) {
            writes(s, "t2-", 40);
        }
        ship(standby, a);
        return TimelineHistory.readOne(a, 2).forkLsnValue();
    }

    private static StateDigest digest(Path dir) {
        try (Store s = Store.open(dir)) {
            return s.digest();
        }
    }

    private void assertRestoresTimelineTwo(ObjectStore b, Path like, String name) {
        Restore.Result r = Restore.run(b, tmp.resolve(name), Restore.Options.defaults(), new Restore.Listener() { });
        assertEquals(2, r.timeline());
        assertEquals(digest(like), digest(tmp.resolve(name)), "B restores timeline 2 to its end");
    }

    private static void assertVerifyOk(ObjectStore b) {
        ArchiveVerifier.Report v = ArchiveVerifier.verify(b, 2, false, m -> { });
        assertTrue(v.ok(), "verify B: " + v.problems());
    }

    private static void assertRefusal(WalshipException e, ObjectStore b, long bEnd, long fork) {
        String m = e.getMessage();
        assertFalse(m.contains("\n"), "one line: " + m);
        assertTrue(m.startsWith(b.describe() + " cannot restore timeline 2: it lacks timeline 1's WAL from LSN "
                + Lsn.format(bEnd + 1) + " to timeline 2's fork at LSN " + Lsn.format(fork)), m);
        assertTrue(m.contains("take a base backup on timeline 2 into it (walship backup --data "), m);
        assertTrue(m.contains("or copy timeline 1's WAL up to LSN " + Lsn.format(fork)), m);
    }

    @Test
    void aLaggingArchiveIsRefusedNamingTheHoleUntilABaseBackupOnTheNewTimelineIsTakenIntoIt() {
        Path leader = tmp.resolve("leader");
        Path standby = tmp.resolve("standby");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archiveA"));
             ObjectStore b = ObjectStores.open("file://" + tmp.resolve("archiveB"))) {
            long bEnd = leaderDiesWithBBehind(leader, a, b);
            long fork = offlineFailover(a, standby);

            WalshipException e = assertThrows(WalshipException.class, () -> ship(standby, b));
            assertRefusal(e, b, bEnd, fork);
            assertTrue(ArchiveListing.of(b).segments(2).isEmpty(), "nothing is shipped to B on timeline 2");
            assertEquals(0, new WalMarks(standby).archived(WalShipper.archiveId(b)).getAsLong(),
                    "B is required: the WAL is kept for it");
            assertThrows(WalshipException.class, () -> ship(standby, b), "every run repeats the check");

            try (Store s = Store.open(standby)) {
                backup(s, b); // the fix the message names
                writes(s, "t2b-", 20);
            }
            ship(standby, b);
            assertTrue(ArchiveListing.of(b).lastArchivedLsn(2) > fork);
            assertRestoresTimelineTwo(b, standby, "fromB");
            // B still lacks those entries: timeline 1's backup cannot be restored past the hole (a point-in-time
            // restore into it is impossible), which verify reports until the WAL is copied in or the backup pruned
            ArchiveVerifier.Report v = ArchiveVerifier.verify(b, 2, false, m -> { });
            assertEquals(1, v.problems().size(), v.problems().toString());
            assertEquals("gap", v.problems().get(0).kind(), v.problems().toString());
            assertTrue(v.problems().get(0).object().startsWith("WAL LSN " + Lsn.format(bEnd + 1) + ".." + Lsn.format(fork)),
                    v.problems().toString());
        }
    }

    @Test
    void theParentsWalCopiedIntoTheArchiveUnblocksItAndTheCheckCostsNoRequestOfItsOwn() throws IOException {
        Path leader = tmp.resolve("leader");
        Path standby = tmp.resolve("standby");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archiveA"));
             ObjectStore b = ObjectStores.open("file://" + tmp.resolve("archiveB"))) {
            long bEnd = leaderDiesWithBBehind(leader, a, b);
            long fork = offlineFailover(a, standby);

            CountingObjectStore counted = new CountingObjectStore(b);
            AtomicLong clock = new AtomicLong();
            try (WalShipper w = new WalShipper(standby, counted, new WalShipper.Options(Codec.ZSTD, 4096), true,
                    clock::get)) {
                assertRefusal(assertThrows(WalshipException.class, w::shipOnce), b, bEnd, fork);
                CountingObjectStore.Counts before = counted.counts();
                assertRefusal(assertThrows(WalshipException.class, w::shipOnce), b, bEnd, fork);
                CountingObjectStore.Counts refused = counted.counts().minus(before);
                System.out.println("a refused run to the lagging archive: " + refused);
                assertEquals(1, refused.lists(), refused.toString());
                assertEquals(0, refused.puts(), "nothing uploaded: " + refused);

                // someone copies timeline 1's missing WAL from A into B
                for (ArchiveListing.SegmentInfo seg : ArchiveListing.of(a).segments(1)) {
                    String key = seg.name().key();
                    if (b.head(key).isEmpty()) {
                        try (InputStream in = a.get(key)) {
                            b.createOrSame(key, in.readAllBytes());
                        }
                    }
                }
                CountingObjectStore.Counts copied = counted.counts();
                assertTrue(w.shipOnce().segments() > 0, "the next run ships timeline 2");
                CountingObjectStore.Counts passed = counted.counts();
                CountingObjectStore.Counts shipping = passed.minus(copied);
                System.out.println("the run that passes and ships timeline 2: " + shipping);
                // a refused run reads what the shipping run reads before it uploads (the listing any run after a
                // failed one makes, one page here; the HEAD of the timeline's history and the ranged reads of
                // ArchiveOwner that go with it while nothing of the timeline is archived): the check adds none
                assertEquals(shipping.lists(), refused.lists(), refused + " vs " + shipping);
                assertEquals(shipping.gets(), refused.gets(), refused + " vs " + shipping);
                assertEquals(shipping.heads(), refused.heads(), refused + " vs " + shipping);
                // an interval run (shipOnce always lists), idle, within the archive recheck: the check passed and is
                // not repeated (until it passes, every run lists for it)
                w.shipOnce(() -> null);
                CountingObjectStore.Counts idle = counted.counts().minus(passed);
                System.out.println("an idle run once the check passed: " + idle);
                assertEquals(0, idle.puts() + idle.lists() + idle.gets() + idle.heads(), idle.toString());
            }
            assertEquals(fork, ArchiveListing.of(b).lastArchivedLsn(1));
            assertRestoresTimelineTwo(b, standby, "fromB");
            assertVerifyOk(b);
        }
    }

    /** Polls {@code loop}'s status until {@code done} holds (a deadline, no sleeps for timing). */
    private static ShipLoop.Status await(ShipLoop loop, java.util.function.Predicate<ShipLoop.Status> done, String what)
            throws InterruptedException {
        long deadline = System.nanoTime() + java.time.Duration.ofSeconds(60).toNanos();
        while (true) {
            ShipLoop.Status st = loop.status();
            if (done.test(st)) {
                return st;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what + "; status " + st);
            }
            Thread.sleep(20); // polling, not timing
        }
    }

    /**
     * B as an optional archive of the new leader's ship loop: each run fails (shown as failing with the refusal as
     * its last error, nothing shipped on timeline 2, no retention mark), the loop goes on; once a base backup on
     * timeline 2 is taken into B, a later run of the same loop passes and ships.
     */
    @Test
    void anOptionalLaggingArchiveFailsEachRunOfItsLoopUntilABackupIsTakenIntoIt() throws InterruptedException {
        Path leader = tmp.resolve("leader");
        Path standby = tmp.resolve("standby");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archiveA"));
             ObjectStore b = ObjectStores.open("file://" + tmp.resolve("archiveB"))) {
            long bEnd = leaderDiesWithBBehind(leader, a, b);
            long fork = offlineFailover(a, standby);
            try (ShipLoop loop = new ShipLoop(standby, b, false, new WalShipper.Options(Codec.ZSTD, 4096),
                    java.time.Duration.ofMillis(20), ShipLoop.Listener.NONE, ShipLoop.Gate.OPEN).start()) {
                ShipLoop.Status failing = await(loop, st -> st.lastError() != null, "the first refusal");
                assertTrue(failing.failing() && !failing.stopped() && !failing.required(), failing.toString());
                assertTrue(failing.lastError().startsWith(b.describe() + " cannot restore timeline 2: it lacks timeline 1's"
                        + " WAL from LSN " + Lsn.format(bEnd + 1)), failing.lastError());
                assertEquals(-1, failing.archivedUpTo(), "nothing shipped yet: as any archive whose first run failed");
                assertTrue(new WalMarks(standby).archived(WalShipper.archiveId(b)).isEmpty(), "no mark: optional");
                assertTrue(ArchiveListing.of(b).segments(2).isEmpty(), "nothing on timeline 2");

                try (Store s = Store.open(standby)) {
                    backup(s, b);
                }
                ShipLoop.Status ok = await(loop, st -> st.lastError() == null && st.archivedUpTo() > fork,
                        "the loop to ship timeline 2 once B holds a backup on it");
                assertTrue(!ok.failing(), ok.toString());
            }
            assertRestoresTimelineTwo(b, standby, "fromB");
        }
    }

    /**
     * A live promotion (walship promote --url, as LiveFollower.promote does: claim in A, the record into the data
     * directory): the follower's WAL holds the entries B lacks, so its shipper ships them to B under timeline 1
     * before timeline 2, and B restores timeline 2.
     */
    @Test
    void aPromotedFollowerFillsTheLaggingArchiveFromItsOwnWalFirst() {
        Path leader = tmp.resolve("leader");
        Path follower = tmp.resolve("follower");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archiveA"));
             ObjectStore b = ObjectStores.open("file://" + tmp.resolve("archiveB"))) {
            leaderDiesWithBBehind(leader, a, b);
            followerOf(leader, follower);
            assertEquals(2, livePromote(follower, a));
            long fork = TimelineHistory.readOne(a, 2).forkLsnValue();
            try (Store s = Store.open(follower)) {
                writes(s, "t2-", 40);
            }
            ship(follower, a);
            ship(follower, b);
            assertEquals(fork, ArchiveListing.of(b).lastArchivedLsn(1), "B got timeline 1 up to the fork first");
            assertTrue(ArchiveListing.of(b).lastArchivedLsn(2) > fork);
            assertRestoresTimelineTwo(b, follower, "fromB");
            assertVerifyOk(b);
        }
    }
}
