package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.TestS3Server;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Incremental base backups (issue 14) end to end through the CLI, on a local archive and on S3 (S3Proxy;
 * MinIO when WALSHIP_TEST_S3_ENDPOINT names one): {@code backup --type incr/diff} uploads only changed
 * pages and chains to its parent; restore to each backup's LSN and to the end gives the leader's digests;
 * {@code archive list} shows the chains; prune keeps a kept backup's chain; a broken chain (parent missing,
 * parent replaced) is exit 3 with one line from restore and verify; a store restored to an earlier point and
 * promoted builds its incremental on a backup of its own history, never on the newer one of the old history.
 */
class IncrementalBackupCommandTest {
    @RegisterExtension
    static final TestS3Server.Shared s3 = TestS3Server.shared();

    @TempDir
    Path tmp;

    static Stream<String> archives() {
        return Stream.of("file", "s3");
    }

    private String newArchive(String kind) {
        return kind.equals("file") ? "file://" + tmp.resolve("archive")
                : s3.newArchiveUri("walship-cli-incr", "incr-" + UUID.randomUUID());
    }

    private static CliRunner.Result ok(String... args) {
        CliRunner.Result r = CliRunner.run(args);
        assertEquals(0, r.exit(), String.join(" ", args) + ": " + r.err());
        return r;
    }

    private static String lsnOf(String digestLine) {
        return digestLine.replaceAll(".*lsn=([0-9A-F]{16}).*", "$1");
    }

    /** Puts through the store itself (faster than a process per key); the CLI opens the store after it is closed. */
    private static void put(String data, int from, int count, int step, String value) {
        try (io.walship.wal.Store s = io.walship.wal.Store.open(Path.of(data))) {
            for (int i = 0; i < count; i++) {
                io.walship.wal.WriteBatch b = new io.walship.wal.WriteBatch();
                b.put(("key-" + (from + i * step) % 200).getBytes(java.nio.charset.StandardCharsets.UTF_8),
                        value.getBytes(java.nio.charset.StandardCharsets.UTF_8));
                s.write(b);
            }
        }
    }

    private void writes(String data, int round, int keys) {
        put(data, round, keys, 7, "round" + round + "-" + "v".repeat(200));
    }

    /** A full backup, then incremental and differential ones, each round's digest recorded. */
    private List<String> chainOfBackups(String data, String archive, List<String> backupOutputs) {
        List<String> digests = new ArrayList<>();
        // a store of some hundred pages, so that a few changed keys are a small share of them
        put(data, 0, 200, 1, "initial-" + "x".repeat(900));
        String[] types = {"full", "incr", "incr", "diff", "incr"};
        for (int round = 0; round < types.length; round++) {
            writes(data, round, 6);
            digests.add(ok("kv", "digest", "--data", data).out().trim());
            backupOutputs.add(ok("backup", "--data", data, "--archive", archive, "--type", types[round]).out().trim());
            ok("ship", "--data", data, "--archive", archive, "--once", "--segment-size", "4096");
        }
        return digests;
    }

    @ParameterizedTest
    @MethodSource("archives")
    void incrementalChainsRestoreToEveryBackupAndThroughPrune(String kind) throws Exception {
        String data = tmp.resolve("leader").toString();
        String archive = newArchive(kind);
        List<String> outs = new ArrayList<>();
        List<String> digests = chainOfBackups(data, archive, outs);
        assertTrue(outs.get(0).startsWith("base backup at LSN"), outs.get(0));
        for (int i = 1; i < outs.size(); i++) {
            assertTrue(outs.get(i).startsWith("incremental base backup at LSN"), outs.get(i));
        }
        String l0 = lsnOf(digests.get(0));
        String l2 = lsnOf(digests.get(2));
        assertTrue(outs.get(1).contains("on backups/00000001-" + l0 + "/"), outs.get(1));
        assertTrue(outs.get(3).contains("on backups/00000001-" + l0 + "/"), "diff on the full one: " + outs.get(3));
        // incr after a diff builds on the diff
        assertTrue(outs.get(4).contains("on backups/00000001-" + lsnOf(digests.get(3)) + "/"), outs.get(4));
        // an incremental of a few changed keys holds a small share of the pages
        String pages = outs.get(2).replaceAll(".*: (\\d+) of (\\d+) pages.*", "$1 $2");
        int changed = Integer.parseInt(pages.split(" ")[0]);
        int total = Integer.parseInt(pages.split(" ")[1]);
        assertTrue(changed * 3 < total, outs.get(2));

        for (int i = 0; i < digests.size(); i++) {
            String target = tmp.resolve("r" + i).toString();
            ok("restore", "--archive", archive, "--target", target, "--lsn", lsnOf(digests.get(i)));
            assertEquals(digests.get(i), ok("kv", "digest", "--data", target).out().trim(), "backup " + i);
        }
        String list = ok("archive", "list", "--archive", archive).out();
        assertTrue(list.contains("backups/00000001-" + l0 + "/  full"), list);
        assertTrue(list.contains("incr on backups/00000001-" + l0 + "/"), list);
        assertTrue(list.contains("(chain of 3 down to backups/00000001-" + l0 + "/)"), list);
        ok("archive", "verify", "--archive", archive);

        // keep 1: the newest (an incr on the diff on the full) and its chain stay; the other incrementals go
        String pruned = ok("archive", "prune", "--archive", archive, "--keep-backups", "1").out();
        assertTrue(pruned.contains("backups/00000001-" + l2 + "/"), pruned);
        String after = ok("archive", "list", "--archive", archive).out();
        assertTrue(after.contains("backups/00000001-" + l0 + "/  full"), after);
        assertFalse(after.contains("backups/00000001-" + l2 + "/"), after);
        ok("archive", "verify", "--archive", archive);
        String end = tmp.resolve("end").toString();
        ok("restore", "--archive", archive, "--target", end);
        assertEquals(digests.get(digests.size() - 1), ok("kv", "digest", "--data", end).out().trim());
    }

