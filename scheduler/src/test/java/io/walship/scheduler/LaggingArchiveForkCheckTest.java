package io.walship.scheduler;

import static io.walship.scheduler.ArchiveFixture.backup;
import static io.walship.scheduler.ArchiveFixture.followerOf;
import static io.walship.scheduler.ArchiveFixture.livePromote;
import static io.walship.scheduler.ArchiveFixture.ship;
import static io.walship.scheduler.ArchiveFixture.writes;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

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
import io.walship.wal.WalClockStores;
import io.walship.wal.WalLog;
import io.walship.wal.WalMarks;
import io.walship.wal.WalReader;
import io.walship.wal.WalshipException;
import net.openhft.chronicle.core.time.SetTimeProvider;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shipper's check that an archive reaches a promoted timeline's fork (ForkReach, after
 * LaggingArchiveAfterFailoverReview30Test): a second archive B that was behind when the leader died is refused by the
 * new leader's shipper, naming the hole and the fix, and ships nothing on the new timeline until a base backup on it
 * is taken into B or the parent's missing WAL is copied there; a promoted follower whose WAL holds the entries B lacks
 * ships them first. The check reads the run's own listing: a refused run costs the requests any run that lists does,
 * and once it passed an idle run makes none.
 *
 * <p>The review tests of the same setup (a leader shipping to A and B, the documented offline failover restored from
 * A) live here too, each with what it proves and which review found it: review30's
 * {@link #theNewLeadersShipperFillsOrRefusesALaggingArchive} (formerly LaggingArchiveAfterFailoverReview30Test),
 * review32c's {@link #anIdlePromotedStoreWithAnEmptyWalMakesNoRequestPerRun} (formerly
 * IdlePromotedShipperReview32cTest), {@link #verifyReportsTheOldBackupsGapUntilTheWalIsCopiedInRetentionDoesNotPruneIt}
 * (formerly LaggingArchiveGapAfterBackupReview32cTest) and
 * {@link #anArchiveThatReachesTheForkDoesNotGetTheNewTimelineOverAHoleRightAfterIt} (formerly
 * LateWalForkHoleReview32cTest).
 */
class LaggingArchiveForkCheckTest {
    @TempDir
    Path tmp;
    /** The dead leader's data directory, and the standby restored from A and promoted (the offline failover). */
    private Path leader;
    private Path standby;
    /** The primary archive A and the second archive B, open for each test. */
    private ObjectStore a;
    private ObjectStore b;

    @BeforeEach
    void openArchives() {
        leader = tmp.resolve("leader");
        standby = tmp.resolve("standby");
        a = ObjectStores.open("file://" + tmp.resolve("archiveA"));
        b = ObjectStores.open("file://" + tmp.resolve("archiveB"));
    }

    @AfterEach
    void closeArchives() {
        try (ObjectStore closeA = a; ObjectStore closeB = b) {
            // closes B, then A, as each test's try-with-resources of both did
        }
    }

    /**
     * A leader ships to A and B (a base backup in each); it dies with B's shipping behind A's. Returns B's end on
     * timeline 1 (the fork is A's end).
     */
    private long leaderDiesWithBBehind(Path leader, ObjectStore a, ObjectStore b) {
        leaderShipsTo(leader, a, b);
        try (Store s = Store.open(leader)) {
            writes(s, "c", 40);
        }
        ship(leader, a);
        long bEnd = ArchiveListing.of(b).lastArchivedLsn(1);
        assertTrue(bEnd < ArchiveListing.of(a).lastArchivedLsn(1), "setup: B lags A");
        return bEnd;
    }

    /**
     * A leader writes, takes a base backup into each archive (in the order given), writes again and ships to each:
     * the archives are in step when it stops.
     */
    private static void leaderShipsTo(Path leader, ObjectStore... archives) {
        try (Store s = Store.open(leader)) {
            writes(s, "a", 40);
            for (ObjectStore x : archives) {
                backup(s, x);
            }
            writes(s, "b", 40);
        }
        for (ObjectStore x : archives) {
            ship(leader, x);
        }
    }

    /** The documented failover's first steps ("Procedure after losing the leader"): restore from A, promote into A. */
    private static Promotion.Promoted restoreAndPromote(ObjectStore a, Path standby) {
        Restore.run(a, standby, Restore.Options.defaults(), new Restore.Listener() { });
        Promotion.Promoted p = Promotion.promote(standby, a);
        assertEquals(2, p.timeline());
        return p;
    }

    /** The new leader's writes on timeline 2, shipped to A. */
    private static void newLeaderWritesShippedTo(Path standby, ObjectStore a) {
        try (Store s = Store.open(standby)) {
            writes(s, "t2-", 40);
        }
        ship(standby, a);
    }

    /** The documented failover: restore from A, promote into A, writes on timeline 2 shipped to A. Returns the fork. */
    private long offlineFailover(ObjectStore a, Path standby) {
        restoreAndPromote(a, standby);
        newLeaderWritesShippedTo(standby, a);
        return TimelineHistory.readOne(a, 2).forkLsnValue();
    }

    /** The fix the refusal names: a base backup on timeline 2 taken into B, more writes, shipped to B. */
    private static void backupOnTimelineTwoShippedTo(Path standby, ObjectStore b) {
        try (Store s = Store.open(standby)) {
            backup(s, b); // the fix the message names
            writes(s, "t2b-", 20);
        }
        ship(standby, b);
    }

    /** Copies A's segments of timeline 1 that B lacks into B, keys and bytes as they are; returns how many. */
    private static int copyMissingTimelineOneWal(ObjectStore a, ObjectStore b) throws IOException {
        int copied = 0;
        for (ArchiveListing.SegmentInfo seg : ArchiveListing.of(a).segments(1)) {
            String key = seg.name().key();
            if (b.head(key).isEmpty()) {
                try (InputStream in = a.get(key)) {
                    b.createOrSame(key, in.readAllBytes());
                }
                copied++;
            }
        }
        return copied;
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
        long bEnd = leaderDiesWithBBehind(leader, a, b);
        long fork = offlineFailover(a, standby);

        WalshipException e = assertThrows(WalshipException.class, () -> ship(standby, b));
        assertRefusal(e, b, bEnd, fork);
        assertTrue(ArchiveListing.of(b).segments(2).isEmpty(), "nothing is shipped to B on timeline 2");
        assertEquals(0, new WalMarks(standby).archived(WalShipper.archiveId(b)).getAsLong(),
                "B is required: the WAL is kept for it");
        assertThrows(WalshipException.class, () -> ship(standby, b), "every run repeats the check");

        backupOnTimelineTwoShippedTo(standby, b); // the fix the message names
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

    @Test
    void theParentsWalCopiedIntoTheArchiveUnblocksItAndTheCheckCostsNoRequestOfItsOwn() throws IOException {
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
            copyMissingTimelineOneWal(a, b);
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

    /**
     * A live promotion (walship promote --url, as LiveFollower.promote does: claim in A, the record into the data
     * directory): the follower's WAL holds the entries B lacks, so its shipper ships them to B under timeline 1
     * before timeline 2, and B restores timeline 2.
     */
    @Test
    void aPromotedFollowerFillsTheLaggingArchiveFromItsOwnWalFirst() {
        Path follower = tmp.resolve("follower");
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

    /**
     * review30 (found by VerifyOracleReview30Test, seed 2; formerly LaggingArchiveAfterFailoverReview30Test): a leader
     * ships to a primary A and a second archive B (an optional one, "shipped to, never waited for", or a required one
     * that is behind when the leader dies). The leader dies with B behind A. The documented failover ("Procedure after
     * losing the leader": restore from A, walship promote into A) gives a store whose data directory holds none of the
     * entries B lacks. Its shipper then ships the new timeline to B from the fork on, over a hole on the parent's
     * timeline: B can never restore the new timeline (nor reach anything past the hole) and says so only when someone
     * restores from it or verifies it. The shipper refuses an archive that "may not restore timeline T" when retention
     * pruned the fork's base (LocalHistories .requireBaseKept), but not when the parent's WAL up to the fork never
     * reached it. Either that run to B should fail naming the hole (take a base backup into B), or B should restore
     * timeline 2.
     */
    @Test
    void theNewLeadersShipperFillsOrRefusesALaggingArchive() {
        leaderDiesWithBBehind(leader, a, b); // B's loop is behind when the leader dies
        long aEnd = ArchiveListing.of(a).lastArchivedLsn(1);

        // failover as documented: restore from A, walship promote into A
        Promotion.Promoted p = restoreAndPromote(a, standby);
        assertNull(p.backup());
        newLeaderWritesShippedTo(standby, a);
        boolean shippedToB;
        try {
            ship(standby, b);
            shippedToB = true;
        } catch (RuntimeException refused) {
            shippedToB = false; // refusing B, naming what to do, is a fine answer
        }
        if (shippedToB) {
            ArchiveVerifier.Report r = ArchiveVerifier.verify(b, 2, false, m -> { });
            try {
                Restore.run(b, tmp.resolve("fromB"), Restore.Options.defaults(), new Restore.Listener() { });
            } catch (RuntimeException e) {
                fail("the new leader's shipper shipped timeline 2 to B over a hole on timeline 1 (B ends at "
                        + Long.toHexString(ArchiveListing.of(b).lastArchivedLsn(1)) + ", the fork is at "
                        + Long.toHexString(aEnd) + "), without a word; B cannot restore it: " + e.getMessage()
                        + "; verify B: " + r.problems());
            }
        }
    }

    /**
     * review32c (formerly IdlePromotedShipperReview32cTest): WalShipper's "Request bill" ("an idle shipper makes no
     * request" within archiveRecheck) and this class's "an idle run once the check passed: none". The fork check forces
     * a listing on every run until it passes, but it is only evaluated once the local WAL holds an entry: a store
     * restored from A and promoted has an empty WAL until its first write, so each idle run of the new leader's ship
     * loop (every --ship-interval, 1 s by default, per archive) lists the whole archive and reads the timeline's history
     * again, for as long as no one writes. On main such a run makes no request.
     */
    @Test
    void anIdlePromotedStoreWithAnEmptyWalMakesNoRequestPerRun() {
        leaderShipsTo(leader, a);
        restoreAndPromote(a, standby);
        try (Store s = Store.open(standby)) {
            // the new leader starts (walship leader --data NEW), no client writes yet
        }
        try (WalReader r = WalReader.open(standby)) {
            assertTrue(r.firstAvailableLsn() < 0, "setup: the promoted store's WAL is empty until its first write");
        }

        CountingObjectStore counted = new CountingObjectStore(a);
        AtomicLong clock = new AtomicLong();
        try (WalShipper w = new WalShipper(standby, counted, new WalShipper.Options(Codec.ZSTD, 4096), true,
                clock::get)) {
            w.shipOnce(() -> null); // a new shipper's first run lists
            CountingObjectStore.Counts before = counted.counts();
            for (int i = 0; i < 5; i++) {
                w.shipOnce(() -> null); // the loop's idle runs, within the archive recheck (the clock stands still)
            }
            CountingObjectStore.Counts idle = counted.counts().minus(before);
            System.out.println("five idle runs of a promoted store with an empty WAL: " + idle);
            assertEquals(0, idle.lists() + idle.gets() + idle.heads() + idle.puts(),
                    "an idle shipper makes no request: " + idle);
        }
    }

    /**
     * review32c (formerly LaggingArchiveGapAfterBackupReview32cTest): docs/OPERATIONS.md "Several archives" said that
     * after the fix the refusal names (a base backup on timeline 2 taken into the lagging archive B), "archive verify
     * reports it as a gap of the old backup until the WAL is copied in or retention prunes that backup". Retention
     * never prunes it: every timeline keeps the newest backup it can restore from ("Archive retention"), and for
     * timeline 1 that is the old backup, the only one on timeline 1. Changing that (retention dropping a parent
     * timeline's last backup once a descendant has one) is a policy change of its own, not this fix: the doc now says
     * verify reports the gap until timeline 1's missing segments are copied in from A, and this test pins that:
     * retention leaves the old backup and the gap, B restores timeline 2 from its new backup, and copying A's segments
     * of timeline 1 that B lacks (the keys as they are, byte for byte) makes verify pass.
     */
    @Test
    void verifyReportsTheOldBackupsGapUntilTheWalIsCopiedInRetentionDoesNotPruneIt() throws Exception {
        leaderDiesWithBBehind(leader, a, b); // B is behind when the leader dies
        long fork = offlineFailover(a, standby);
        assertThrows(WalshipException.class, () -> ship(standby, b), "setup: B is refused");

        // the fix the refusal names, then the scheduler's retention job on B, a few times, keeping one backup
        backupOnTimelineTwoShippedTo(standby, b);
        for (int i = 0; i < 3; i++) {
            Retention.apply(b, Retention.plan(b, new Retention.Policy(1, null), Instant.now()), d -> { });
        }
        ArchiveListing lb = ArchiveListing.of(b);
        assertTrue(lb.backups().stream().anyMatch(x -> x.name().timeline() == 1),
                "retention keeps timeline 1's newest backup: " + lb.backups());
        ArchiveVerifier.Report v = ArchiveVerifier.verify(b, 2, false, m -> { });
        // the hole is timeline 1's WAL up to the fork, reported on timeline 2's path (the one it breaks)
        String hole = Lsn.format(ArchiveListing.of(b).lastArchivedLsn(1) + 1) + ".." + Lsn.format(fork);
        assertTrue(!v.ok() && v.problems().stream().anyMatch(p -> p.kind().equals("gap")
                && p.object().equals("WAL LSN " + hole + " (timeline 2)") && p.detail().contains("backups/00000001-")),
                "verify reports the old backup's gap, timeline 1's WAL " + hole + ": " + v.problems());
        Restore.run(b, tmp.resolve("fromB"), Restore.Options.defaults(), new Restore.Listener() { });

        // the doc's fix: copy timeline 1's segments B lacks from A, keys and bytes as they are
        assertTrue(copyMissingTimelineOneWal(a, b) > 0, "setup: A holds timeline 1 segments B lacks");
        ArchiveVerifier.Report after = ArchiveVerifier.verify(b, 2, false, m -> { });
        assertTrue(after.ok(), "verify passes once the WAL is copied in: " + after.problems());
    }

    private static List<Path> cycleFiles(Path data) throws IOException {
        try (Stream<Path> s = Files.list(data.resolve(WalLog.DIR_NAME))) {
            return s.filter(p -> p.toString().endsWith(".cq4")).sorted().toList();
        }
    }

    /**
     * review32c (formerly LateWalForkHoleReview32cTest): the fork check (ForkReach) passes an archive B that holds
     * timeline 1 up to the fork, but the run that follows ships timeline 2 from the first LSN the local WAL still
     * holds. When B was out of reach for a while after the failover (an optional archive: the WAL is not kept for it)
     * and retention deleted the new timeline's first WAL files, that run ships timeline 2 to B from there, over a hole
     * fork+1..first-1 on timeline 2 itself: the same hole "no restore of T crosses" that ForkReach refuses on the
     * parent's side, only one LSN later. The shipper refuses the same hole on timeline 1 ("LSNs in between are lost to
     * the archive; take a new base backup"), but on a promoted timeline with nothing archived yet it logs one warning
     * and ships. Either the run should fail naming the hole (take a base backup on timeline 2 into B), or B should
     * restore timeline 2.
     */
    @Test
    void anArchiveThatReachesTheForkDoesNotGetTheNewTimelineOverAHoleRightAfterIt() throws Exception {
        leaderShipsTo(leader, a, b); // B is in step with A when the leader dies
        restoreAndPromote(a, standby);
        long fork = TimelineHistory.readOne(a, 2).forkLsnValue();
        assertEquals(fork, ArchiveListing.of(b).lastArchivedLsn(1), "setup: B holds timeline 1 up to the fork");

        // the new leader writes for a few hours while B (optional) is out of reach; A gets everything
        SetTimeProvider clock = new SetTimeProvider(Instant.now());
        try (Store s = WalClockStores.open(standby, clock)) {
            for (int hour = 0; hour < 3; hour++) {
                writes(s, "t2-" + hour + "-", 30);
                clock.advanceMillis(3_600_000L + 60_000L); // the next hourly WAL file
            }
        }
        ship(standby, a);
        // retention deletes the oldest WAL files, archived in A (what WalLog.deleteUpTo does to each file)
        List<Path> files = cycleFiles(standby);
        assertTrue(files.size() >= 3, "three hourly WAL files: " + files);
        for (Path f : files.subList(0, files.size() - 1)) {
            Files.delete(f);
        }
        long first;
        try (WalReader r = WalReader.open(standby)) {
            first = r.firstAvailableLsn();
        }
        assertTrue(first > fork + 1, "setup: the local WAL now starts at " + Lsn.format(first) + ", past the fork "
                + Lsn.format(fork) + " + 1");

        // B is back: its optional shipper's run
        boolean shipped;
        try (WalShipper w = new WalShipper(standby, b, new WalShipper.Options(Codec.ZSTD, 4096), false)) {
            w.shipOnce();
            shipped = true;
        } catch (RuntimeException refused) {
            shipped = false; // refusing B, naming the hole and the fix, is a fine answer
            System.out.println("refused: " + refused.getMessage());
        }
        if (shipped) {
            ArchiveListing lb = ArchiveListing.of(b);
            ArchiveVerifier.Report v = ArchiveVerifier.verify(b, 2, false, m -> { });
            try {
                Restore.run(b, tmp.resolve("fromB"), Restore.Options.defaults(), new Restore.Listener() { });
            } catch (RuntimeException e) {
                fail("the fork check passed B (it reaches timeline 1's end at the fork " + Lsn.format(fork)
                        + ") and the run shipped timeline 2 to it from LSN " + Lsn.format(first) + " (B's timeline 2"
                        + " now " + lb.coverage(2) + "), over a hole right after the fork, without failing; B cannot"
                        + " restore timeline 2: " + e.getMessage() + "; verify B: " + v.problems());
            }
        }
    }
}
