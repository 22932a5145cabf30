package io.walship.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

import io.walship.archive.LeaseKeeper;
import io.walship.archive.LeaseRecord;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ManualLeaseClock;
import io.walship.wal.Durability;
import io.walship.wal.Lsn;
import io.walship.wal.Store;
import io.walship.wal.WalshipException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of branch httpfast, change (3): the lease fence's -1 "nothing committed" sentinel. A lease
 * lost between a commit and its acknowledgement must be answered as committed-but-unacknowledged
 * (never {@code WriteRefusedException}, whose {@code Walship-Committed: no} invites a resend), for
 * every LSN a commit can return, including a no-op write's current LSN; a write refused before it
 * commits must commit nothing and be a {@code WriteRefusedException}.
 */
class FenceSentinelReviewTest {
    static final Duration TTL = Duration.ofSeconds(10);
    static final Duration MARGIN = Duration.ofSeconds(1);

    @TempDir
    Path tmp;

    @Test
    void aLeaseLostAfterTheCommitIsNeverARefusalBeforeIt() throws Exception {
        ManualLeaseClock clock = new ManualLeaseClock(1_780_000_000_000_000L);
        LocalObjectStore archive = new LocalObjectStore(tmp.resolve("archive"));
        LeaseRecord.Holder me = new LeaseRecord.Holder("leader-a", "http://127.0.0.1:1", "");
        try (Store store = Store.open(tmp.resolve("data"));
             LeaseKeeper keeper = LeaseKeeper.manual(archive, me, store.timeline(), TTL, MARGIN, clock)) {
            LeaderNode node = new LeaderNode(store, null, null, keeper);
            keeper.tick();
            byte[] k = "k".getBytes(StandardCharsets.UTF_8);
            long lsn = node.put(k, "v".getBytes(StandardCharsets.UTF_8), Durability.DURABLE);
            // a no-op write (delete of an absent key) returns the current LSN: also "committed"
            long noop = node.delete("absent".getBytes(StandardCharsets.UTF_8), Durability.DURABLE);
            CommitWait w = node.commitWait(null, Durability.DURABLE);
            assertEquals("async", node.awaitCommit(lsn, w), "acknowledged while the lease holds");

            clock.advance(TTL); // no renewal: past expiry minus the margin, the lease no longer allows writes
            assertTrue(keeper.refusal() != null, "the lease must refuse now");
            for (long l : new long[] {lsn, noop, Lsn.NONE, 1, Long.MAX_VALUE}) {
                WalshipException e = assertThrows(WalshipException.class, () -> node.awaitCommit(l, w), "LSN " + l);
                assertFalse(e instanceof WriteRefusedException, "LSN " + Lsn.format(l)
                        + " is committed but was refused as if nothing was (Walship-Committed: no): " + e.getMessage());
                assertTrue(e.getMessage().contains("LSN " + Lsn.format(l) + " is committed on this node but not acknowledged"),
                        e.getMessage());
                assertEquals(503, HttpApi.statusOf(e));
            }
            long before = store.lastLsn();
            WriteRefusedException r = assertThrows(WriteRefusedException.class,
                    () -> node.put("k2".getBytes(StandardCharsets.UTF_8), "v".getBytes(StandardCharsets.UTF_8), Durability.DURABLE));
            assertTrue(r.getMessage().endsWith("; nothing was committed"), r.getMessage());
            assertEquals(before, store.lastLsn(), "a refused write commits nothing");
        }
    }
}
