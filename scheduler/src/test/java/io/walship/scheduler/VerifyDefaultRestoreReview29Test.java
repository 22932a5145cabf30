package io.walship.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.stream.Stream;

import io.walship.archive.ArchiveListing;
import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.restorer.ArchiveVerifier;
import io.walship.restorer.Promotion;
import io.walship.restorer.Restore;
import io.walship.shipper.BaseBackup;
import io.walship.shipper.LocalHistories;
import io.walship.shipper.WalShipper;
import io.walship.wal.ControlFile;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import io.walship.wal.WalshipException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * review29 (verifybase): a timeline "claimed and never written" is only a note, "since nothing was written on it".
 * But when its parent's archived history stops at the fork, it is the timeline a default {@code walship restore}
 * follows (RestorePlan.latest), and with no backup on its path that restore fails, while verify exits 0. How it
 * arises: an async follower at LSN X is promoted live after its leader died; the leader had taken a backup at
 * Y > X (--url LEADER, its commit point) and a prune keeping one backup deleted the older ones; the archive's
 * timeline 1 ends at or before X. The new leader's shipper refuses the archive (RetentionWatermark.forkUnprotected:
 * timeline 2 has no WAL in it), so the "unwritten" timeline 2 does take writes, and the archive's default restore
 * fails until someone takes a backup on it.
 */
class VerifyDefaultRestoreReview29Test {
    @TempDir
    Path tmp;

    private static void writes(Store s, String tag, int n) {
        for (int i = 0; i < n; i++) {
            s.put(("k" + (i % 20)).getBytes(StandardCharsets.UTF_8), (tag + i).getBytes(StandardCharsets.UTF_8));
        }
    }

    private static void backup(Store s, ObjectStore a) {
        try (Snapshot snap = s.snapshot()) {
            BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), a, Codec.ZSTD, x -> { });
        }
    }

    private static void ship(Path data, ObjectStore a) {
        try (WalShipper w = new WalShipper(data, a, new WalShipper.Options(Codec.ZSTD, 4096))) {
            w.shipOnce();
        }
    }

    private static void followerOf(Path leader, Path follower) {
        try (Stream<Path> all = Files.walk(leader)) {
            for (Path p : (Iterable<Path>) all::iterator) {
                Path to = follower.resolve(leader.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(to);
                } else if (!p.getFileName().toString().equals(Store.LOCK_FILE)) {
                    Files.copy(p, to);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        ControlFile.read(follower).asStandby().write(follower);
    }

    @Test
    void verifyPassesAnArchiveWhoseDefaultRestoreFails() {
        Path leader = tmp.resolve("leader");
        Path follower = tmp.resolve("follower");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            try (Store s = Store.open(leader)) {
                writes(s, "a", 60);
                backup(s, a);
                writes(s, "b", 60);
                ship(leader, a);
            }
            followerOf(leader, follower); // the follower has what the archive has, LSN X
            try (Store s = Store.open(leader)) {
                writes(s, "c", 40);
                backup(s, a); // at Y > X, not yet shipped nor replicated
            }
            Retention.apply(a, Retention.plan(a, new Retention.Policy(1, null), Instant.now()), d -> { });
            // the leader dies; the follower is promoted live (LiveFollower.promote)
            ControlFile c = ControlFile.read(follower);
            int tl = Promotion.claimNext(a, c.timeline(), c.checkpointLsn(), c.checkpointTimeMicros(), "live (test)");
            LocalHistories.saveFrom(a, follower, tl);
            ControlFile.read(follower).promoted(tl).write(follower);
            try (Store s = Store.open(follower)) {
                writes(s, "t2-", 30); // the new leader takes writes
            }
            WalshipException refused = assertThrows(WalshipException.class, () -> ship(follower, a));
            assertTrue(refused.getMessage().contains("may not restore timeline 2"), refused.getMessage());
            assertEquals(0, ArchiveListing.of(a).lastArchivedLsn(2), "setup: nothing of timeline 2 is archived");

            Exception e = assertThrows(Exception.class, () -> Restore.run(a, tmp.resolve("drill"),
                    Restore.Options.defaults(), new Restore.Listener() { }));
            assertTrue(e.getMessage().contains("no base backup on timeline 2"), "setup: the default restore fails: " + e);
            ArchiveVerifier.Report r = ArchiveVerifier.verify(a, 2, false, m -> { });
            assertTrue(!r.ok(), "the archive's default restore fails, verify exits 0: notes " + r.notes());
        }
    }
}
