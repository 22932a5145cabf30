package io.walship.scheduler;

import static io.walship.scheduler.ArchiveFixture.backup;
import static io.walship.scheduler.ArchiveFixture.ship;
import static io.walship.scheduler.ArchiveFixture.writes;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;

import io.walship.archive.ArchiveListing;
import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.TimelineHistory;
import io.walship.restorer.ArchiveVerifier;
import io.walship.restorer.Promotion;
import io.walship.restorer.Restore;
import io.walship.shipper.WalShipper;
import io.walship.wal.Lsn;
import io.walship.wal.Store;
import io.walship.wal.WalClockStores;
import io.walship.wal.WalLog;
import io.walship.wal.WalReader;
import net.openhft.chronicle.core.time.SetTimeProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * review32c: the fork check (ForkReach) passes an archive B that holds timeline 1 up to the fork, but the run that
 * follows ships timeline 2 from the first LSN the local WAL still holds. When B was out of reach for a while after
 * the failover (an optional archive: the WAL is not kept for it) and retention deleted the new timeline's first WAL
 * files, that run ships timeline 2 to B from there, over a hole fork+1..first-1 on timeline 2 itself: the same hole
 * "no restore of T crosses" that ForkReach refuses on the parent's side, only one LSN later. The shipper refuses the
 * same hole on timeline 1 ("LSNs in between are lost to the archive; take a new base backup"), but on a promoted
 * timeline with nothing archived yet it logs one warning and ships. Either the run should fail naming the hole (take
 * a base backup on timeline 2 into B), or B should restore timeline 2.
 */
class LateWalForkHoleReview32cTest {
    @TempDir
    Path tmp;

    private static List<Path> cycleFiles(Path data) throws Exception {
        try (Stream<Path> s = Files.list(data.resolve(WalLog.DIR_NAME))) {
            return s.filter(p -> p.toString().endsWith(".cq4")).sorted().toList();
        }
    }

    @Test
    void anArchiveThatReachesTheForkDoesNotGetTheNewTimelineOverAHoleRightAfterIt() throws Exception {
        Path leader = tmp.resolve("leader");
        Path standby = tmp.resolve("standby");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archiveA"));
             ObjectStore b = ObjectStores.open("file://" + tmp.resolve("archiveB"))) {
            try (Store s = Store.open(leader)) {
                writes(s, "a", 40);
                backup(s, a);
                backup(s, b);
                writes(s, "b", 40);
            }
            ship(leader, a);
            ship(leader, b); // B is in step with A when the leader dies
            Restore.run(a, standby, Restore.Options.defaults(), new Restore.Listener() { });
            assertEquals(2, Promotion.promote(standby, a).timeline());
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
}
