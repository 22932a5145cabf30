package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.stream.Stream;

import io.walship.archive.ArchiveUri;
import io.walship.archive.EncryptionKeys;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ObjectInfo;
import io.walship.archive.ObjectStore;
import io.walship.archive.S3ObjectStore;
import io.walship.archive.TestS3Server;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * An encrypted archive from the command line (docs/OPERATIONS.md "Encryption"), on a local archive
 * and on S3 (S3Proxy; MinIO in CI): ship, backup, list, verify, restore and prune with a key; rotation;
 * a keyless, wrong or malformed key is exit 2 in one line that never shows a key; a flipped byte
 * in a segment is exit 3 naming it, for verify and restore.
 */
class EncryptionCommandTest {
    static final long SEED = Long.getLong("walship.seed", System.nanoTime());
    @RegisterExtension
    static final TestS3Server.Shared s3 = TestS3Server.shared();

    @TempDir
    Path tmp;

    @BeforeAll
    static void printSeed() {
        System.out.println("EncryptionCommandTest seed " + SEED);
    }

    static Stream<String> stores() {
        return Stream.of("file", "s3");
    }

    private static CliRunner.Result ok(String... args) {
        CliRunner.Result r = CliRunner.run(args);
        assertEquals(0, r.exit(), String.join(" ", args) + ": " + r.err());
        return r;
    }

    private static void oneLine(CliRunner.Result r, int exit, String contains) {
        assertEquals(exit, r.exit(), r.err());
        assertTrue(r.err().startsWith("walship: error: ") && r.err().contains(contains), r.err());
        assertEquals(1, r.err().lines().filter(l -> l.startsWith("walship: error:")).count(), r.err());
    }

    private Path keyFile(String name, long salt) throws IOException {
        byte[] k = new byte[32];
        new Random(SEED ^ salt).nextBytes(k);
        return Files.write(tmp.resolve(name), k);
    }

