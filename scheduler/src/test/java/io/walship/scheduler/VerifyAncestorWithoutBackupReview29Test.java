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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * review29 (verifybase): {@code archive verify} calls a timeline "unrestorable" (exit 3) when it has WAL of its own
 * and no base backup on its path. Archives a normal deployment produces have such a timeline with nothing wrong
 * and nothing an operator can do about it: timeline 1 of a deployment whose leader failed over before the first
 * scheduled base backup (every backup since is on timeline 2, whose history holds all of timeline 1's), and
 * timeline 1 in a second archive added after a failover (its shipper ships the WAL the data directory still holds,
 * the entries before the fork going to timeline 1). Both archives restore every state they ever could (the default
 * restore reaches timeline 2's end); retention keeps timeline 1's WAL forever ("no kept backup: its WAL is all
 * there is"), so verify exits 3 on every run, and its advice, "take one from a store on timeline 1", names a store
 * that no longer exists. On main verify passes both archives.
 */
class VerifyAncestorWithoutBackupReview29Test {
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

    /** A follower that replicated the (stopped) leader to its end: its data directory, as a standby. */
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

    /** What a live follower's promotion does to the archive and its directory (LiveFollower.promote). */
    private static int livePromote(Path dir, ObjectStore a) {
        ControlFile c = ControlFile.read(dir);
        int tl = Promotion.claimNext(a, c.timeline(), c.checkpointLsn(), c.checkpointTimeMicros(), "live promotion (test)");
        LocalHistories.saveFrom(a, dir, tl);
        ControlFile.read(dir).promoted(tl).write(dir);
        return tl;
    }

    private static void assertVerifyOk(ObjectStore a, String why) {
        ArchiveVerifier.Report r = ArchiveVerifier.verify(a, 2, false, m -> { });
        assertTrue(r.ok(), why + ": verify exits 3 on " + r.problems() + " (notes " + r.notes() + ")");
    }

    /**
     * Leader on timeline 1 ships its WAL from the start; it dies before the first scheduled base backup; its
     * follower is promoted at the leader's end (the usual failover), takes writes, and the backup job then runs on
     * timeline 2, as does the retention job. Nothing is lost and the default restore reaches timeline 2's end.
     */
    @Test
    void aFailoverBeforeTheFirstBackupIsNoProblemOnceTimelineTwoHasOne() {
        Path leader = tmp.resolve("leader");
        Path follower = tmp.resolve("follower");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            try (Store s = Store.open(leader)) {
                writes(s, "a", 80);
                ship(leader, a);
                writes(s, "b", 80);
                ship(leader, a);
            }
            followerOf(leader, follower);
            assertEquals(2, livePromote(follower, a));
            StateDigest end;
            try (Store s = Store.open(follower)) {
                writes(s, "t2-", 40);
                ship(follower, a);
                backup(s, a); // the scheduler's backup job, now on timeline 2
                writes(s, "t2b-", 40);
                ship(follower, a);
                end = s.digest();
            }
            Retention.apply(a, Retention.plan(a, new Retention.Policy(1, 7), Instant.now()), d -> { });

            Restore.Result r = assertDoesNotThrow(() -> Restore.run(a, tmp.resolve("drill"), Restore.Options.defaults(),
                    new Restore.Listener() { }), "setup: the archive restores its newest state");
            assertEquals(2, r.timeline());
            try (Store s = Store.open(tmp.resolve("drill"))) {
                assertEquals(end, s.digest(), "setup: the restore reaches timeline 2's end");
            }
            assertEquals(ArchiveListing.of(a).lastArchivedLsn(1),
                    io.walship.archive.TimelineHistory.readOne(a, 2).forkLsnValue(),
                    "setup: timeline 1 ends at the fork; it holds nothing timeline 2's history does not");
            assertVerifyOk(a, "a healthy archive after a failover before the first backup");
        }
    }

    /**
     * The scheduler's verify job on the same archive as {@link #aFailoverBeforeTheFirstBackupIsNoProblemOnceTimelineTwoHasOne}:
     * it fails on verify's problem before its restore drill (ArchiveJobs.verify), so from then on the job fails on
     * every run and the drill, the stronger check, never runs again.
     */
    @Test
    void theSchedulersVerifyJobFailsForeverAndSkipsItsDrillAfterAFailoverBeforeTheFirstBackup() throws Exception {
        Path leader = tmp.resolve("leader");
        Path follower = tmp.resolve("follower");
        String uri = "file://" + tmp.resolve("archive");
        try (ObjectStore a = ObjectStores.open(uri)) {
            try (Store s = Store.open(leader)) {
                writes(s, "a", 80);
                ship(leader, a);
            }
            followerOf(leader, follower);
            assertEquals(2, livePromote(follower, a));
            try (Store s = Store.open(follower)) {
                writes(s, "t2-", 40);
                ship(follower, a);
                backup(s, a);
                writes(s, "t2b-", 40);
                ship(follower, a);
            }
        }
        SchedulerConfig c = SchedulerConfig.parse("databases:\n  - name: db\n    data: " + follower + "\n    archive: " + uri
                + "\n    jobs:\n      verify: {cron: \"0 0 4 * * ?\"}\n", "t");
        try (ArchiveJobs jobs = new ArchiveJobs(c.databases().get(0))) {
            assertDoesNotThrow(() -> jobs.verify(tmp.resolve("scratch")), "the scheduler's verify job and its drill");
        }
    }

    /**
     * docs/OPERATIONS.md "Several archives": archive B is added after a failover (a new required archive holds the
     * WAL from the start), and its first base backup is taken as the docs say (walship backup --archive B) on the
     * timeline the store is on. B restores timeline 2 to its end.
     */
    @Test
    void aSecondArchiveAddedAfterAFailoverIsNoProblem() {
        Path leader = tmp.resolve("leader");
        Path follower = tmp.resolve("follower");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archiveA"));
             ObjectStore b = ObjectStores.open("file://" + tmp.resolve("archiveB"))) {
            try (Store s = Store.open(leader)) {
                writes(s, "a", 40);
                backup(s, a);
                writes(s, "b", 80);
                ship(leader, a);
            }
            followerOf(leader, follower);
            assertEquals(2, livePromote(follower, a));
            StateDigest end;
            try (Store s = Store.open(follower)) {
                writes(s, "t2-", 40);
                ship(follower, a);
                ship(follower, b); // B is added: its shipper ships what the data directory holds
                backup(s, b);      // and its first base backup, by hand as the docs say
                writes(s, "t2b-", 40);
                ship(follower, a);
                ship(follower, b);
                end = s.digest();
            }
            assertVerifyOk(a, "setup: archive A");
            assertTrue(ArchiveListing.of(b).lastArchivedLsn(1) > 0,
                    "setup: B got the entries before the fork under timeline 1 " + ArchiveListing.of(b).timelines());
            Restore.Result r = assertDoesNotThrow(() -> Restore.run(b, tmp.resolve("drill"), Restore.Options.defaults(),
                    new Restore.Listener() { }), "setup: B restores its newest state");
            assertEquals(2, r.timeline());
            try (Store s = Store.open(tmp.resolve("drill"))) {
                assertEquals(end, s.digest());
            }
            assertVerifyOk(b, "archive B, which restores timeline 2 to its end");
        }
    }
}
