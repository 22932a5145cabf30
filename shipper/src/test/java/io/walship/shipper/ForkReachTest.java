package io.walship.shipper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ArchiveListing;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.TimelineHistory;
import io.walship.wal.Lsn;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ForkReach} on listings of a three-timeline path (timeline 2 forked from 1 after LSN 100, timeline 3 from 2
 * after LSN 200), objects named only (the check reads keys, nothing else).
 */
class ForkReachTest {
    @TempDir
    Path tmp;

    private static final Map<Integer, TimelineHistory> HISTORIES = Map.of(
            2, new TimelineHistory(TimelineHistory.FORMAT_VERSION, 2, 1, Lsn.format(100), "t", "t", "test"),
            3, new TimelineHistory(TimelineHistory.FORMAT_VERSION, 3, 2, Lsn.format(200), "t", "t", "test"));

    private ArchiveListing listing(String name, Object... objects) {
        ObjectStore s = ObjectStores.open("file://" + tmp.resolve(name));
        for (Object o : objects) {
            String key = o instanceof ArchiveLayout.SegmentName n ? n.key()
                    : ((ArchiveLayout.BackupName) o).manifestKey();
            s.createOrSame(key, new byte[] {1});
        }
        return ArchiveListing.of(s);
    }

    private static ArchiveLayout.SegmentName seg(int t, long first, long last) {
        return new ArchiveLayout.SegmentName(t, first, last);
    }

    private static ArchiveLayout.BackupName backup(int t, long lsn) {
        return new ArchiveLayout.BackupName(t, lsn);
    }

    private ForkReach.Verdict check(ArchiveListing l, long archived, long shipFrom, long firstLocal) {
        return ForkReach.check(l, HISTORIES, 3, archived, shipFrom, firstLocal, "B", tmp.resolve("data"));
    }

    @Test
    void aBackupOnThePathWhoseWalReachesTheForkThroughTheMiddleTimelinePasses() {
        ArchiveListing l = listing("a", backup(1, 50), seg(1, 51, 100), seg(2, 101, 150), seg(2, 151, 260));
        assertTrue(check(l, 0, 201, 201).reached());
        // a backup on the middle timeline, at its fork too
        assertTrue(check(listing("b", backup(2, 100), seg(2, 101, 200)), 0, 201, 201).reached());
        // one on timeline 3 itself needs no WAL of its parents
        assertTrue(check(listing("c", backup(1, 50), backup(3, 300)), 0, 201, 201).reached());
    }

    @Test
    void aHoleBeforeTheForkIsRefusedNamingItUnlessThisWalShipsIt() {
        ArchiveListing l = listing("a", backup(1, 50), seg(1, 51, 100), seg(2, 101, 150));
        ForkReach.Verdict v = check(l, 0, 151, 201);
        assertTrue(v.why() != null && !v.reached() && !v.fills(), "refused");
        assertTrue(v.why().startsWith("B cannot restore timeline 3: it lacks timeline 2's WAL from LSN " + Lsn.format(151)
                + " to timeline 3's fork at LSN " + Lsn.format(200) + " (from its base backup " + backup(1, 50).dir()
                + " the WAL stops at LSN " + Lsn.format(150) + ") and this data directory's WAL starts at LSN "
                + Lsn.format(201)), v.why());
        // the local WAL starts early enough: this run ships 151..200 first
        assertTrue(check(l, 0, 151, 120).fills());
        // but not once timeline 3 has WAL in the archive (the run ships after it, not the hole)
        assertTrue(check(l, 260, 151, 120).why().contains("though timeline 3's WAL was shipped there"));
    }