    /** One "walship: error:" line and no stack trace (log lines may stand beside it). */
    private static void assertOneErrorLine(CliRunner.Result r) {
        assertEquals(1, r.err().lines().filter(l -> l.startsWith("walship: error:")).count(), r.err());
        assertFalse(r.err().contains("\tat ") || r.err().contains("Exception"), r.err());
    }

    @Test
    void aBrokenChainIsExit3WithOneLine() throws Exception {
        String data = tmp.resolve("leader").toString();
        Path dir = tmp.resolve("archive");
        String archive = "file://" + dir;
        List<String> outs = new ArrayList<>();
        List<String> digests = chainOfBackups(data, archive, outs);
        String l1 = lsnOf(digests.get(1));
        String l2 = lsnOf(digests.get(2));
        Path parentManifest = dir.resolve("backups/00000001-" + l1 + "/manifest.json");
        byte[] saved = Files.readAllBytes(parentManifest);

        // the parent replaced: its full-image SHA-256 is not the one the child was built on
        String json = new String(saved, java.nio.charset.StandardCharsets.UTF_8);
        String sha = json.replaceAll("(?s).*\"fullImageSha256\" : \"([0-9a-f]{64})\".*", "$1");
        Files.writeString(parentManifest, json.replace("\"fullImageSha256\" : \"" + sha, "\"fullImageSha256\" : \""
                + "0".repeat(64)));
        CliRunner.Result r = CliRunner.run("restore", "--archive", archive, "--target", tmp.resolve("x").toString(),
                "--lsn", l2);
        assertEquals(ExitCodes.INTEGRITY, r.exit(), r.err());
        assertTrue(r.err().contains("not the image it was built on"), r.err());
        assertOneErrorLine(r);

        // the parent missing
        Files.delete(parentManifest);
        r = CliRunner.run("restore", "--archive", archive, "--target", tmp.resolve("y").toString(), "--lsn", l2);
        assertEquals(ExitCodes.INTEGRITY, r.exit(), r.err());
        assertTrue(r.err().contains("backups/00000001-" + l1 + "/manifest.json is missing: the chain is broken"), r.err());
        assertOneErrorLine(r);
        CliRunner.Result v = CliRunner.run("archive", "verify", "--archive", archive);
        assertEquals(ExitCodes.INTEGRITY, v.exit(), v.out() + v.err());
        assertTrue((v.out() + v.err()).contains("broken-chain"), v.out() + v.err());
        String list = ok("archive", "list", "--archive", archive).out();
        assertTrue(list.contains("MISSING: BROKEN CHAIN"), list);
        // a new incremental backup does not build on a broken chain: with the newest backup's parent (the diff)
        // gone too, it is a full one
        Files.delete(dir.resolve("backups/00000001-" + lsnOf(digests.get(3)) + "/manifest.json"));
        writes(data, 9, 3);
        String next = ok("backup", "--data", data, "--archive", archive, "--type", "incr").out();
        assertTrue(next.startsWith("base backup at LSN"), next);
        // older targets that need no broken link still restore (the full one)
        ok("restore", "--archive", archive, "--target", tmp.resolve("z").toString(), "--lsn", lsnOf(digests.get(0)));
    }

    @Test
    void aStoreRestoredToAnEarlierPointBuildsOnItsOwnHistory() throws Exception {
        String data = tmp.resolve("leader").toString();
        String archive = "file://" + tmp.resolve("archive");
        List<String> outs = new ArrayList<>();
        List<String> digests = chainOfBackups(data, archive, outs);
        // restore to just after the full backup, before every incremental one, and promote: timeline 2
        String l0 = lsnOf(digests.get(0));
        long early = Long.parseUnsignedLong(l0, 16) + 2;
        String copy = tmp.resolve("copy").toString();
        ok("restore", "--archive", archive, "--target", copy, "--lsn", ArchiveLayout.lsnHex(early));
        ok("promote", "--data", copy, "--archive", archive);
        // the new history overwrites the keys the old one changed later, at LSNs below the old incrementals'
        writes(copy, 1, 6);
        writes(copy, 3, 6);
        ok("ship", "--data", copy, "--archive", archive, "--once", "--segment-size", "4096");
        String out = ok("backup", "--data", copy, "--archive", archive, "--type", "incr").out();
        // its parent is the full backup (on its ancestry), not the newer incrementals of timeline 1
        assertTrue(out.startsWith("incremental base backup") && out.contains("on backups/00000001-" + l0 + "/"), out);
        String digest = ok("kv", "digest", "--data", copy).out().trim();
        String back = tmp.resolve("back").toString();
        ok("restore", "--archive", archive, "--target", back, "--timeline", "2");
        assertEquals(digest, ok("kv", "digest", "--data", back).out().trim());
        ok("archive", "verify", "--archive", archive);
        try (ObjectStore store = ObjectStores.open(archive)) {
            assertTrue(store.head(ArchiveLayout.historyKey(2)).isPresent());
        }
    }
}
