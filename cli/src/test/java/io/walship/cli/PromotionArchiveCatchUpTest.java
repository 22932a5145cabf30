package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.EncryptedObjectStore;
import io.walship.archive.EncryptionKeys;
import io.walship.archive.LeaderLease;
import io.walship.archive.LeaseRecord;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ManualLeaseClock;
import io.walship.archive.ObjectStore;
import io.walship.protocol.PromoteResponse;
import io.walship.server.ConflictException;
import io.walship.shipper.WalShipper;
import io.walship.wal.ControlFile;
import io.walship.wal.Lsn;
import io.walship.wal.Snapshot;
import io.walship.wal.SnapshotLoader;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A live promotion's archive catch-up (LiveFollower.catchUpFromArchive) meeting WAL past the store's end that it
 * cannot replay: a damaged segment (review rev37), a key it lacks (rev37), a segment the archive will not serve
 * (rev40). Each is refused like a gap (409 / exit 7, saying what to do) unless forced; forced, the promotion forks at
 * what the store holds. (The plain catch-up and the gap: LiveFollowerFetchTest.)
 */
class PromotionArchiveCatchUpTest {
    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** A leader that wrote 25 entries, and "f1", a standby copy of it after 10. Returns the leader's end. */
    private long leaderAndTenEntryStandby() throws Exception {
        try (Store leader = Store.open(tmp.resolve("leader"))) {
            for (int i = 0; i < 10; i++) {
                leader.put(b("k" + i), b("v" + i));
            }
            Path dir = tmp.resolve("f1");
            try (Snapshot s = leader.snapshot(); InputStream in = s.openStream()) {
                SnapshotLoader.load(in, dir);
            }
            ControlFile.read(dir).asStandby().write(dir);
            for (int i = 10; i < 25; i++) {
                leader.put(b("k" + i), b("v" + i));
            }
            return leader.lastLsn();
        }
    }

    private static LiveFollower.Config config(Path fdir, ObjectStore archive, ManualLeaseClock clock,
                                              PromotionLease.Sleeper sleeper) {
        return LiveFollowerFetchTest.config(fdir, archive, clock, Duration.ofSeconds(10), Duration.ofSeconds(1), sleeper);
    }

    /** The archive holds the old leader's WAL to its end and then a damaged segment right after it. */
    private long archiveWithDamagedSegmentPastTheEnd(LocalObjectStore archive) throws Exception {
        long leaderEnd = leaderAndTenEntryStandby();
        archive.verifyAccess();
        try (WalShipper w = new WalShipper(tmp.resolve("leader"), archive, WalShipper.Options.defaults())) {
            w.shipOnce();
        }
        // contiguous with what was shipped (no gap by name): its bytes are damaged
        archive.create(new ArchiveLayout.SegmentName(1, leaderEnd + 1, leaderEnd + 3).key(),
                new ByteArrayInputStream(new byte[]{1, 2, 3}));
        return leaderEnd;
    }

    /**
     * A damaged segment past the store's end is archived WAL that cannot be replayed, like a gap; the commit's own
     * answer to that is "pass force to lose it". But the catch-up throws before the gap check, force or not, so no
     * promotion of any follower can succeed (by hand or automatically) until someone deletes the object by hand.
     * Before c1a5c06d a forced promotion forked at the store's end.
     */
    @Test
    @Timeout(120)
    void aForcedPromotionIsNotBlockedByADamagedSegmentPastTheStoresEnd() throws Exception {
        LocalObjectStore archive = new LocalObjectStore(tmp.resolve("archive"));
        long leaderEnd = archiveWithDamagedSegmentPastTheEnd(archive);
        ManualLeaseClock clock = new ManualLeaseClock(1_700_000_000_000_000L);
        Path fdir = tmp.resolve("f1");
        try (LiveFollower live = new LiveFollower(config(fdir, archive, clock, clock::advance), Store.open(fdir)).start()) {
            PromoteResponse r = live.promote(true, List.of()).response();
            assertEquals(2, r.timeline());
            assertEquals(Lsn.format(leaderEnd), r.forkLsn(), "forked after what could be replayed");
        }
    }

