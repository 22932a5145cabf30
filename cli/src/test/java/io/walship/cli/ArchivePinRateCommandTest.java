package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import io.walship.archive.TestS3Server;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code walship archive pin|unpin} and {@code --max-upload-rate} from the command line, on a local
 * archive and on S3 (S3Proxy; MinIO in CI): pins show in the listing and survive a prune until
 * unpinned; a missing backup is exit 1 and a malformed name exit 2; bad rates are exit 2 with one line
 * on every command that takes them; and a ship of N MiB at R MiB/s takes at least about N/R seconds.
 */
class ArchivePinRateCommandTest {
    @RegisterExtension
    static final TestS3Server.Shared s3 = TestS3Server.shared();

    @TempDir
    Path tmp;

    static Stream<String> stores() {
        return Stream.of("file", "s3");
    }

    private String archive(String kind) {
        return kind.equals("file") ? "file://" + tmp.resolve("archive")
                : s3.newArchiveUri("walship-cli-pins", "p-" + UUID.randomUUID());
    }

    private static CliRunner.Result ok(String... args) {
        CliRunner.Result r = CliRunner.run(args);
        assertEquals(0, r.exit(), String.join(" ", args) + ": " + r.err());
        return r;
    }

    private static void oneLine(CliRunner.Result r, int exit, String start) {
        assertEquals(exit, r.exit(), r.err());
        assertTrue(r.err().startsWith("walship: error: " + start), r.err());
        assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
    }

