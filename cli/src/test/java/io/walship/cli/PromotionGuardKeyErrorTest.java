package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import io.walship.archive.EncryptionKeys;
import io.walship.wal.ControlFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A key error in the retention check after an offline promotion's claim ({@code Promotion.backUpIfUnprotected}):
 * the archive's retention watermark is sealed with a key the promoting command was not given (a prune ran with a
 * newer key first). Everywhere else a missing or wrong key is exit 2 in one line; here it was exit 1, the key error
 * buried in "checking … failed". It must be exit 2, naming the key, and still say that the promotion stands (the
 * timeline is claimed and the directory takes writes on it), for {@code walship promote --data} and
 * {@code restore --promote} alike.
 */
class PromotionGuardKeyErrorTest {
    static final long SEED = Long.getLong("walship.seed", System.nanoTime());

    @TempDir
    Path tmp;
    String archive;
    String k1;
    String newKeyId;

    @BeforeAll
    static void printSeed() {
        System.out.println("PromotionGuardKeyErrorTest seed " + SEED);
    }

    private static CliRunner.Result ok(String... args) {
        CliRunner.Result r = CliRunner.run(args);
        assertEquals(0, r.exit(), String.join(" ", args) + ": " + r.err());
        return r;
    }

    private Path keyFile(String name, long salt) throws IOException {
        byte[] k = new byte[32];
        new Random(SEED ^ salt).nextBytes(k);
        return Files.write(tmp.resolve(name), k);
    }

    /** An archive sealed with k1 holding two backups, pruned to one with a newer key k2 (its watermark sealed with k2). */
    @BeforeEach
    void archivePrunedWithANewerKey() throws IOException {
        String data = tmp.resolve("leader").toString();
        archive = "file://" + tmp.resolve("archive");
        k1 = keyFile("k1", 1).toString();
        Path k2 = keyFile("k2", 2);
        newKeyId = EncryptionKeys.load(List.of(k2)).ids().get(0);
        for (int round = 0; round < 2; round++) {
            for (int i = 0; i < 30; i++) {
                ok("kv", "put", "--data", data, "k" + (i % 9), "round" + round + "-" + i);
            }
            ok("ship", "--data", data, "--archive", archive, "--once", "--segment-size", "4096", "--encryption-key-file", k1);
            ok("backup", "--data", data, "--archive", archive, "--encryption-key-file", k1);
        }
        ok("kv", "put", "--data", data, "last", "1");
        ok("ship", "--data", data, "--archive", archive, "--once", "--segment-size", "4096", "--encryption-key-file", k1);
    }

    private void prune() {
        CliRunner.Result p = ok("archive", "prune", "--archive", archive, "--keep-backups", "1",
                "--encryption-key-file", tmp.resolve("k2").toString(), "--encryption-key-file", k1);
        assertTrue(p.out().contains("delete"), p.out());
    }

    private void keyErrorAfterTheClaim(CliRunner.Result r, Path dir) {
        assertEquals(ExitCodes.USAGE, r.exit(), "a key error is exit 2: " + r.err());
        assertEquals(1, r.err().lines().filter(l -> l.startsWith("walship: error:")).count(), r.err());
        assertTrue(r.err().contains("timeline 2 is claimed") && r.err().contains(dir + " takes writes on it"),
                "the promotion stands: " + r.err());
        assertTrue(r.err().contains(newKeyId), "the key error is named: " + r.err());
        assertEquals(2, ControlFile.read(dir).timeline());
        assertTrue(!ControlFile.read(dir).standby());
    }

    @Test
    void promoteData() {
        Path standby = tmp.resolve("standby");
        ok("restore", "--archive", archive, "--target", standby.toString(), "--encryption-key-file", k1);
        prune();
        keyErrorAfterTheClaim(CliRunner.run("promote", "--data", standby.toString(), "--archive", archive,
                "--encryption-key-file", k1), standby);
    }

    @Test
    void restorePromote() {
        prune();
        Path target = tmp.resolve("promoted");
        keyErrorAfterTheClaim(CliRunner.run("restore", "--archive", archive, "--target", target.toString(), "--promote",
                "--encryption-key-file", k1), target);
    }
}
