package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ArchiveListing;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ManualLeaseClock;
import io.walship.archive.ObjectInfo;
import io.walship.archive.ObjectStore;
import io.walship.archive.StorageException;
import io.walship.protocol.HostPort;
import io.walship.protocol.PromoteResponse;
import io.walship.restorer.follow.FollowerLoop;
import io.walship.server.ConflictException;
import io.walship.shipper.WalShipper;
import io.walship.shipper.repl.ReplicationOptions;
import io.walship.wal.ControlFile;
import io.walship.wal.Lsn;
import io.walship.wal.Snapshot;
import io.walship.wal.SnapshotLoader;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review (rev40) of 5e39da54: the promotion's archive catch-up turns a damaged segment and a key error into a
 * refusal that force passes, but a segment whose download fails (the object store answers an error for that one
 * object: access denied on it, a KMS key the node may not use, an object listed and gone) still escapes as a
 * {@link StorageException}: unforced it is not a refusal (409 / exit 7) but a failure, and forced it cannot be
 * passed at all, so no promotion of any follower succeeds until someone deletes the object, where before c1a5c06d a
 * forced promotion forked at the store's end.
 */
class Rev40PromotionArchiveStorageErrorTest {
    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
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
                throw new StorageException("read " + key + ": 403 Access Denied");
            }
        }

        @Override public void create(String key, InputStream content) { d.create(key, content); }
        @Override public String createReturningEtag(String key, byte[] content) { return d.createReturningEtag(key, content); }
        @Override public String replaceIfMatch(String key, String etag, byte[] content) { return d.replaceIfMatch(key, etag, content); }
        @Override public Optional<Versioned> getVersioned(String key) { return d.getVersioned(key); }
        @Override public InputStream get(String key) { check(key); return d.get(key); }
        @Override public InputStream getRange(String key, long offset, long length) { check(key); return d.getRange(key, offset, length); }
        @Override public Optional<ObjectInfo> head(String key) { return d.head(key); }
        @Override public List<ObjectInfo> list(String prefix, String startAfter) { return d.list(prefix, startAfter); }
        @Override public void delete(String key) { d.delete(key); }
        @Override public void verifyAccess() { d.verifyAccess(); }
        @Override public String describe() { return d.describe(); }
        @Override public void close() { d.close(); }
    }

    /** A leader that wrote 25 entries and shipped them all, and "f1", a standby copy of it after 10. */
    private long archivedLeaderAndTenEntryStandby(LocalObjectStore archive) throws Exception {
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
        }
        archive.verifyAccess();
        try (WalShipper w = new WalShipper(tmp.resolve("leader"), archive, WalShipper.Options.defaults())) {
            w.shipOnce();
        }
        return ArchiveListing.of(archive).lastArchivedLsn(1);
    }

    private LiveFollower.Config config(Path fdir, ObjectStore archive, ManualLeaseClock clock) {
        FollowerLoop.Options options = FollowerLoop.Options.defaults(List.of(new HostPort("127.0.0.1", 1)))
                .withBackoff(Duration.ofSeconds(10), Duration.ofSeconds(10), 42);
        Duration ttl = Duration.ofSeconds(10);
        Duration margin = Duration.ofSeconds(1);
        return new LiveFollower.Config(fdir, archive, options, null, null, null,
                ReplicationOptions.defaults(), ReplicationOptions.defaults(), Duration.ofSeconds(1),
                Duration.ZERO, null, "f1", null, new LiveFollower.Lease("f1", ttl, margin, clock,
                PromotionLease.maxWait(ttl, margin), clock::advance));
    }

    @Test
    @Timeout(120)
    void aForcedPromotionIsNotBlockedByASegmentTheArchiveWillNotServe() throws Exception {
        LocalObjectStore raw = new LocalObjectStore(tmp.resolve("archive"));
        long archived = archivedLeaderAndTenEntryStandby(raw);
        ManualLeaseClock clock = new ManualLeaseClock(1_700_000_000_000_000L);
        Path fdir = tmp.resolve("f1");
        try (LiveFollower live = new LiveFollower(config(fdir, new RefusingGets(raw, 0), clock), Store.open(fdir))
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
        archivedLeaderAndTenEntryStandby(raw);
        ManualLeaseClock clock = new ManualLeaseClock(1_700_000_000_000_000L);
        Path fdir = tmp.resolve("f1");
        try (LiveFollower live = new LiveFollower(config(fdir, new RefusingGets(raw, 0), clock), Store.open(fdir))
                .start()) {
            RuntimeException e = assertThrows(RuntimeException.class, () -> live.promote(false, List.of()));
            assertTrue(e instanceof ConflictException, "refused (409 / exit 7), not failed: " + e);
            assertEquals(1, live.store().timeline(), "nothing claimed");
        }
    }
}