    @ParameterizedTest
    @MethodSource("stores")
    void pinListPruneUnpin(String kind) {
        String data = tmp.resolve("d").toString();
        String archive = archive(kind);
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < 20; i++) {
                ok("kv", "put", "--data", data, "k" + (i % 7), "r" + round + "-" + i);
            }
            ok("ship", "--data", data, "--archive", archive, "--once", "--segment-size", "4096");
            ok("backup", "--data", data, "--archive", archive);
        }
        String list = ok("archive", "list", "--archive", archive).out();
        Matcher m = Pattern.compile("backups/[0-9A-F]{8}-[0-9A-F]{16}/").matcher(list);
        List<String> names = m.results().map(java.util.regex.MatchResult::group).toList();
        assertEquals(3, names.size(), list);
        String oldest = names.get(0);

        assertEquals("pinned " + oldest, ok("archive", "pin", "--archive", archive, oldest).out().strip());
        assertTrue(ok("archive", "pin", "--archive", archive, oldest.substring("backups/".length()))
                .out().startsWith(oldest + " was pinned already (since "), "pinning twice");
        list = ok("archive", "list", "--archive", archive).out();
        assertTrue(list.lines().anyMatch(l -> l.contains(oldest) && l.endsWith("PINNED")), list);
        assertTrue(list.lines().filter(l -> l.endsWith("PINNED")).count() == 1, list);
        String json = ok("archive", "list", "--archive", archive, "--json").out();
        assertTrue(json.contains("\"pins\":[\"" + oldest + "\"]"), json);

        String prune = ok("archive", "prune", "--archive", archive, "--keep-backups", "1").out();
        assertTrue(prune.contains("keep    " + oldest + " (pinned; the policy would delete it)"), prune);
        assertFalse(prune.contains("deleted " + oldest), prune);
        assertTrue(prune.contains("deleted " + names.get(1) + "manifest.json"), prune);
        assertTrue(prune.lines().anyMatch(l -> l.startsWith("create  retention/00000001-")), "the watermark: " + prune);
        assertTrue(ok("archive", "list", "--archive", archive).out().contains(oldest));
        CliRunner.Result verify = ok("archive", "verify", "--archive", archive);
        assertTrue(verify.out().contains("note: base backup " + oldest + " restores to LSN "), verify.out());
        assertTrue(verify.out().contains("was pruned by retention (below its window start"), verify.out());

        assertEquals("unpinned " + oldest, ok("archive", "unpin", "--archive", archive, oldest).out().strip());
        assertEquals(oldest + " was not pinned", ok("archive", "unpin", "--archive", archive, oldest).out().strip());
        prune = ok("archive", "prune", "--archive", archive, "--keep-backups", "1").out();
        assertTrue(prune.contains("deleted " + oldest + "manifest.json"), prune);
        assertFalse(ok("archive", "list", "--archive", archive).out().contains(oldest));

        oneLine(CliRunner.run("archive", "pin", "--archive", archive, oldest), ExitCodes.FAILURE, "no base backup " + oldest);
        oneLine(CliRunner.run("archive", "unpin", "--archive", archive, oldest), ExitCodes.FAILURE,
                "no base backup " + oldest + " and no pin for it");
        oneLine(CliRunner.run("archive", "pin", "--archive", archive, "latest"), ExitCodes.USAGE, "bad BACKUP 'latest'");
        assertEquals(ExitCodes.USAGE, CliRunner.run("archive", "pin", "--archive", archive).exit(), "BACKUP is required");
    }

    @Test
    void badRatesAreUsageErrorsOnEveryCommand() throws Exception {
        String data = tmp.resolve("d").toString();
        ok("kv", "put", "--data", data, "k", "v");
        String archive = "file://" + tmp.resolve("a");
        for (String rate : new String[] {"50MB/s", "fast", "50MiB", "0B/s", "1.5B/s", "-3KiB/s"}) {
            oneLine(CliRunner.run("ship", "--data", data, "--archive", archive, "--once", "--max-upload-rate", rate),
                    ExitCodes.USAGE, "bad --max-upload-rate '" + rate + "'");
            oneLine(CliRunner.run("backup", "--data", data, "--archive", archive, "--max-upload-rate", rate),
                    ExitCodes.USAGE, "bad --max-upload-rate '" + rate + "'");
            oneLine(CliRunner.run("leader", "--data", data, "--archive", archive, "--http", "127.0.0.1:0",
                    "--max-upload-rate", rate), ExitCodes.USAGE, "bad --max-upload-rate '" + rate + "'");
        }
        oneLine(CliRunner.run("leader", "--data", data, "--http", "127.0.0.1:0", "--max-upload-rate", "1MiB/s"),
                ExitCodes.USAGE, "--max-upload-rate limits the uploads to --archive");
        assertFalse(Files.exists(tmp.resolve("a").resolve("wal")), "nothing was shipped");
        ok("backup", "--data", data, "--archive", archive, "--max-upload-rate", "1GiB/s");

        Path cfg = tmp.resolve("s.yaml");
        Files.writeString(cfg, "maxUploadRate: 50 MB/s\ndatabases:\n  - name: db\n    data: " + data
                + "\n    archive: " + archive + "\n");
        oneLine(CliRunner.run("scheduler", "--config", cfg.toString(), "--check"), ExitCodes.USAGE,
                "config " + cfg + ": maxUploadRate '50 MB/s': not a rate");
    }

    /** Bounded: about 6 MB of WAL objects at 2 MiB/s, so at least ~2 s (a lower bound only; one second of burst allowed). */
    @ParameterizedTest
    @MethodSource("stores")
    void aShipAtTheLimitTakesAtLeastItsSizeOverTheRate(String kind) {
        Path data = tmp.resolve("big");
        long seed = new Random().nextLong();
        System.out.println("ArchivePinRateCommandTest seed " + seed);
        Random rnd = new Random(seed);
        try (Store s = Store.open(data)) {
            for (int i = 0; i < 2000; i++) {
                byte[] v = new byte[1000];
                rnd.nextBytes(v);
                s.put(("k" + i).getBytes(java.nio.charset.StandardCharsets.UTF_8), v);
            }
        }
        String archive = archive(kind);
        long rate = 2 << 20;
        long t0 = System.nanoTime();
        CliRunner.Result r = ok("ship", "--data", data.toString(), "--archive", archive, "--once", "--codec", "none",
                "--max-upload-rate", "2MiB/s");
        double seconds = (System.nanoTime() - t0) / 1e9;
        Matcher m = Pattern.compile("-> (\\d+) archived bytes").matcher(r.out());
        assertTrue(m.find(), r.out());
        long bytes = Long.parseLong(m.group(1));
        assertTrue(bytes > 5_000_000, r.out());
        double atLeast = (double) bytes / rate - 1.0 - (64 << 10) / (double) rate;
        System.out.printf("shipped %d bytes at 2MiB/s to %s in %.2f s (lower bound %.2f s)%n", bytes, kind, seconds, atLeast);
        assertTrue(seconds >= atLeast, "took " + seconds + " s, at 2MiB/s it cannot be under " + atLeast + " s");
    }
}
