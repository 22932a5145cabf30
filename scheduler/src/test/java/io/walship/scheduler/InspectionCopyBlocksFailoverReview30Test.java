package io.walship.scheduler;

import static io.walship.scheduler.ArchiveFixture.backup;
import static io.walship.scheduler.ArchiveFixture.followerOf;
import static io.walship.scheduler.ArchiveFixture.ship;
import static io.walship.scheduler.ArchiveFixture.writes;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;

import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.restorer.Promotion;
import io.walship.restorer.Restore;
import io.walship.wal.ControlFile;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * review30: docs/OPERATIONS.md treats a {@code restore --promote} copy of the production archive as a normal thing
 * to make ("an inspection copy made with restore --promote never led", "a restore --promote copy never used", the
 * drill the verify rules were reworded for). Such a copy of a leader on timeline T claims timeline T+1
 * ({@code Promotion.claim}: the next free one). A live promotion ({@code walship promote --url}, and automatic
 * failover, LiveFollower) of a follower on T claims exactly T+1 ({@code Promotion.claimNext}) and, finding it taken,
 * refuses and stays a follower. So after one inspection copy no follower of that leader can ever be promoted live:
 * the leader dies and automatic failover never succeeds (every attempt is refused the same way), and manual
 * {@code promote --url} answers 409. Found by VerifyOracleReview30Test (seeds 3 and 5).
 */
class InspectionCopyBlocksFailoverReview30Test {
    @TempDir
    Path tmp;

    @Test
    void aLivePromotionAfterAnInspectionCopyClaimsATimeline() {
        Path leader = tmp.resolve("leader");
        Path follower = tmp.resolve("follower");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            try (Store s = Store.open(leader)) {
                writes(s, "v", 60);
                backup(s, a);
            }
            ship(leader, a);
            // an operator's inspection copy (or drill) of the production archive, never written
            Restore.Result copy = Restore.run(a, tmp.resolve("inspect"), Restore.Options.defaults().withPromote(true),
                    new Restore.Listener() { });
            assertEquals(2, copy.promotedTimeline());

            // the leader dies; its follower (at the leader's end) is promoted live, as LiveFollower does
            followerOf(leader, follower);
            ControlFile c = ControlFile.read(follower);
            assertDoesNotThrow(() -> Promotion.claimNext(a, c.timeline(), c.checkpointLsn(), c.checkpointTimeMicros(),
                    "live promotion (test)"), "after an inspection copy claimed timeline 2, no follower of the"
                    + " timeline-1 leader can be promoted live (nor by automatic failover)");
        }
    }
}