    @ParameterizedTest
    @MethodSource("stores")
    void shipBackupVerifyRestorePruneWithAKeyAndEveryBadKey(String kind) throws Exception {
        String data = tmp.resolve("d").toString();
        String archive;
        ObjectStore raw;
        if (kind.equals("file")) {
            archive = "file://" + tmp.resolve("archive");
            raw = new LocalObjectStore(tmp.resolve("archive"));
        } else {
            String prefix = "e-" + UUID.randomUUID();
            archive = s3.newArchiveUri("walship-cli-enc", prefix);
            raw = new S3ObjectStore(s3.newArchive("walship-cli-enc", prefix));
        }
        Path k1 = keyFile("k1", 1);
        Path k2 = keyFile("k2", 2);
        String k1s = k1.toString();
        for (int round = 0; round < 2; round++) {
            for (int i = 0; i < 30; i++) {
                ok("kv", "put", "--data", data, "k" + (i % 9), "round" + round + "-" + i);
            }
            ok("ship", "--data", data, "--archive", archive, "--once", "--segment-size", "4096", "--encryption-key-file", k1s);
            ok("backup", "--data", data, "--archive", archive, "--encryption-key-file", k1s);
        }
        String digest = ok("kv", "digest", "--data", data).out().trim();
        // stored sealed: no object in the archive holds a value in the clear
        for (ObjectInfo i : raw.list("", null)) {
            try (InputStream in = raw.get(i.key())) {
                byte[] b = in.readAllBytes();
                if (i.key().equals("encryption.json")) {
                    assertEquals("{\"formatVersion\":1,\"mode\":\"aes-256-gcm\"}", new String(b));
                } else if (!i.key().startsWith("lease/")) {
                    assertEquals("WSEC", new String(b, 0, 4), i.key());
                }
            }
        }
        assertTrue(ok("archive", "list", "--archive", archive, "--encryption-key-file", k1s).out().contains("backups/"));
        ok("archive", "verify", "--archive", archive, "--encryption-key-file", k1s);
        ok("restore", "--archive", archive, "--target", tmp.resolve("r1").toString(), "--encryption-key-file", k1s);
        assertEquals(digest, ok("kv", "digest", "--data", tmp.resolve("r1").toString()).out().trim());

        String k1Id = EncryptionKeys.load(List.of(k1)).ids().get(0);
        String k1Hex = HexFormat.of().formatHex(Files.readAllBytes(k1));
        CliRunner.Result keyless = CliRunner.run("restore", "--archive", archive, "--target", tmp.resolve("r2").toString());
        oneLine(keyless, ExitCodes.USAGE, "--encryption-key-file");
        CliRunner.Result wrong = CliRunner.run("restore", "--archive", archive, "--target", tmp.resolve("r3").toString(),
                "--encryption-key-file", k2.toString());
        oneLine(wrong, ExitCodes.USAGE, k1Id);
        assertFalse(wrong.err().contains(k1Hex) || wrong.out().contains(k1Hex));
        oneLine(CliRunner.run("archive", "verify", "--archive", archive, "--encryption-key-file", k2.toString()),
                ExitCodes.USAGE, k1Id);
        oneLine(CliRunner.run("ship", "--data", data, "--archive", archive, "--once"), ExitCodes.USAGE, "is encrypted");
        // long-running commands stop at their start (exit 2) instead of warning at every run
        oneLine(CliRunner.run("leader", "--data", data, "--archive", archive, "--http", "127.0.0.1:0"), ExitCodes.USAGE,
                "is encrypted");
        oneLine(CliRunner.run("follow", "--data", tmp.resolve("f").toString(), "--leader", "127.0.0.1:1", "--archive", archive,
                "--failover", "auto"), ExitCodes.USAGE, "is encrypted");
        Path shortKey = Files.writeString(tmp.resolve("short.key"), "not-a-key");
        CliRunner.Result bad = CliRunner.run("archive", "list", "--archive", archive, "--encryption-key-file", shortKey.toString());
        oneLine(bad, ExitCodes.USAGE, shortKey.toString());
        assertFalse(bad.err().contains("not-a-key"));

        // rotation: k2 seals what is new, k1 still opens the old
        for (int i = 0; i < 10; i++) {
            ok("kv", "put", "--data", data, "rot" + i, "v" + i);
        }
        String[] both = {"--encryption-key-file", k2.toString(), "--encryption-key-file", k1s};
        ok(concat(new String[] {"ship", "--data", data, "--archive", archive, "--once", "--segment-size", "4096"}, both));
        ok(concat(new String[] {"backup", "--data", data, "--archive", archive}, both));
        String digest2 = ok("kv", "digest", "--data", data).out().trim();
        ok(concat(new String[] {"restore", "--archive", archive, "--target", tmp.resolve("r4").toString()}, both));
        assertEquals(digest2, ok("kv", "digest", "--data", tmp.resolve("r4").toString()).out().trim());
        ok(concat(new String[] {"archive", "prune", "--archive", archive, "--keep-backups", "1"}, both));
        ok(concat(new String[] {"archive", "verify", "--archive", archive}, both));

        // a flipped byte in a segment after the newest backup: verify and restore name it, exit 3
        for (int i = 0; i < 10; i++) {
            ok("kv", "put", "--data", data, "late" + i, "v" + i);
        }
        ok(concat(new String[] {"ship", "--data", data, "--archive", archive, "--once", "--segment-size", "4096"}, both));
        String seg = raw.list("wal/", null).get(raw.list("wal/", null).size() - 1).key();
        byte[] sealed;
        try (InputStream in = raw.get(seg)) {
            sealed = in.readAllBytes();
        }
        sealed[sealed.length / 2 + 30] ^= 0x40;
        raw.delete(seg);
        raw.create(seg, new ByteArrayInputStream(sealed));
        CliRunner.Result verify = CliRunner.run(concat(new String[] {"archive", "verify", "--archive", archive}, both));
        assertEquals(ExitCodes.INTEGRITY, verify.exit(), verify.out() + verify.err());
        assertTrue((verify.out() + verify.err()).contains(seg), verify.out() + verify.err());
        CliRunner.Result restore = CliRunner.run(concat(new String[] {"restore", "--archive", archive, "--target",
                tmp.resolve("r5").toString()}, both));
        assertEquals(ExitCodes.INTEGRITY, restore.exit(), restore.err());
        assertTrue(restore.err().contains(seg), restore.err());
        raw.close();
    }

    private static String[] concat(String[] a, String[] b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
