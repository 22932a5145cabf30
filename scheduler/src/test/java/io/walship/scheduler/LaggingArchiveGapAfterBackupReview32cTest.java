package io.walship.scheduler;

import static io.walship.scheduler.ArchiveFixture.backup;
import static io.walship.scheduler.ArchiveFixture.ship;
import static io.walship.scheduler.ArchiveFixture.writes;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashSet;
import java.util.Set;

import io.walship.archive.ArchiveListing;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.TimelineHistory;
import io.walship.restorer.ArchiveVerifier;
import io.walship.restorer.Promotion;
import io.walship.restorer.Restore;
import io.walship.wal.Lsn;
import io.walship.wal.Store;
import io.walship.wal.WalshipException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * review32c: docs/OPERATIONS.md "Several archives" said that after the fix the refusal names (a base backup on timeline
 * 2 taken into the lagging archive B), "archive verify reports it as a gap of the old backup until the WAL is copied in
 * or retention prunes that backup". Retention never prunes it: every timeline keeps the newest backup it can restore
 * from ("Archive retention"), and for timeline 1 that is the old backup, the only one on timeline 1. Changing that
 * (retention dropping a parent timeline's last backup once a descendant has one) is a policy change of its own, not
 * this fix: the doc now says verify reports the gap until timeline 1's missing segments are copied in from A, and this
 * test pins that: retention leaves the old backup and the gap, B restores timeline 2 from its new backup, and copying
 * A's segments of timeline 1 that B lacks (the keys as they are, byte for byte) makes verify pass.
 */
class LaggingArchiveGapAfterBackupReview32cTest {
    @TempDir
    Path tmp;

    @Test
    void verifyReportsTheOldBackupsGapUntilTheWalIsCopiedInRetentionDoesNotPruneIt() throws Exception {
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
            ship(leader, b);
            try (Store s = Store.open(leader)) {
                writes(s, "c", 40);
            }
            ship(leader, a); // B is behind when the leader dies
            Restore.run(a, standby, Restore.Options.defaults(), new Restore.Listener() { });
            assertEquals(2, Promotion.promote(standby, a).timeline());
            try (Store s = Store.open(standby)) {
                writes(s, "t2-", 40);
            }
            ship(standby, a);
            assertThrows(WalshipException.class, () -> ship(standby, b), "setup: B is refused");

            // the fix the refusal names, then the scheduler's retention job on B, a few times, keeping one backup
            try (Store s = Store.open(standby)) {
                backup(s, b);
                writes(s, "t2b-", 20);
            }
            ship(standby, b);
            for (int i = 0; i < 3; i++) {
                Retention.apply(b, Retention.plan(b, new Retention.Policy(1, null), Instant.now()), d -> { });
            }
            ArchiveListing lb = ArchiveListing.of(b);
            assertTrue(lb.backups().stream().anyMatch(x -> x.name().timeline() == 1),
                    "retention keeps timeline 1's newest backup: " + lb.backups());
            ArchiveVerifier.Report v = ArchiveVerifier.verify(b, 2, false, m -> { });
            // the hole is timeline 1's WAL up to the fork, reported on timeline 2's path (the one it breaks)
            long fork = TimelineHistory.readOne(a, 2).forkLsnValue();
            String hole = Lsn.format(ArchiveListing.of(b).lastArchivedLsn(1) + 1) + ".." + Lsn.format(fork);
            assertTrue(!v.ok() && v.problems().stream().anyMatch(p -> p.kind().equals("gap")
                    && p.object().equals("WAL LSN " + hole + " (timeline 2)") && p.detail().contains("backups/00000001-")),
                    "verify reports the old backup's gap, timeline 1's WAL " + hole + ": " + v.problems());
            Restore.run(b, tmp.resolve("fromB"), Restore.Options.defaults(), new Restore.Listener() { });

            // the doc's fix: copy timeline 1's segments B lacks from A, keys and bytes as they are
            Set<String> inB = new HashSet<>();
            lb.segments(1).forEach(x -> inB.add(x.name().key()));
            int copied = 0;
            for (ArchiveListing.SegmentInfo seg : ArchiveListing.of(a).segments(1)) {
                if (!inB.contains(seg.name().key())) {
                    try (InputStream in = a.get(seg.name().key())) {
                        b.createOrSame(seg.name().key(), in.readAllBytes());
                    }
                    copied++;
                }
            }
            assertTrue(copied > 0, "setup: A holds timeline 1 segments B lacks");
            ArchiveVerifier.Report after = ArchiveVerifier.verify(b, 2, false, m -> { });
            assertTrue(after.ok(), "verify passes once the WAL is copied in: " + after.problems());
        }
    }
}
