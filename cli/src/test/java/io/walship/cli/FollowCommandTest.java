package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `walship follow` refuses bad input with one line and exit code 2, before it touches anything. */
class FollowCommandTest {
    @TempDir
    Path tmp;

    @Test
    void badFlagsAreUsageErrors() {
        CliRunner.Result noLeader = CliRunner.run("follow", "--data", tmp.resolve("f").toString());
        assertEquals(ExitCodes.USAGE, noLeader.exit());
        assertTrue(noLeader.err().contains("--leader"), noLeader.err());

        CliRunner.Result badLeader = CliRunner.run("follow", "--data", tmp.resolve("f").toString(), "--leader", "no-port");
        assertEquals(ExitCodes.USAGE, badLeader.exit(), badLeader.err());

        CliRunner.Result badWait = CliRunner.run("follow", "--data", tmp.resolve("f").toString(), "--leader",
                "127.0.0.1:1", "--read-wait", "soon");
        assertEquals(ExitCodes.USAGE, badWait.exit(), badWait.err());

        CliRunner.Result noSource = CliRunner.run("follow", "--data", tmp.resolve("f").toString(), "--leader",
                "127.0.0.1:1", "--http", "127.0.0.1:0");
        assertEquals(ExitCodes.USAGE, noSource.exit(), noSource.err());
        assertTrue(noSource.err().contains("--leader-url"), "says how to bootstrap: " + noSource.err());

        CliRunner.Result badLease = CliRunner.run("follow", "--data", tmp.resolve("f").toString(), "--leader",
                "127.0.0.1:1", "--lease-ttl", "2s", "--lease-skew-margin", "1s");
        assertEquals(ExitCodes.USAGE, badLease.exit(), badLease.err());
        assertTrue(badLease.err().contains("--lease-skew-margin") && badLease.err().contains("third"), badLease.err());

        // several archives, checked as walship leader's are, before anything is opened or created
        String a = "file://" + tmp.resolve("a");
        CliRunner.Result twice = CliRunner.run("follow", "--data", tmp.resolve("f").toString(), "--leader",
                "127.0.0.1:1", "--archive", a, "--optional-archive", a + "/");
        assertEquals(ExitCodes.USAGE, twice.exit(), twice.err());
        assertTrue(twice.err().contains("the same archive is given twice"), twice.err());
        CliRunner.Result onlyOptional = CliRunner.run("follow", "--data", tmp.resolve("f").toString(), "--leader",
                "127.0.0.1:1", "--optional-archive", a);
        assertEquals(ExitCodes.USAGE, onlyOptional.exit(), onlyOptional.err());
        assertTrue(onlyOptional.err().contains("--optional-archive needs at least one --archive"), onlyOptional.err());
        assertFalse(java.nio.file.Files.exists(tmp.resolve("f")), "a refused follower created its data directory");
        assertFalse(java.nio.file.Files.exists(tmp.resolve("a")), "a refused follower created its archive");
    }

    @Test
    void aLeadersDataDirectoryIsNotTakenForAFollower() {
        Path leader = tmp.resolve("leader");
        Store.open(leader).close();
        CliRunner.Result r = CliRunner.run("follow", "--data", leader.toString(), "--leader", "127.0.0.1:1",
                "--http", "127.0.0.1:0");
        assertEquals(ExitCodes.USAGE, r.exit(), r.err());
        assertTrue(r.err().contains("takes writes (a former leader); to rejoin it as a follower give --archive"), r.err());
        assertFalse(io.walship.wal.ControlFile.read(leader).standby(), "left as it was");
    }

    /**
     * Without --node-id a follower is named by its data directory, not by its --http address: the
     * leader counts acks once per node id, and an id that changed with the address across a restart
     * would count one disk twice for --sync-quorum until the old session timed out.
     */
    @Test
    void aFollowerWithoutANodeIdKeepsTheOneItsDataDirectoryWasGiven() throws Exception {
        Path a = java.nio.file.Files.createDirectories(tmp.resolve("a"));
        Path b = java.nio.file.Files.createDirectories(tmp.resolve("b"));
        String first = FollowCommand.persistentNodeId(a);
        assertTrue(first.startsWith("follower-"), first);
        assertEquals(first, FollowCommand.persistentNodeId(a), "the same directory, restarted: the same id");
        assertTrue(java.nio.file.Files.readString(a.resolve(FollowCommand.NODE_ID_FILE)).contains(first));
        assertTrue(!first.equals(FollowCommand.persistentNodeId(b)), "another directory, another follower");
    }
}
