package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of branch encrypt: docs/OPERATIONS.md "Encryption" says `follow --archive` checks the
 * archive's mode when it starts and exits 2 at once. On a restart (the data directory already holds
 * a store) FollowCommand calls verifyAccess but catches every RuntimeException other than
 * ArchiveConfigException as "the archive cannot be reached now" and goes on: an
 * EncryptionKeyException (a StorageException) is swallowed as a WARN, so a keyless follower of an
 * encrypted archive keeps running until it first needs the archive.
 */
class FollowRestartKeyErrorTest {
    static final long SEED = Long.getLong("walship.seed", System.nanoTime());

    @TempDir
    Path tmp;

    private static void ok(String... args) {
        CliRunner.Result r = CliRunner.run(args);
        assertEquals(0, r.exit(), String.join(" ", args) + ": " + r.err());
    }

    @Test
    void aRestartedKeylessFollowerOfAnEncryptedArchiveExits2AtOnce() throws Exception {
        System.out.println("FollowRestartKeyErrorTest seed " + SEED);
        byte[] k = new byte[32];
        new Random(SEED).nextBytes(k);
        String key = Files.write(tmp.resolve("k1"), k).toString();
        String data = tmp.resolve("d").toString();
        String archive = "file://" + tmp.resolve("archive");
        for (int i = 0; i < 10; i++) {
            ok("kv", "put", "--data", data, "k" + i, "v" + i);
        }
        ok("ship", "--data", data, "--archive", archive, "--once", "--encryption-key-file", key);
        ok("backup", "--data", data, "--archive", archive, "--encryption-key-file", key);
        String node = tmp.resolve("node").toString(); // a node's store, as a restore leaves it
        ok("restore", "--archive", archive, "--target", node, "--encryption-key-file", key);
        // restart of a node whose data directory holds a store, without the key
        CompletableFuture<CliRunner.Result> follow = CompletableFuture.supplyAsync(() ->
                CliRunner.run("follow", "--data", node, "--leader", "127.0.0.1:1", "--archive", archive));
        CliRunner.Result r;
        try {
            r = follow.get(60, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            throw new AssertionError("a keyless follow --archive of an encrypted archive was still running after 60 s"
                    + " instead of exiting 2 at its start");
        }
        assertEquals(ExitCodes.USAGE, r.exit(), r.err());
        assertTrue(r.err().contains("is encrypted"), r.err());
    }
}
