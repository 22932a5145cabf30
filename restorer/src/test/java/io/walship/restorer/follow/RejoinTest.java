package io.walship.restorer.follow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.stream.Stream;

import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.protocol.BadInputException;
import io.walship.restorer.Restore;
import io.walship.shipper.BaseBackup;
import io.walship.shipper.WalShipper;
import io.walship.wal.ControlFile;
import io.walship.wal.Lsn;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import io.walship.wal.WalshipException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A former leader rejoins ({@link Rejoin}): the leader {@code old} is shipped and backed up at LSN
 * 0x30, a copy of it is promoted to timeline 2 (fork after 0x30) and writes on to 0x38; then
 * {@code old} either stopped at the fork (it switches, nothing lost) or wrote on to 0x40 on timeline 1
 * (diverged: re-cloned, LSN 0x31..0x40 discarded and reported, the old directory kept aside).
 */
class RejoinTest {
    private static final long FORK = 0x30;
    @TempDir
    Path tmp;
    private Path old;
    private ObjectStore archive;
    private StateDigest newLeader;
    private final Clock clock = Clock.fixed(Instant.parse("2026-12-02T22:00:00Z"), ZoneOffset.UTC);

    private static void writeUpTo(Store store, long lsn) {
        int i = 0;
        while (store.lastLsn() < lsn) {
            store.put(("k" + store.lastLsn() + "-" + i++).getBytes(StandardCharsets.UTF_8),
                    "v".repeat(20).getBytes(StandardCharsets.UTF_8));
        }
        assertEquals(lsn, store.lastLsn());
    }

    private void ship(Path data) {
        try (WalShipper s = new WalShipper(data, archive, WalShipper.Options.defaults())) {
            s.shipOnce();
        }
    }

