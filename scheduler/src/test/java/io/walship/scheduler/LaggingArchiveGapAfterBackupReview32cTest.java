package io.walship.scheduler;

import static io.walship.scheduler.ArchiveFixture.backup;
import static io.walship.scheduler.ArchiveFixture.ship;
import static io.walship.scheduler.ArchiveFixture.writes;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Instant;

import io.walship.archive.ArchiveListing;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.restorer.ArchiveVerifier;
import io.walship.restorer.Promotion;
import io.walship.restorer.Restore;
import io.walship.wal.Store;
import io.walship.wal.WalshipException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * review32c: docs/OPERATIONS.md "Several archives" says that after the fix the refusal names (a base backup on timeline
 * 2 taken into the lagging archive B), "B still lacks the hole's entries, so archive verify reports it as a gap of the
 * old backup until the WAL is copied in or retention prunes that backup". Retention never prunes it: every timeline
 * keeps the newest backup it can restore from ("Archive retention"), and for timeline 1 that is the old backup, the
 * only one on timeline 1. So verify fails (exit 3) on B for good, however retention runs, unless someone copies the
 * WAL in. The doc should say so (or retention/verify should treat that hole differently).
 */
class LaggingArchiveGapAfterBackupReview32cTest {
    @TempDir
    Path tmp;

    @Test
    void retentionPrunesTheOldBackupWhoseGapVerifyReportsAsTheDocSays() {
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
            ArchiveVerifier.Report v = ArchiveVerifier.verify(b, 2, false, m -> { });
            assertTrue(v.ok(), "the doc: verify reports the gap of the old backup until retention prunes that backup;"
                    + " after three prunes keeping one backup B still holds " + ArchiveListing.of(b).backups()
                    + " and verify says " + v.problems());
        }
    }
}
