package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

import io.walship.wal.Store;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code walship restore}, {@code promote} and {@code archive verify} end to end on real files:
 * targets, digests, the standby/promote cycle with timelines, refusal of non-empty and
 * incomplete directories, and every kind of archive damage giving exit code 3 naming the object.
 */
class RestoreCommandTest {
    @TempDir
    Path tmp;
    String data;
    Path archiveDir;
    String archive;
    /** {@code kv digest} output after the writes of round i: LSN and digest. */
    final List<String> digests = new ArrayList<>();

    @BeforeEach
    void leaderWithBackupAndShippedWal() {
        data = tmp.resolve("leader").toString();
        archiveDir = tmp.resolve("archive");
        archive = "file://" + archiveDir;
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < 25; i++) {
                ok("kv", "put", "--data", data, "key-" + (i % 13), "round" + round + "-" + i + "-" + "v".repeat(150));
            }
            ok("kv", "del", "--data", data, "key-" + round);
            digests.add(ok("kv", "digest", "--data", data).out().trim());
            if (round == 0) {
                ok("backup", "--data", data, "--archive", archive);
            }
            ok("ship", "--data", data, "--archive", archive, "--once", "--segment-size", "4096");
        }
    }

    private static CliRunner.Result ok(String... args) {
        CliRunner.Result r = CliRunner.run(args);
        assertEquals(0, r.exit(), String.join(" ", args) + ": " + r.err());
        return r;
    }

    private static String lsnOf(String digestLine) {
        return digestLine.replaceAll(".*lsn=([0-9A-F]{16}).*", "$1");
    }

    @Test
    void restoresToAnLsnWithTheLeadersDigestThenPromotesOntoANewTimeline() {
        String target = tmp.resolve("r1").toString();
        String lsn = lsnOf(digests.get(1));
        CliRunner.Result r = ok("restore", "--archive", archive, "--target", target, "--lsn", lsn, "--json");
        assertTrue(r.out().contains("\"lsn\":\"" + lsn + "\""), r.out());
        assertEquals(digests.get(1), ok("kv", "digest", "--data", target).out().trim());

        CliRunner.Result refused = CliRunner.run("kv", "put", "--data", target, "x", "y");
        assertEquals(ExitCodes.UNAVAILABLE, refused.exit(), "README: a write a standby refuses is exit 6, as over HTTP (503)");
        assertTrue(refused.err().contains("is a standby restored from the archive"), refused.err());

        ok("promote", "--data", target, "--archive", archive);
        ok("kv", "put", "--data", target, "after-promotion", "1");
        ok("ship", "--data", target, "--archive", archive, "--once");
        assertTrue(Files.exists(archiveDir.resolve("timelines/00000002.history")));
        String tl2 = ok("kv", "digest", "--data", target).out().trim();

        // latest follows timeline 2; timeline 1 still restores to the old leader's end
        String latest = tmp.resolve("latest").toString();
        CliRunner.Result lr = ok("restore", "--archive", archive, "--target", latest);
        assertTrue(lr.out().contains("followed timeline 2"), lr.out());
        assertTrue(lr.out().contains("note: timeline 1 goes on to LSN "), "the parent's longer history is named: " + lr.out());
        assertEquals(tl2, ok("kv", "digest", "--data", latest).out().trim());
        String old = tmp.resolve("old").toString();
        ok("restore", "--archive", archive, "--target", old, "--timeline", "1");
        assertEquals(digests.get(2), ok("kv", "digest", "--data", old).out().trim());
        CliRunner.Result list = ok("archive", "list", "--archive", archive);
        assertTrue(list.out().contains("timeline 2"), list.out());
        assertEquals(0, CliRunner.run("archive", "verify", "--archive", archive).exit());
    }

    /**
     * review23 through the CLI: a point-in-time promotion before the newest backup, after a prune that kept only
     * the newest one (so the backup and WAL the fork grew from are gone or going): the restore takes a base backup
     * on the new timeline and says so, and the archive restores the new timeline from it.
     */
    @Test
    void aPromotionBelowThePrunedWindowTakesItsOwnBaseBackup() {
        String lsn = lsnOf(digests.get(1));
        ok("backup", "--data", data, "--archive", archive); // a second, newer backup: a prune keeping 1 deletes the first
        String promoted = tmp.resolve("pitr").toString();
        // the standby is restored first, then the prune runs, then it is promoted (the order review23 found)
        ok("restore", "--archive", archive, "--target", promoted, "--lsn", lsn);
        CliRunner.Result prune = ok("archive", "prune", "--archive", archive, "--keep-backups", "1");
        assertTrue(prune.out().contains("delete"), prune.out());
        String again = tmp.resolve("pitr2").toString();
        CliRunner.Result blocked = CliRunner.run("restore", "--archive", archive, "--target", again, "--lsn", lsn,
                "--promote");
        assertEquals(ExitCodes.INTEGRITY, blocked.exit(), "the pruned point is gone for a new restore: " + blocked.err());
        CliRunner.Result p = ok("promote", "--data", promoted, "--archive", archive);
        assertTrue(p.out().contains("promoted"), p.out());
        assertTrue(p.out().contains("took base backup backups/00000002-"), "the promotion backs itself up: " + p.out());
        assertTrue(p.out().contains("on timeline 2: the archive may not restore it otherwise (its retention keeps"
                + " timeline 1's WAL only from LSN "), "and says why: " + p.out());
        ok("kv", "put", "--data", promoted, "after", "1");
        ok("ship", "--data", promoted, "--archive", archive, "--once");
        String tl2 = ok("kv", "digest", "--data", promoted).out().trim();
        String latest = tmp.resolve("latest2").toString();
        CliRunner.Result lr = ok("restore", "--archive", archive, "--target", latest);
        assertTrue(lr.out().contains("followed timeline 2"), lr.out());
        assertEquals(tl2, ok("kv", "digest", "--data", latest).out().trim());
        assertEquals(0, CliRunner.run("archive", "verify", "--archive", archive).exit());
    }

    /**
     * An adversarial review through the CLI: timeline 2 forked between two backups of timeline 1 and written; then
     * what a prune that did not know timeline 2 deletes (the older backup, timeline 1's WAL below the newer one, after
     * its watermark). {@code restore --timeline 2} fails, and {@code archive verify} (plain, --quick, --json) says so:
     * exit 3 naming timeline 2's history. It said "archive OK" before.
     */
    @Test
    void verifyReportsATimelineWhoseForkLostItsBaseBackup() {
        ok("backup", "--data", data, "--archive", archive); // b2, past the fork below
        String promoted = tmp.resolve("tl2").toString();
        ok("restore", "--archive", archive, "--target", promoted, "--lsn", lsnOf(digests.get(1)), "--promote");
        ok("kv", "put", "--data", promoted, "on-timeline-2", "1");
        ok("ship", "--data", promoted, "--archive", archive, "--once");
        assertEquals(0, CliRunner.run("archive", "verify", "--archive", archive).exit());
        try (io.walship.archive.ObjectStore a = io.walship.archive.ObjectStores.open(archive)) {
            io.walship.archive.ArchiveListing l = io.walship.archive.ArchiveListing.of(a);
            List<io.walship.archive.ArchiveLayout.BackupName> b = l.backups().stream().map(x -> x.name())
                    .sorted(Comparator.comparingLong(n -> n.lsn())).toList();
            assertEquals(2, b.size(), "setup: " + b);
            io.walship.archive.RetentionWatermark.create(a,
                    new io.walship.archive.ArchiveLayout.WatermarkName(1, b.get(1).lsn() + 1));
            a.delete(b.get(0).manifestKey());
            a.list(b.get(0).dir(), null).forEach(o -> a.delete(o.key()));
            l.segments(1).stream().filter(x -> x.name().lastLsn() <= b.get(1).lsn()).forEach(x -> a.delete(x.name().key()));
        }
        CliRunner.Result r = CliRunner.run("restore", "--archive", archive, "--target", tmp.resolve("r2").toString(),
                "--timeline", "2");
        assertEquals(ExitCodes.INTEGRITY, r.exit(), "premise: timeline 2 cannot be restored: " + r.err());
        for (String quick : new String[] {"--parallel=4", "--quick"}) {
            CliRunner.Result v = CliRunner.run("archive", "verify", "--archive", archive, quick);
            assertEquals(ExitCodes.INTEGRITY, v.exit(), v.out() + v.err());
            assertTrue(v.out().contains("PROBLEM unrestorable: timelines/00000002.history: timeline 2 (forked from"
                    + " timeline 1 after LSN " + lsnOf(digests.get(1)) + ") cannot be restored"), v.out());
        }
        CliRunner.Result j = CliRunner.run("archive", "verify", "--archive", archive, "--json");
        assertEquals(ExitCodes.INTEGRITY, j.exit(), j.out() + j.err());
        assertTrue(j.out().contains("\"kind\":\"unrestorable\"") && j.out().contains("\"ok\":false"), j.out());
    }

    /** Issue 9, 8b through the CLI: a promoted copy that never wrote; the leader goes on; a plain restore reaches its end. */
    @Test
    void aPlainRestorePassesOverAnUnwrittenPromotedCopyAndSaysSoInJson() {
        ok("restore", "--archive", archive, "--target", tmp.resolve("inspection").toString(), "--promote");
        ok("kv", "put", "--data", data, "after-the-inspection-copy", "1");
        ok("ship", "--data", data, "--archive", archive, "--once");
        String leader = ok("kv", "digest", "--data", data).out().trim();
        String plain = tmp.resolve("plain").toString();
        CliRunner.Result r = ok("restore", "--archive", archive, "--target", plain, "--json");
        assertTrue(r.out().contains("\"lsn\":\"" + lsnOf(leader) + "\""), r.out());
        assertTrue(r.out().contains("\"followedTimeline\":1"), r.out());
        assertTrue(r.out().contains("\"otherTimelines\":[{\"timeline\":2,\"parent\":1,\"forkLsn\":\""
                + lsnOf(digests.get(2)) + "\",\"endLsn\":\"" + lsnOf(digests.get(2)) + "\""), r.out());
        assertTrue(r.out().contains("has no WAL past its fork"), r.out());
        assertEquals(leader, ok("kv", "digest", "--data", plain).out().trim());
    }

    @Test
    void restoreWithoutTargetTakesEverythingAndPromoteClaimsATimeline() {
        String target = tmp.resolve("all").toString();
        CliRunner.Result r = ok("restore", "--archive", archive, "--target", target, "--promote");
        assertTrue(r.out().contains("promoted: it takes writes on timeline 2"), r.out());
        assertEquals(digests.get(2).replaceAll("  .*", ""), ok("kv", "digest", "--data", target).out().trim()
                .replaceAll("  .*", ""));
        ok("kv", "put", "--data", target, "k", "v");
    }

    @Test
    void refusesNonEmptyDirectoriesUnlessForcedAndFinishesInterruptedRestores() throws IOException {
        Path target = tmp.resolve("busy");
        Files.createDirectories(target);
        Files.writeString(target.resolve("precious.txt"), "keep me");
        CliRunner.Result refused = CliRunner.run("restore", "--archive", archive, "--target", target.toString());
        assertEquals(ExitCodes.USAGE, refused.exit(), refused.err());
        assertTrue(refused.err().contains("is not empty"), refused.err());
        assertTrue(Files.exists(target.resolve("precious.txt")));
        ok("restore", "--archive", archive, "--target", target.toString(), "--force");
        assertFalse(Files.exists(target.resolve("precious.txt")));

        // an interrupted restore leaves the marker: the directory never opens, and a rerun starts over
        Files.writeString(target.resolve(Store.RESTORE_MARKER), "");
        CliRunner.Result blocked = CliRunner.run("kv", "get", "--data", target.toString(), "key-5");
        assertEquals(ExitCodes.FAILURE, blocked.exit());
        assertTrue(blocked.err().contains("holds an incomplete restore"), blocked.err());
        ok("restore", "--archive", archive, "--target", target.toString());
        assertEquals(digests.get(2), ok("kv", "digest", "--data", target.toString()).out().trim());
    }

    @Test
    void badTargetsAreUsageErrorsAndUnreachableOnesIntegrityErrors() {
        String t = tmp.resolve("t").toString();
        assertEquals(ExitCodes.USAGE, CliRunner.run("restore", "--archive", archive, "--target", t, "--time", "yesterday").exit());
        assertEquals(ExitCodes.USAGE, CliRunner.run("restore", "--archive", archive, "--target", t, "--lsn", "5", "--time",
                "2026-01-01T00:00:00Z").exit());
        assertEquals(ExitCodes.USAGE, CliRunner.run("restore", "--archive", archive, "--target", t, "--timeline", "x").exit());
        CliRunner.Result early = CliRunner.run("restore", "--archive", archive, "--target", t, "--time", "2001-01-01T00:00:00Z");
        assertEquals(ExitCodes.INTEGRITY, early.exit(), early.err());
        assertTrue(early.err().contains("older than every base backup"), early.err());
        CliRunner.Result future = CliRunner.run("restore", "--archive", archive, "--target", t, "--lsn", "0xFFFFFF");
        assertEquals(ExitCodes.INTEGRITY, future.exit(), future.err());
        assertTrue(future.err().contains("the archive ends at LSN"), future.err());
        CliRunner.Result noTl = CliRunner.run("restore", "--archive", archive, "--target", t, "--timeline", "7");
        assertEquals(ExitCodes.INTEGRITY, noTl.exit(), noTl.err());
    }

    /**
     * A page cache below the store's minimum (256 KiB) is a usage error naming it, checked as the
     * leader checks its own (one place); nothing is created. The minimum itself restores.
     */
    @Test
    void aCacheSizeBelowTheMinimumIsAUsageErrorNamingIt() {
        Path t = tmp.resolve("small-cache");
        for (String size : new String[] {"1KiB", "0", "262143"}) {
            CliRunner.Result r = CliRunner.run("restore", "--archive", archive, "--target", t.toString(), "--cache-size", size);
            assertEquals(ExitCodes.USAGE, r.exit(), size + ": " + r.out() + r.err());
            assertEquals(List.of("walship: error: bad --cache-size '" + size + "': cache size '" + size
                    + "' is below the minimum of 256 KiB (64 pages of 4 KiB)"), r.err().lines().toList());
            assertFalse(Files.exists(t), "the target was created");
            CliRunner.Result leader = CliRunner.run("leader", "--data", tmp.resolve("l").toString(), "--http",
                    "127.0.0.1:0", "--cache-size", size);
            assertEquals(ExitCodes.USAGE, leader.exit(), leader.err());
            assertEquals(r.err(), leader.err(), "the leader checks --cache-size as restore does");
            assertFalse(Files.exists(tmp.resolve("l")));
        }
        ok("restore", "--archive", archive, "--target", t.toString(), "--cache-size", "256KiB");
        assertEquals(digests.get(2), ok("kv", "digest", "--data", t.toString()).out().trim());
    }

    // ---- damage: each gives exit 3 naming the object, from restore and from archive verify ----

    private List<Path> segments() throws IOException {
        try (Stream<Path> s = Files.walk(archiveDir.resolve("wal"))) {
            return s.filter(p -> p.toString().endsWith(".seg")).sorted(Comparator.comparing(Path::toString)).toList();
        }
    }

    private String key(Path p) {
        return archiveDir.relativize(p).toString();
    }

    private void assertRestoreAndVerifyName(String object) {
        CliRunner.Result r = CliRunner.run("restore", "--archive", archive, "--target", tmp.resolve("damaged").toString(),
                "--force");
        assertEquals(ExitCodes.INTEGRITY, r.exit(), r.err());
        assertTrue(r.err().contains(object), "restore should name " + object + ": " + r.err());
        CliRunner.Result blocked = CliRunner.run("kv", "get", "--data", tmp.resolve("damaged").toString(), "key-5");
        assertEquals(ExitCodes.FAILURE, blocked.exit(), "a failed restore must not open as a store");
        CliRunner.Result v = CliRunner.run("archive", "verify", "--archive", archive);
        assertEquals(ExitCodes.INTEGRITY, v.exit(), v.out() + v.err());
        assertTrue(v.out().contains(object), "verify should name " + object + ": " + v.out());
    }

    private static void writable(Path p) {
        p.toFile().setWritable(true);
    }

    @Test
    void aFlippedByteInASegmentIsNamed() throws IOException {
        Path seg = segments().get(segments().size() / 2);
        writable(seg);
        byte[] b = Files.readAllBytes(seg);
        b[b.length - 3] ^= 0x40;
        Files.write(seg, b);
        assertRestoreAndVerifyName(key(seg));
    }

    @Test
    void aTruncatedSegmentIsNamed() throws IOException {
        Path seg = segments().get(segments().size() / 2);
        writable(seg);
        byte[] b = Files.readAllBytes(seg);
        Files.write(seg, java.util.Arrays.copyOf(b, b.length / 2));
        assertRestoreAndVerifyName(key(seg));
    }

    @Test
    void aMissingSegmentInTheMiddleIsNamedAsAGap() throws IOException {
        Path seg = segments().get(segments().size() / 2);
        String name = seg.getFileName().toString();
        String first = name.substring(0, 16);
        Files.delete(seg);
        assertRestoreAndVerifyName(first);
        // a time target beyond the gap cannot be reached either
        CliRunner.Result t = CliRunner.run("restore", "--archive", archive, "--target", tmp.resolve("t").toString(),
                "--time", java.time.Instant.now().toString());
        assertEquals(ExitCodes.INTEGRITY, t.exit(), t.err());
        assertTrue(t.err().contains(first), t.err());
    }

    @Test
    void aCorruptManifestIsNamed() throws IOException {
        Path manifest;
        try (Stream<Path> s = Files.walk(archiveDir.resolve("backups"))) {
            manifest = s.filter(p -> p.getFileName().toString().equals("manifest.json")).findFirst().orElseThrow();
        }
        writable(manifest);
        Files.writeString(manifest, Files.readString(manifest).replace("\"lsn\"", "\"lsn\" : 1, \"x\""));
        assertRestoreAndVerifyName(key(manifest));
    }

    @Test
    void aCorruptImageIsNamed() throws IOException {
        Path image;
        try (Stream<Path> s = Files.walk(archiveDir.resolve("backups"))) {
            image = s.filter(p -> p.getFileName().toString().startsWith("image-")).findFirst().orElseThrow();
        }
        writable(image);
        byte[] b = Files.readAllBytes(image);
        b[b.length / 2] ^= 0x01;
        Files.write(image, b);
        assertRestoreAndVerifyName(key(image));
    }
}