    @BeforeEach
    void promoted() {
        old = tmp.resolve("old");
        archive = ObjectStores.open("file://" + tmp.resolve("archive"));
        try (Store store = Store.open(old)) {
            writeUpTo(store, FORK);
            ship(old);
            try (Snapshot snap = store.snapshot()) {
                BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), archive, Codec.ZSTD, x -> { });
            }
        }
        Restore.Result r = Restore.run(archive, tmp.resolve("new"), Restore.Options.defaults().withPromote(true),
                new Restore.Listener() { });
        assertEquals(2, r.promotedTimeline());
        try (Store store = Store.open(tmp.resolve("new"))) {
            writeUpTo(store, 0x38);
            newLeader = store.digest();
        }
        ship(tmp.resolve("new"));
    }

    private void oldWritesPastTheFork(boolean shipIt) {
        try (Store store = Store.open(old)) {
            writeUpTo(store, 0x40);
        }
        if (shipIt) {
            ship(old); // timeline 1 in the archive goes on past the fork too: it must not be followed
        }
    }

    private Rejoin.Outcome rejoin(Rejoin.Options options) throws Exception {
        return Rejoin.prepare(old, archive, options, (dir, timeline) -> Bootstrap.prepare(dir, archive, null, null, null, timeline), clock);
    }

    private static long lastLsn(Path dir) {
        try (Store s = Store.open(dir)) {
            return s.lastLsn();
        }
    }

    private List<Path> siblings() throws IOException {
        try (Stream<Path> s = Files.list(tmp)) {
            return s.filter(p -> p.getFileName().toString().startsWith("old.")).toList();
        }
    }

    @Test
    void theForkIsTheNewestTimelineThroughOursAndTheLastLsnTheyShare() {
        assertEquals(new Rejoin.Fork(2, FORK), Rejoin.forkFromArchive(archive, 1, true).orElseThrow());
        assertTrue(Rejoin.forkFromArchive(archive, 1, false).isEmpty(), "no lease names timeline 2");
        assertTrue(Rejoin.forkFromArchive(archive, 2, true).isEmpty(), "nothing newer than timeline 2");
        leaseOnTimeline2();
        assertEquals(new Rejoin.Fork(2, FORK), Rejoin.forkFromArchive(archive, 1, false).orElseThrow());
    }

    @Test
    void theForkFromASiblingTimelineIsWhereTheyParted() {
        io.walship.archive.TimelineHistory.Span one = new io.walship.archive.TimelineHistory.Span(1, 1, 0x20);
        // ours: timeline 2 forked from 1 after 0x20; theirs: timeline 3 forked from 1 after 0x18
        List<io.walship.archive.TimelineHistory.Span> ours = List.of(one,
                new io.walship.archive.TimelineHistory.Span(2, 0x21, Long.MAX_VALUE));
        List<io.walship.archive.TimelineHistory.Span> sibling = List.of(new io.walship.archive.TimelineHistory.Span(1, 1, 0x18),
                new io.walship.archive.TimelineHistory.Span(3, 0x19, Long.MAX_VALUE));
        assertEquals(0x18, Rejoin.shared(ours, sibling));
        // theirs: timeline 3 forked from our timeline 2 after 0x30
        List<io.walship.archive.TimelineHistory.Span> child = List.of(one,
                new io.walship.archive.TimelineHistory.Span(2, 0x21, 0x30),
                new io.walship.archive.TimelineHistory.Span(3, 0x31, Long.MAX_VALUE));
        assertEquals(0x30, Rejoin.shared(ours, child));
        assertEquals(0x20, Rejoin.shared(List.of(new io.walship.archive.TimelineHistory.Span(1, 1, Long.MAX_VALUE)), ours));
    }

    @Test
    void aFormerLeaderThatEndsAtTheForkBecomesAStandbyOnTheNewTimelineAndLosesNothing() throws Exception {
        Rejoin.Outcome o = rejoin(Rejoin.Options.defaults());
        assertEquals(Rejoin.Kind.SWITCHED, o.kind());
        assertNull(o.report());
        ControlFile c = ControlFile.read(old);
        assertTrue(c.standby(), "it never takes writes again");
        assertEquals(2, c.timeline());
        try (Store s = Store.open(old)) {
            assertEquals(FORK, s.lastLsn());
            assertThrows(WalshipException.class, () -> s.put("x".getBytes(), "y".getBytes()));
            // the archive's timeline 2 continues it: the catch-up reaches the new leader's state
            ArchiveCatchUp.run(archive, s, 2, () -> false);
            assertEquals(newLeader, s.digest());
        }
        assertEquals(List.of(), siblings(), "nothing copied, nothing set aside");
        assertFalse(Files.exists(old.resolve(Rejoin.REPORT_FILE)));
        assertEquals(Rejoin.Kind.NONE, rejoin(Rejoin.Options.defaults()).kind(), "a restart is a plain follower");
    }

    @Test
    void aDivergedFormerLeaderIsReclonedTheDiscardedRangeReportedAndTheOldDirectoryKept() throws Exception {
        oldWritesPastTheFork(true);
        StateDigest before;
        try (Store s = Store.open(old)) {
            before = s.digest();
        }
        Rejoin.Outcome o = rejoin(Rejoin.Options.defaults());
        assertEquals(Rejoin.Kind.REWOUND, o.kind());
        Rejoin.Report r = o.report();
        assertEquals(List.of(1, 2, Lsn.format(FORK), Lsn.format(FORK + 1), Lsn.format(0x40), 0x40 - FORK),
                List.of(r.timeline(), r.newTimeline(), r.forkLsn(), r.discardedFrom(), r.discardedTo(), r.discardedCommits()));
        assertEquals(Lsn.format(FORK + 1), r.walReadFrom());
        assertNull(r.syncAckedLsn(), "this store recorded no sync acks");
        assertTrue(r.pagesTouched() >= r.discardedCommits(), r.toString());
        assertTrue(r.line().startsWith("rejoin: discarded LSN " + Lsn.format(FORK + 1) + ".." + Lsn.format(0x40)
                + " of timeline 1"), r.line());
        assertEquals(r, Rejoin.readReport(old).orElseThrow(), "the report is in the data directory");

        Path aside = tmp.resolve("old.diverged-20261202T220000Z");
        assertEquals(List.of(aside), siblings());
        assertEquals(aside.toString(), r.keptAt());
        try (Store kept = Store.open(aside)) {
            assertEquals(before, kept.digest(), "the old directory is kept as it was");
        }
        ControlFile c = ControlFile.read(old);
        assertTrue(c.standby());
        assertEquals(2, c.timeline());
        try (Store s = Store.open(old)) {
            s.checkpoint(); // the same JVM opened the old store at this path before: nothing of it may linger
            assertEquals(newLeader, s.digest(), "the new leader's state, none of the discarded commits");
            assertTrue(s.lastLsn() <= 0x38);
        }
    }

    /**
     * The re-clone follows the leader's timeline (the lease's), not the archive's newest: an inspection
     * copy promoted with {@code restore --promote} may have shipped a newer timeline. Restored along
     * that one, the copy ended past the leader's fork and the rejoin failed (exit 3, a staging copy left).
     */
    @Test
    void aReclonedStoreFollowsTheLeadersTimelineNotANewerInspectionCopys() throws Exception {
        leaseOnTimeline2();
        oldWritesPastTheFork(false);
        Restore.Result inspection = Restore.run(archive, tmp.resolve("inspection"),
                Restore.Options.defaults().withPromote(true), new Restore.Listener() { });
        assertEquals(3, inspection.promotedTimeline());
        try (Store store = Store.open(tmp.resolve("inspection"))) {
            writeUpTo(store, 0x3C);
        }
        ship(tmp.resolve("inspection"));

        Rejoin.Outcome o = rejoin(Rejoin.Options.defaults());
        assertEquals(Rejoin.Kind.REWOUND, o.kind());
        assertEquals(2, o.report().newTimeline());
        ControlFile c = ControlFile.read(old);
        assertEquals(2, c.timeline(), "on the leader's timeline");
        try (Store s = Store.open(old)) {
            s.checkpoint();
            assertEquals(newLeader, s.digest(), "the leader's state, nothing of the inspection copy's timeline 3");
        }
    }

    @Test
    void aDivergedStoreIsAnErrorWithoutRewindAndIsLeftAsItWas() throws Exception {
        oldWritesPastTheFork(false);
        Rejoin.DivergedException e = assertThrows(Rejoin.DivergedException.class,
                () -> rejoin(new Rejoin.Options(false, false)));
        assertTrue(e.getMessage().contains("LSN " + Lsn.format(FORK + 1) + ".." + Lsn.format(0x40) + " of timeline 1"),
                e.getMessage());
        assertFalse(ControlFile.read(old).standby());
        assertEquals(0x40, lastLsn(old));
        assertEquals(List.of(), siblings());
    }

    @Test
    void aRewindPastLsnsAcknowledgedInSyncModeIsRefusedUnlessForced() throws Exception {
        oldWritesPastTheFork(false);
        try (Store s = Store.open(old)) {
            s.marks().setSyncAcked(0x35);
        }
        Rejoin.DivergedException e = assertThrows(Rejoin.DivergedException.class,
                () -> rejoin(Rejoin.Options.defaults()));
        assertTrue(e.getMessage().contains("LSN " + Lsn.format(FORK + 1) + ".." + Lsn.format(0x35) + " would be lost"),
                e.getMessage());
        assertEquals(0x40, lastLsn(old));

        Rejoin.Outcome o = rejoin(new Rejoin.Options(true, true));
        assertEquals(Rejoin.Kind.REWOUND, o.kind());
        assertEquals(Lsn.format(0x35), o.report().syncAckedLsn());
        assertTrue(o.report().forced());
    }

    /**
     * The mark is replaced by a rename but not synced: a power loss can leave it empty. The leader
     * must go on recording acks (an unreadable mark used to fail every sync commit after its ack),
     * and a rejoin must assume the worst (every LSN acknowledged) rather than fail or discard.
     */
    @Test
    void aTornSyncAckedMarkIsOverwrittenByTheLeaderAndMakesARejoinAssumeEverythingWasAcknowledged() throws Exception {
        oldWritesPastTheFork(false);
        Path mark = old.resolve(io.walship.wal.WalMarks.DIR_NAME).resolve("sync-acked");
        Files.createDirectories(mark.getParent());
        Files.writeString(mark, "");
        Rejoin.DivergedException e = assertThrows(Rejoin.DivergedException.class, () -> rejoin(Rejoin.Options.defaults()));
        assertTrue(e.getMessage().contains("LSN " + Lsn.format(FORK + 1) + ".." + Lsn.format(0x40) + " would be lost"),
                e.getMessage());
        assertEquals(0x40, lastLsn(old), "nothing discarded");
        try (Store s = Store.open(old)) {
            s.marks().setSyncAcked(0x32); // the leader's next acknowledged sync commit
            assertEquals(0x32, s.marks().syncAcked().orElse(-1));
        }
    }

    @Test
    void aSyncAckedMarkAtOrBeforeTheForkDoesNotStopTheRewind() throws Exception {
        oldWritesPastTheFork(false);
        try (Store s = Store.open(old)) {
            s.marks().setSyncAcked(FORK);
        }
        assertEquals(Rejoin.Kind.REWOUND, rejoin(Rejoin.Options.defaults()).kind());
    }

    @Test
    void aLeaderThatWasNotSupersededIsNoFollower() throws Exception {
        Path other = tmp.resolve("other");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive2"));
             Store s = Store.open(other)) {
            writeUpTo(s, 5);
            s.close();
            BadInputException e = assertThrows(BadInputException.class,
                    () -> Rejoin.prepare(other, a, Rejoin.Options.defaults(), (dir, timeline) -> { }));
            assertTrue(e.getMessage().contains("no newer timeline"), e.getMessage());
            assertThrows(BadInputException.class, () -> Rejoin.prepare(other, null, Rejoin.Options.defaults(), (dir, timeline) -> { }));
        }
    }

    @Test
    void aFailedCopyLeavesTheOldDirectoryAndTheNextAttemptStartsTheCopyOver() throws Exception {
        oldWritesPastTheFork(false);
        IOException boom = assertThrows(IOException.class, () -> Rejoin.prepare(old, archive, Rejoin.Options.defaults(),
                (dir, timeline) -> {
                    Files.createDirectories(dir);
                    Files.writeString(dir.resolve("half"), "a copy cut short");
                    throw new IOException("injected: the archive went away");
                }, clock));
        assertTrue(boom.getMessage().contains("injected"));
        assertFalse(ControlFile.read(old).standby(), "the old directory is untouched");
        assertEquals(0x40, lastLsn(old));
        assertEquals(Rejoin.Kind.REWOUND, rejoin(Rejoin.Options.defaults()).kind());
        assertFalse(Files.exists(tmp.resolve("old.rejoin")));
    }

    /** The new leader's lease, as a live promotion takes it. */
    private void leaseOnTimeline2() {
        io.walship.archive.LeaderLease.acquire(archive, new io.walship.archive.LeaseRecord.Holder("new", "", ""), 2,
                java.time.Duration.ofSeconds(10), java.time.Duration.ofSeconds(1), io.walship.archive.LeaseClock.SYSTEM);
    }

    @Test
    void aFollowerThatAppliedWalPastTheForkIsRewoundOnceTheLeaseNamesTheNewTimeline() throws Exception {
        oldWritesPastTheFork(false);
        ControlFile.read(old).asStandby().write(old); // a follower of the old leader that received 0x31..0x40
        assertEquals(Rejoin.Kind.NONE, rejoin(Rejoin.Options.defaults()).kind(),
                "timeline 2 may be an inspection copy that never led: a follower is not rewound for it");
        assertEquals(0x40, lastLsn(old));
        leaseOnTimeline2();
        Rejoin.Outcome o = rejoin(Rejoin.Options.defaults());
        assertEquals(Rejoin.Kind.REWOUND, o.kind());
        assertEquals(Lsn.format(0x40), o.report().discardedTo());
        try (Store s = Store.open(old)) {
            assertEquals(newLeader, s.digest());
        }
    }

    @Test
    void aFollowerRestartsWhileTheArchiveIsUnreachableButAFormerLeaderNeedsIt() throws Exception {
        oldWritesPastTheFork(false);
        ObjectStore down = new io.walship.archive.ForwardingObjectStore(archive) {
            @Override
            public List<io.walship.archive.ObjectInfo> list(String prefix, String startAfter) {
                throw new io.walship.archive.StorageException("injected: the archive is unreachable");
            }
        };
        assertThrows(io.walship.archive.StorageException.class,
                () -> Rejoin.prepare(old, down, Rejoin.Options.defaults(), (dir, timeline) -> { }, clock));
        ControlFile.read(old).asStandby().write(old);
        assertEquals(Rejoin.Kind.NONE, Rejoin.prepare(old, down, Rejoin.Options.defaults(), (dir, timeline) -> { }, clock).kind(),
                "a follower's restart does not depend on the archive");
        assertEquals(0x40, lastLsn(old));
    }

    @Test
    void aCrashBetweenTheTwoRenamesIsFinishedByTheNextStart() throws Exception {
        oldWritesPastTheFork(false);
        assertEquals(Rejoin.Kind.REWOUND, rejoin(Rejoin.Options.defaults()).kind());
        // the state a crash after "old → aside" and before "copy → old" leaves
        Files.move(old, tmp.resolve("old.rejoin"));
        assertEquals(Rejoin.Kind.NONE, rejoin(Rejoin.Options.defaults()).kind());
        assertTrue(ControlFile.read(old).standby());
        assertEquals(2, ControlFile.read(old).timeline());
        assertTrue(Files.exists(old.resolve(Rejoin.REPORT_FILE)));
        assertFalse(Files.exists(tmp.resolve("old.rejoin")));
        try (Store s = Store.open(old)) {
            s.checkpoint(); // the same JVM opened another store at this path before: nothing of it may linger
            assertEquals(newLeader, s.digest());
        }
    }
}