    @Test
    void aHoleInTheMiddleOfTheParentsWalIsRefusedEvenWithTheWholeLocalWal() {
        // the parent's archive goes past the fork, so the shipment starts after the fork: it cannot fill 61..69
        ArchiveListing l = listing("a", backup(1, 50), seg(1, 51, 60), seg(1, 70, 100), seg(2, 101, 230));
        ForkReach.Verdict v = check(l, 0, 201, 1);
        assertTrue(v.why().contains("it lacks timeline 1's WAL from LSN " + Lsn.format(61)), v.why());
        // a newer backup past the hole reaches the fork
        ArchiveListing newer = listing("b", backup(1, 50), backup(1, 75), seg(1, 51, 60), seg(1, 70, 100), seg(2, 101, 230));
        assertTrue(check(newer, 0, 201, 1).reached());
    }

    @Test
    void anArchiveWithNoBackupOnThePathIsNotRefused() {
        assertTrue(check(listing("empty"), 0, 1, 201).reached(), "a new, empty archive");
        // timeline 1's only backup lies past timeline 2's fork: not on timeline 3's path
        assertTrue(check(listing("off", backup(1, 150), seg(1, 1, 40)), 0, 41, 201).reached());
        assertEquals(null, check(listing("wal", seg(1, 1, 40)), 0, 41, 201).why(), "WAL and no backup");
    }

    /**
     * review32c: a hole inside the parent's WAL (61..69) that the local WAL holds (it starts at LSN 1). The run would not
     * ship it (it starts after the parent's archived end), so the archive is refused, but the refusal's reason must be
     * true: it says the WAL "starts at LSN 1, so it cannot ship them", which contradicts itself (the WAL holds them; the
     * shipment just does not start there).
     */
    @Test
    void aRefusalDoesNotSayTheWalCannotShipEntriesItHolds() {
        ArchiveListing l = listing("a", backup(1, 50), seg(1, 51, 60), seg(1, 70, 90));
        // timeline 2 (fork 100): the parent's archived end is 90, so the shipment would start at 91
        ForkReach.Verdict v = ForkReach.check(l, HISTORIES, 2, 0, 91, 1, "B", tmp.resolve("data"));
        assertTrue(v.why() != null, "refused");
        assertTrue(!v.why().contains("starts at LSN " + Lsn.format(1) + ", so it cannot ship them"),
                "the WAL starts at LSN 1 and holds 61..69; the reason given: " + v.why());
    }

    /**
     * review32c: the local WAL starts past timeline 3's fork + 1 (its first files deleted while the archive was away)
     * and nothing of timeline 3 is archived: shipping from there is refused unless a restore from a backup on the path
     * reaches the WAL's first entry - 1.
     */
    @Test
    void aLateWalStartIsRefusedUnlessABackupLetsARestoreStartAfterTheHole() {
        ArchiveListing reaches = listing("r", backup(1, 50), seg(1, 51, 100), seg(2, 101, 200));
        String why = ForkReach.lateStart(reaches, HISTORIES, 3, 260, "B", tmp.resolve("data"));
        assertTrue(why != null && why.contains("restores timeline 3 only up to LSN " + Lsn.format(200))
                && why.contains("starts at LSN " + Lsn.format(260)) && why.contains("LSNs in between are lost to the archive"),
                "refused, naming the reach and the WAL's start: " + why);
        assertEquals(null, ForkReach.lateStart(reaches, HISTORIES, 3, 201, "B", tmp.resolve("data")), "no hole");
        assertEquals(null, ForkReach.lateStart(listing("t", backup(1, 50), backup(3, 259)), HISTORIES, 3, 260, "B",
                tmp.resolve("data")), "a backup on timeline 3 at the WAL's start - 1");
        assertTrue(ForkReach.lateStart(listing("o", backup(1, 50), seg(1, 51, 100), seg(2, 101, 200), backup(3, 230)),
                HISTORIES, 3, 260, "B", tmp.resolve("data")) != null, "a backup on timeline 3 before the hole");
        assertEquals(null, ForkReach.lateStart(listing("n", seg(1, 1, 100)), HISTORIES, 3, 260, "B",
                tmp.resolve("data")), "no backup on the path: not refused");
    }
}
