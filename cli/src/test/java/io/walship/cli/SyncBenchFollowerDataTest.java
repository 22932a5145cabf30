package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import io.walship.shipper.repl.SyncOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code walship bench sync --follower-data DIR} puts the in-process followers' stores under DIR
 * (e.g. tmpfs, standing in for followers on other machines' disks) instead of beside the leader's.
 */
class SyncBenchFollowerDataTest {
    @TempDir
    Path tmp;

    @Test
    void theFollowersStoresGoUnderTheFollowerDirectory() throws Exception {
        Path leaderDir = tmp.resolve("leader-side");
        Path followerDir = tmp.resolve("follower-side");
        SyncBench.Result r = SyncBench.run(leaderDir, followerDir, "semi-sync", SyncBench.modes(1).get(1), 1, 2, 40,
                10, 16, 100);
        assertEquals(40, r.commits());
        assertEquals(0, r.degraded(), "every semi-sync commit was acknowledged by the follower");
        assertTrue(Files.isDirectory(leaderDir.resolve("leader")));
        assertFalse(Files.exists(leaderDir.resolve("follower0")), "no follower store beside the leader's");
        assertTrue(Files.isDirectory(followerDir.resolve("follower0")));
        try (Stream<Path> files = Files.walk(followerDir.resolve("follower0"))) {
            assertTrue(files.anyMatch(Files::isRegularFile), "the follower's store holds its files");
        }
    }

    @Test
    void withoutTheFlagTheFollowersSitBesideTheLeader() throws Exception {
        Path dir = tmp.resolve("both");
        SyncBench.run(dir, dir, "async", SyncOptions.async(), 1, 1, 20, 0, 16, 100);
        assertTrue(Files.isDirectory(dir.resolve("leader")));
        assertTrue(Files.isDirectory(dir.resolve("follower0")));
    }

    @Test
    void theCommandRunsWithTheFlagAndLeavesNoRunBehind() throws Exception {
        Path data = tmp.resolve("data");
        Path followers = tmp.resolve("shm");
        CliRunner.Result r = CliRunner.run("bench", "sync", "--data", data.toString(), "--follower-data",
                followers.toString(), "--threads", "2", "--count", "30", "--followers", "1", "--quorum", "1",
                "--runs", "1");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("followers' stores under " + followers), r.out());
        assertTrue(r.out().contains("semi-sync"), r.out());
        assertTrue(Files.isDirectory(followers), "created");
        assertFalse(Files.exists(followers.resolve("repl-run")), "the run's follower stores are deleted");
        assertFalse(Files.exists(data.resolve("repl-run")));

        CliRunner.Result plain = CliRunner.run("bench", "sync", "--data", data.toString(), "--threads", "1",
                "--count", "10", "--followers", "1", "--quorum", "1");
        assertEquals(0, plain.exit(), plain.err());
        assertTrue(plain.out().contains("followers' stores under " + data), plain.out());
    }
}