    /**
     * Unforced, the same archive should refuse like a gap (ConflictException: 409 / exit 7, "pass force to lose it",
     * which AutoFailover logs as a refusal); it fails instead with the catch-up's CorruptObjectException (a storage
     * error, which AutoFailover logs as a failed promotion at ERROR, and whose advice — none — does not say force).
     */
    @Test
    @Timeout(120)
    void aDamagedSegmentPastTheStoresEndRefusesLikeAGap() throws Exception {
        LocalObjectStore archive = new LocalObjectStore(tmp.resolve("archive"));
        archiveWithDamagedSegmentPastTheEnd(archive);
        ManualLeaseClock clock = new ManualLeaseClock(1_700_000_000_000_000L);
        Path fdir = tmp.resolve("f1");
        try (LiveFollower live = new LiveFollower(config(fdir, archive, clock, clock::advance), Store.open(fdir)).start()) {
            RuntimeException e = assertThrows(RuntimeException.class, () -> live.promote(false, List.of()));
            assertTrue(e instanceof ConflictException, "refused like a gap, not failed: " + e);
            assertEquals(1, live.store().timeline(), "nothing claimed");
        }
    }

    /**
     * The old leader's last shipment is sealed with a key this follower lacks (a rotation not yet given to the
     * followers). The follower streamed happily (it never needed the archive past its start); a promotion now meets
     * that WAL: unforced it refuses, naming the key (the commits in it were acknowledged; before c1a5c06d the promotion
     * forked at the store's end and lost them without a word, and the first version of the catch-up failed with a key
     * error that force could not pass); forced, it forks at what it holds and says what is lost. (Following again
     * after the refusal, the loop's own start-up catch-up meets the same key and stops, as any restart of this
     * follower would: the key must be given to it.)
     */
    @Test
    @Timeout(120)
    void aPromotionMeetingAnArchiveKeyItLacksRefusesUnlessForced() throws Exception {
        long leaderEnd = leaderAndTenEntryStandby();
        byte[] k1 = new byte[32];
        k1[3] = 1;
        byte[] k2 = new byte[32];
        k2[3] = 2;
        LocalObjectStore raw = new LocalObjectStore(tmp.resolve("archive"));
        raw.verifyAccess();
        ObjectStore followerView = new EncryptedObjectStore(raw, EncryptionKeys.of(List.of(k1)));
        ObjectStore leaderView = new EncryptedObjectStore(raw, EncryptionKeys.of(List.of(k2, k1)));
        ManualLeaseClock clock = new ManualLeaseClock(1_700_000_000_000_000L);
        Duration ttl = Duration.ofSeconds(10);
        LeaderLease.acquire(followerView, new LeaseRecord.Holder("old", "http://old:1", "old:2"), 1, ttl,
                Duration.ofSeconds(1), clock);
        AtomicBoolean shipped = new AtomicBoolean();
        PromotionLease.Sleeper sleeper = d -> {
            clock.advance(d);
            if (shipped.compareAndSet(false, true)) {
                // while its lease is waited out, the old leader's last shipment lands, under its new key
                try (WalShipper w = new WalShipper(tmp.resolve("leader"), leaderView, WalShipper.Options.defaults())) {
                    w.shipOnce();
                }
            }
        };
        Path fdir = tmp.resolve("f1");
        try (LiveFollower live = new LiveFollower(config(fdir, followerView, clock, sleeper), Store.open(fdir)).start()) {
            long mine = live.store().lastLsn();
            ConflictException e = assertThrows(ConflictException.class, () -> live.promote(false, List.of()));
            assertTrue(shipped.get());
            assertTrue(e.getMessage().contains("to LSN " + Lsn.format(leaderEnd))
                    && e.getMessage().contains("--encryption-key-file"), e.getMessage());
            assertEquals(1, live.store().timeline(), "nothing claimed");
            io.walship.protocol.PromoteResponse r = live.promote(true, List.of()).response();
            assertEquals(2, r.timeline());
            assertEquals(Lsn.format(mine), r.forkLsn(), "forced: forked at what it holds");
        }
    }

