package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import io.walship.archive.ArchiveListing;
import io.walship.archive.Codec;
import io.walship.archive.EncryptionKeyException;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ObjectStore;
import io.walship.archive.TimelineHistory;
import io.walship.protocol.StatusResponse;
import io.walship.restorer.Restore;
import io.walship.shipper.BaseBackup;
import io.walship.shipper.ShipLoops;
import io.walship.shipper.WalShipper;
import io.walship.wal.Durability;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A follower promoted in place (POST /promote, {@code --failover auto}) ships its new timeline as
 * {@code walship leader --archive} does — to every archive it was given, not only the primary — and
 * a key error that stops that ship loop stops the node
 * ({@link LiveFollower#fatal()}: {@code walship follow} rethrows it, exit 2) instead of leaving it
 * serving as the leader with archiving stopped unseen.
 */
class PromotedShipKeyErrorTest {
    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    @Timeout(60)
    void aKeyErrorInThePromotedNodesShipLoopIsFatal() throws Exception {
        Path fdir = tmp.resolve("f1");
        PromotableStandby.ofTenRows(tmp.resolve("leader"), fdir);
        // an archive whose WAL objects cannot be sealed: a key error as shipping meets it
        AtomicInteger refused = new AtomicInteger();
        ObjectStore archive = PromotableStandby.keyless(tmp.resolve("archive"), refused);
        LiveFollower.Config config = PromotableStandby.config(fdir, archive, List.of());
        try (LiveFollower live = new LiveFollower(config, Store.open(fdir)).start()) {
            var promoted = live.promote(false, List.of());
            assertEquals(2, promoted.response().timeline());
            promoted.leader().put(b("after"), b("promotion"), Durability.DURABLE);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (live.fatal() == null && System.nanoTime() < deadline) {
                java.util.concurrent.locks.LockSupport.parkNanos(Duration.ofMillis(10).toNanos()); // polling
            }
            assertTrue(refused.get() > 0, "the promoted node shipped nothing: the test injected no key error");
            assertInstanceOf(EncryptionKeyException.class, live.fatal(),
                    "a key error stopped the promoted node's shipping but the node went on as leader");
        }
    }

    /**
     * The old leader shipped to two archives; its follower, started with both ({@code --archive A
     * --archive B}), is promoted and takes writes: the second archive, too, receives the new
     * timeline's WAL and its history, and a restore from it alone reaches the promoted node's state.
     */
    @Test
    @Timeout(120)
    void aPromotedFollowerShipsTheNewTimelineToEveryArchive() throws Exception {
        Path fdir = tmp.resolve("f1");
        LocalObjectStore a = new LocalObjectStore(tmp.resolve("archive-a"));
        LocalObjectStore b = new LocalObjectStore(tmp.resolve("archive-b"));
        a.verifyAccess();
        b.verifyAccess();
        try (Store leader = Store.open(tmp.resolve("leader"))) {
            for (int i = 0; i < 10; i++) {
                leader.put(b("k" + i), b("v" + i));
            }
            for (ObjectStore x : List.of(a, b)) {
                try (Snapshot snap = leader.snapshot()) {
                    BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), x, Codec.ZSTD, y -> { });
                }
            }
            for (int i = 0; i < 20; i++) {
                leader.put(b("k" + (i % 7)), b("w" + i));
            }
            for (ObjectStore x : List.of(a, b)) { // the old leader shipped to both archives
                try (WalShipper s = new WalShipper(leader.dir(), x, WalShipper.Options.defaults())) {
                    s.shipOnce();
                }
            }
            PromotableStandby.copy(leader, fdir);
        }
        LiveFollower.Config config = PromotableStandby.config(fdir, a, List.of(new ShipLoops.Target(b, true)));
        StateDigest expected;
        long last;
        try (LiveFollower live = new LiveFollower(config, Store.open(fdir)).start()) {
            var promoted = live.promote(false, List.of());
            assertEquals(2, promoted.response().timeline());
            for (int i = 0; i < 30; i++) {
                promoted.leader().put(b("k" + (i % 11)), b("after" + i), Durability.DURABLE);
            }
            expected = promoted.leader().store().digest();
            last = promoted.leader().store().lastLsn();
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            // each archive has its own ship loop: poll both (polling only b raced a's loop: 2 of 5 runs failed on main)
            while (!(shippedTo(b, 2, last) && shippedTo(a, 2, last)) && live.fatal() == null
                    && System.nanoTime() < deadline) {
                java.util.concurrent.locks.LockSupport.parkNanos(Duration.ofMillis(20).toNanos()); // polling
            }
            assertEquals(null, live.fatal());
            assertTrue(shippedTo(b, 2, last), "the second archive did not receive the new timeline's WAL up to "
                    + last + ": " + ArchiveListing.of(b).lastArchivedLsn(2));
            assertTrue(shippedTo(a, 2, last), "the primary did not receive the new timeline's WAL");
            StatusResponse st = promoted.leader().status();
            assertNotNull(st.archives(), "the promoted node's /status shows no archives[]");
            assertEquals(2, st.archives().size());
        }
        assertNotNull(TimelineHistory.readAll(b, ArchiveListing.of(b)).get(2),
                "the second archive lacks the history of timeline 2");
        Restore.Result r = Restore.run(b, tmp.resolve("restored"), Restore.Options.defaults(), new Restore.Listener() { });
        assertEquals(2, r.timeline());
        assertEquals(last, r.lsn());
        try (Store restored = Store.open(tmp.resolve("restored"))) {
            assertEquals(expected.sha256(), restored.digest().sha256(), "a restore from the second archive");
        }
    }

    private static boolean shippedTo(ObjectStore archive, int timeline, long lsn) {
        return ArchiveListing.of(archive).lastArchivedLsn(timeline) >= lsn;
    }
}
