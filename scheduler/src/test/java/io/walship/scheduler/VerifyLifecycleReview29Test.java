package io.walship.scheduler;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ArchiveListing;
import io.walship.archive.BackupManifest;
import io.walship.archive.BackupPin;
import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.restorer.ArchiveVerifier;
import io.walship.restorer.Promotion;
import io.walship.restorer.Restore;
import io.walship.restorer.RestoreTarget;
import io.walship.shipper.BackupType;
import io.walship.shipper.BaseBackup;
import io.walship.shipper.LocalHistories;
import io.walship.shipper.WalShipper;
import io.walship.wal.ControlFile;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * review29: a normal deployment's archive through failovers (a caught-up follower promoted live), PITR restores
 * promoted onto new timelines, incremental chains, a pin, and prunes with several policies; verify after every
 * prune must pass (verifybase's unrestorable check must not fire on it). Every timeline here had a backup on its
 * path when it was created.
 */
class VerifyLifecycleReview29Test {
    @TempDir
    Path tmp;

    private static void writes(Store s, String tag, int n) {
        for (int i = 0; i < n; i++) {
            s.put(("k" + (i % 30)).getBytes(StandardCharsets.UTF_8), (tag + i).getBytes(StandardCharsets.UTF_8));
        }
    }

    private static BackupManifest backup(Store s, ObjectStore a, BackupType.Policy p) {
        try (Snapshot snap = s.snapshot()) {
            return BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), a, Codec.ZSTD, x -> { }, p);
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

    private static int livePromote(Path dir, ObjectStore a) {
        ControlFile c = ControlFile.read(dir);
        int tl = Promotion.claimNext(a, c.timeline(), c.checkpointLsn(), c.checkpointTimeMicros(), "live promotion (test)");
        LocalHistories.saveFrom(a, dir, tl);
        ControlFile.read(dir).promoted(tl).write(dir);
        return tl;
    }

    private static void pruneAndVerify(ObjectStore a, Retention.Policy p, String step) {
        Retention.apply(a, Retention.plan(a, p, Instant.now()), d -> { });
        ArchiveVerifier.Report r = ArchiveVerifier.verify(a, 2, false, m -> { });
        assertTrue(r.ok(), step + " (" + p + "): verify " + r.problems() + " notes " + r.notes() + "; timelines "
                + ArchiveListing.of(a).timelines() + " backups " + ArchiveListing.of(a).backups());
    }

    @Test
    void aLifecycleOfFailoversPitrIncrementalsAndPinsVerifiesCleanAfterEveryPrune() {
        BackupType.Policy incr = new BackupType.Policy(BackupType.INCREMENTAL, 3);
        Path l1 = tmp.resolve("l1");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            long pitr1;
            try (Store s = Store.open(l1)) {
                writes(s, "a", 60);
                backup(s, a, BackupType.FULL.policy());
                writes(s, "b", 60);
                ship(l1, a);
                pitr1 = s.lastLsn() - 7;
                backup(s, a, incr);
                writes(s, "c", 60);
                ship(l1, a);
                backup(s, a, incr);
                writes(s, "d", 60);
                ship(l1, a);
            }
            pruneAndVerify(a, new Retention.Policy(2, null), "timeline 1 only");
            // a PITR restore promoted: timeline 2, written, no backup of its own (the guard decides)
            Restore.Result r2 = Restore.run(a, tmp.resolve("p2"), Restore.Options.defaults().withTimeline(1)
                    .withTarget(RestoreTarget.lsn(pitr1, false)).withPromote(true), new Restore.Listener() { });
            try (Store s = Store.open(tmp.resolve("p2"))) {
                writes(s, "p2-", 40);
            }
            ship(tmp.resolve("p2"), a);
            pruneAndVerify(a, new Retention.Policy(1, null), "after the PITR promotion to timeline " + r2.promotedTimeline());
            pruneAndVerify(a, new Retention.Policy(null, 0), "keep-days 0");
            // the leader fails over to a caught-up follower: timeline 3 from timeline 1's end
            Path f3 = tmp.resolve("f3");
            followerOf(l1, f3);
            int t3 = Promotion.promote(f3, a).timeline(); // walship promote of the caught-up follower
            try (Store s = Store.open(f3)) {
                writes(s, "t3-", 60);
                ship(f3, a);
                pruneAndVerify(a, new Retention.Policy(1, null), "after the failover to timeline " + t3 + ", no backup on it yet");
                backup(s, a, incr);
                writes(s, "t3b-", 60);
                ship(f3, a);
                BackupManifest pinned = backup(s, a, incr);
                assertEquals(BackupPin.Outcome.PINNED, BackupPin.pin(a, new ArchiveLayout.BackupName(pinned.timeline(),
                        Long.parseUnsignedLong(pinned.lsn(), 16)), Instant.now()));
                writes(s, "t3c-", 60);
                ship(f3, a);
                backup(s, a, incr);
                writes(s, "t3d-", 60);
                ship(f3, a);
            }
            pruneAndVerify(a, new Retention.Policy(1, null), "timeline 3 with a pinned incremental");
            pruneAndVerify(a, new Retention.Policy(3, 1), "keep 3 or a day");
            // another failover, from timeline 3, then a PITR of timeline 3 onto timeline 5
            Path f4 = tmp.resolve("f4");
            followerOf(f3, f4);
            int t4 = livePromote(f4, a); // a live promotion: timeline t3 + 1
            try (Store s = Store.open(f4)) {
                writes(s, "t4-", 60);
                ship(f4, a);
                backup(s, a, BackupType.FULL.policy());
                writes(s, "t4b-", 60);
                ship(f4, a);
            }
            pruneAndVerify(a, new Retention.Policy(1, null), "after the failover to timeline " + t4);
            long end3 = ArchiveListing.of(a).lastArchivedLsn(3);
            Restore.Result r5 = Restore.run(a, tmp.resolve("p5"), Restore.Options.defaults().withTimeline(3)
                    .withTarget(RestoreTarget.lsn(end3 - 3, false)).withPromote(true), new Restore.Listener() { });
            try (Store s = Store.open(tmp.resolve("p5"))) {
                writes(s, "p5-", 40);
            }
            ship(tmp.resolve("p5"), a);
            pruneAndVerify(a, new Retention.Policy(1, null), "after the PITR promotion to timeline " + r5.promotedTimeline());
            pruneAndVerify(a, new Retention.Policy(null, 0), "keep-days 0 at the end");
            for (int t : List.of(1, 2, 3, 4, r5.promotedTimeline())) {
                int tl = t;
                assertDoesNotThrow(() -> Restore.run(a, tmp.resolve("drill" + tl), Restore.Options.defaults()
                        .withTimeline(tl), new Restore.Listener() { }), "restore --timeline " + tl);
            }
        }
    }
}