    /** The archive, whose GET of segments past LSN {@code after} fails as the object store refuses them. */
    private static final class RefusingGets implements ObjectStore {
        private final ObjectStore d;
        private final long after;

        RefusingGets(ObjectStore d, long after) {
            this.d = d;
            this.after = after;
        }

        private void check(String key) {
            var seg = ArchiveLayout.parseSegment(key);
            if (seg.isPresent() && seg.get().lastLsn() > after) {
                throw new io.walship.archive.StorageException("read " + key + ": 403 Access Denied");
            }
        }

        @Override public void create(String key, InputStream content) { d.create(key, content); }
        @Override public String createReturningEtag(String key, byte[] content) { return d.createReturningEtag(key, content); }
        @Override public String replaceIfMatch(String key, String etag, byte[] content) { return d.replaceIfMatch(key, etag, content); }
        @Override public java.util.Optional<Versioned> getVersioned(String key) { return d.getVersioned(key); }
        @Override public InputStream get(String key) { check(key); return d.get(key); }
        @Override public InputStream getRange(String key, long offset, long length) { check(key); return d.getRange(key, offset, length); }
        @Override public java.util.Optional<io.walship.archive.ObjectInfo> head(String key) { return d.head(key); }
        @Override public List<io.walship.archive.ObjectInfo> list(String prefix, String startAfter) { return d.list(prefix, startAfter); }
        @Override public void delete(String key) { d.delete(key); }
        @Override public void verifyAccess() { d.verifyAccess(); }
        @Override public String describe() { return d.describe(); }
        @Override public void close() { d.close(); }
    }

    /** {@link #leaderAndTenEntryStandby}, with all the leader wrote shipped to {@code archive}; its last LSN there. */
    private long shippedLeaderAndTenEntryStandby(LocalObjectStore archive) throws Exception {
        leaderAndTenEntryStandby();
        archive.verifyAccess();
        try (WalShipper w = new WalShipper(tmp.resolve("leader"), archive, WalShipper.Options.defaults())) {
            w.shipOnce();
        }
        return io.walship.archive.ArchiveListing.of(archive).lastArchivedLsn(1);
    }

    // review rev40: a segment the archive will not serve

    @Test
    @Timeout(120)
    void aForcedPromotionIsNotBlockedByASegmentTheArchiveWillNotServe() throws Exception {
        LocalObjectStore raw = new LocalObjectStore(tmp.resolve("archive"));
        long archived = shippedLeaderAndTenEntryStandby(raw);
        ManualLeaseClock clock = new ManualLeaseClock(1_700_000_000_000_000L);
        Path fdir = tmp.resolve("f1");
        try (LiveFollower live = new LiveFollower(config(fdir, new RefusingGets(raw, 0), clock, clock::advance), Store.open(fdir))
                .start()) {
            long mine = live.store().lastLsn();
            assertTrue(archived > mine, "the archive holds WAL past the store's end");
            PromoteResponse r = live.promote(true, List.of()).response();
            assertEquals(2, r.timeline());
            assertEquals(Lsn.format(mine), r.forkLsn(), "forced: forked at what it holds");
        }
    }

    @Test
    @Timeout(120)
    void aSegmentTheArchiveWillNotServeRefusesLikeADamagedOne() throws Exception {
        LocalObjectStore raw = new LocalObjectStore(tmp.resolve("archive"));
        shippedLeaderAndTenEntryStandby(raw);
        ManualLeaseClock clock = new ManualLeaseClock(1_700_000_000_000_000L);
        Path fdir = tmp.resolve("f1");
        try (LiveFollower live = new LiveFollower(config(fdir, new RefusingGets(raw, 0), clock, clock::advance), Store.open(fdir))
                .start()) {
            RuntimeException e = assertThrows(RuntimeException.class, () -> live.promote(false, List.of()));
            assertTrue(e instanceof ConflictException, "refused (409 / exit 7), not failed: " + e);
            assertEquals(1, live.store().timeline(), "nothing claimed");
        }
    }
}
