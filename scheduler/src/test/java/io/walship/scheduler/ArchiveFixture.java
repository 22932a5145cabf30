package io.walship.scheduler;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.stream.Stream;

import io.walship.archive.BackupManifest;
import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
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

/**
 * The fixture the archive tests here share (PromotionRetentionGuardTest, ArchiveVerifyTimelinesTest,
 * VerifyOracleReview30Test): writes to a store, base backups, one shipper pass, a follower's copy of a stopped
 * leader, a live follower's promotion, a standby below a pruned window. Each used to be copied into every test class.
 */
final class ArchiveFixture {
    private ArchiveFixture() {
    }

    /** {@code n} puts over 20 keys ({@code k0..k19}), values {@code tag + i}. */
    static void writes(Store s, String tag, int n) {
        writes(s, tag, n, 20);
    }

    /** {@code n} puts over {@code keys} keys ({@code k0..}), values {@code tag + i}. */
    static void writes(Store s, String tag, int n, int keys) {
        for (int i = 0; i < n; i++) {
            s.put(("k" + (i % keys)).getBytes(StandardCharsets.UTF_8), (tag + i).getBytes(StandardCharsets.UTF_8));
        }
    }

    /** Opens the store in {@code dir}, makes {@link #writes(Store, String, int)} there and returns its digest. */
    static StateDigest writtenDigest(java.nio.file.Path dir, String tag, int n) {
        try (Store s = Store.open(dir)) {
            writes(s, tag, n);
            return s.digest();
        }
    }

    /** A full base backup of {@code s} into {@code a}; returns its LSN. */
    static long backup(Store s, ObjectStore a) {
        try (Snapshot snap = s.snapshot()) {
            BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), a, Codec.ZSTD, x -> { });
            return snap.lsn();
        }
    }

    /** A base backup of {@code s} into {@code a} of the type {@code p} chooses. */
    static BackupManifest backup(Store s, ObjectStore a, BackupType.Policy p) {
        try (Snapshot snap = s.snapshot()) {
            return BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), a, Codec.ZSTD, x -> { }, p);
        }
    }

    /** One shipper pass of {@code data} into {@code a}. */
    static void ship(Path data, ObjectStore a) {
        try (WalShipper w = new WalShipper(data, a, new WalShipper.Options(Codec.ZSTD, 4096))) {
            w.shipOnce();
        }
    }

    /** A follower that replicated the (stopped) leader to its end: its data directory, as a standby. */
    static void followerOf(Path leader, Path follower) {
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

    /** What a live follower's promotion does to the archive and its directory (LiveFollower.promote). */
    static int livePromote(Path dir, ObjectStore a) {
        ControlFile c = ControlFile.read(dir);
        int tl = Promotion.claimNext(a, c.timeline(), c.checkpointLsn(), c.checkpointTimeMicros(), "live promotion (test)");
        LocalHistories.saveFrom(a, dir, tl);
        ControlFile.read(dir).promoted(tl).write(dir);
        return tl;
    }

    /**
     * Two backups on timeline 1 in each archive and WAL past both shipped to each (each step goes to the archives in
     * the order given); returns the older backup's LSN.
     */
    static long twoBackups(Path data, ObjectStore... archives) {
        long b1;
        try (Store s = Store.open(data)) {
            writes(s, "a", 50);
            b1 = backup(s, archives[0]);
            for (int i = 1; i < archives.length; i++) {
                backup(s, archives[i]);
            }
            writes(s, "b", 50);
            for (ObjectStore a : archives) {
                ship(data, a);
            }
            for (ObjectStore a : archives) {
                backup(s, a);
            }
            writes(s, "c", 50);
            for (ObjectStore a : archives) {
                ship(data, a);
            }
        }
        return b1;
    }

    /**
     * Two backups on timeline 1 of {@code leader}, a standby restored between them (5 LSNs past the older one) into
     * {@code standby}, then a prune keeping one backup: the standby's base and the WAL after it are gone from the
     * archive.
     */
    static void standbyBelowThePrunedWindow(Path leader, ObjectStore a, Path standby) {
        long b1 = twoBackups(leader, a);
        Restore.run(a, standby, Restore.Options.defaults().withTarget(RestoreTarget.lsn(b1 + 5, false)),
                new Restore.Listener() { });
        Retention.apply(a, Retention.plan(a, new Retention.Policy(1, null), Instant.now()), d -> { });
    }
}
