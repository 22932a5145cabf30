package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;

import io.walship.archive.ArchiveListing;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShipCommandTest {
    @TempDir
    Path tmp;

    @Test
    void shipOnceThenListTheArchive() {
        String d = tmp.resolve("d").toString();
        String archive = "file://" + tmp.resolve("archive");
        for (int i = 0; i < 5; i++) {
            assertEquals(0, CliRunner.run("kv", "put", "--data", d, "k" + i, "v" + i).exit());
        }
        CliRunner.Result ship = CliRunner.run("ship", "--data", d, "--archive", archive, "--once");
        assertEquals(0, ship.exit(), ship.err());
        assertTrue(ship.out().startsWith("shipped 1 segment(s), 6 entries"), ship.out());
        assertTrue(ship.out().contains("archived up to LSN 0000000000000006"), ship.out());
        CliRunner.Result again = CliRunner.run("ship", "--data", d, "--archive", archive, "--once");
        assertTrue(again.out().startsWith("shipped 0 segment(s)"), again.out());

        CliRunner.Result list = CliRunner.run("archive", "list", "--archive", archive);
        assertEquals(0, list.exit(), list.err());
        assertTrue(list.out().contains("covered    0000000000000001-0000000000000006        1"), list.out());
        CliRunner.Result json = CliRunner.run("archive", "list", "--archive", archive, "--json");
        assertTrue(json.out().contains("\"coverage\":[{\"from\":\"0000000000000001\",\"to\":\"0000000000000006\"}]")
                || json.out().contains("\"to\":\"0000000000000006\""), json.out());
        try (ObjectStore s = ObjectStores.open(archive)) {
            assertEquals(6, ArchiveListing.of(s).lastArchivedLsn(1));
        }
    }

    @Test
    void badArchivesAreConfigErrors() {
        String d = tmp.resolve("d").toString();
        CliRunner.run("kv", "put", "--data", d, "k", "v");
        for (String uri : new String[] {"s3://Bad_Bucket/x", "ftp://host/x", "file://host/x", "s3://b-1/x?nope=1"}) {
            CliRunner.Result r = CliRunner.run("ship", "--data", d, "--archive", uri, "--once");
            assertEquals(ExitCodes.USAGE, r.exit(), uri + ": " + r.err());
            assertTrue(r.err().startsWith("walship: error: bad archive URI"), r.err());
        }
        CliRunner.Result badSize = CliRunner.run("ship", "--data", d, "--archive", "file://" + tmp, "--once",
                "--segment-size", "lots");
        assertEquals(ExitCodes.USAGE, badSize.exit());
        CliRunner.Result hugeSize = CliRunner.run("ship", "--data", d, "--archive", "file://" + tmp, "--once",
                "--segment-size", "2GiB");
        assertEquals(ExitCodes.USAGE, hugeSize.exit(), hugeSize.err());
        assertTrue(hugeSize.err().contains("segment size must be between 4096 bytes and 1GiB"), hugeSize.err());
        CliRunner.Result notData = CliRunner.run("ship", "--data", tmp.resolve("nothing").toString(), "--archive",
                "file://" + tmp.resolve("a"), "--once");
        assertEquals(ExitCodes.FAILURE, notData.exit(), notData.err());
        assertTrue(notData.err().contains("is not a walship data directory"), notData.err());
    }

    /** --segment-max-age and --archive-recheck: a negative or garbage duration is exit 2, one line naming the flag. */
    @Test
    void badPacingValuesAreUsageErrors() {
        String d = tmp.resolve("d").toString();
        CliRunner.run("kv", "put", "--data", d, "k", "v");
        String archive = "file://" + tmp.resolve("archive");
        for (String flag : new String[] {"--segment-max-age", "--archive-recheck"}) {
            for (String bad : new String[] {"-1s", "soon", "1 minute", "", "5", "8761h", "3000000h"}) {
                CliRunner.Result r = CliRunner.run("ship", "--data", d, "--archive", archive, "--interval", "1s", flag, bad);
                assertEquals(ExitCodes.USAGE, r.exit(), flag + " " + bad + ": " + r.err());
                assertTrue(r.err().startsWith("walship: error: bad " + flag + " '" + bad + "'"), r.err());
                assertEquals(1, r.err().lines().count(), r.err());
                CliRunner.Result leader = CliRunner.run("leader", "--data", tmp.resolve("l").toString(), "--archive",
                        archive, "--http", "127.0.0.1:0", flag, bad);
                assertEquals(ExitCodes.USAGE, leader.exit(), flag + " " + bad + ": " + leader.err());
                assertTrue(leader.err().startsWith("walship: error: bad " + flag), leader.err());
            }
        }
        CliRunner.Result ok = CliRunner.run("ship", "--data", d, "--archive", archive, "--once", "--segment-max-age",
                "1h", "--archive-recheck", "0s");
        assertEquals(0, ok.exit(), ok.err());
        assertTrue(ok.out().startsWith("shipped 1 segment(s)"), "--once ships a young segment too: " + ok.out());
    }

    /**
     * Another store's WAL is refused with exit 3 and one line naming both histories, and a hint that
     * fits: a new timeline of this store (the hint for a split history) would not help.
     */
    @Test
    void shippingAnotherHistoryIsRefusedWithExit3() {
        String a = tmp.resolve("a").toString();
        String b = tmp.resolve("b").toString();
        String archive = "file://" + tmp.resolve("archive");
        for (int i = 0; i < 3; i++) {
            CliRunner.run("kv", "put", "--data", a, "k" + i, "a");
        }
        for (int i = 0; i < 5; i++) {
            CliRunner.run("kv", "put", "--data", b, "k" + i, "b");
        }
        assertEquals(0, CliRunner.run("ship", "--data", a, "--archive", archive, "--once").exit());
        CliRunner.Result r = CliRunner.run("ship", "--data", b, "--archive", archive, "--once");
        assertEquals(ExitCodes.INTEGRITY, r.exit(), r.err());
        List<String> lines = r.err().lines().toList();
        assertTrue(lines.get(0).startsWith("walship: error: the archive holds another history than this store"), r.err());
        assertTrue(lines.get(0).contains("(another store's archive)"), r.err());
        assertTrue(lines.get(0).contains("archive: system id ") && lines.get(0).contains("this store: system id "), r.err());
        assertTrue(lines.get(1).startsWith("hint: the archive belongs to another store"), r.err());

        // the continuous loop does not retry it forever: it stops and exits 3 too
        CliRunner.Result loop = CliRunner.run("ship", "--data", b, "--archive", archive, "--interval", "50ms");
        assertEquals(ExitCodes.INTEGRITY, loop.exit(), loop.err());
        assertTrue(loop.err().startsWith("walship: error: the archive holds another history than this store"), loop.err());
    }

    /**
     * A standby's data directory (a follower's, or a restored copy not promoted) has no WAL of its own
     * to ship: {@code ship --once} on it is refused (exit 6, one line) before it touches anything, not
     * "shipped 0" with a retention mark at 0 left behind that holds the WAL once it is promoted.
     */
    @Test
    void shipOnceOnAStandbyIsRefusedAndTouchesNothing() throws Exception {
        String d = tmp.resolve("d").toString();
        String archive = "file://" + tmp.resolve("archive");
        for (int i = 0; i < 5; i++) {
            assertEquals(0, CliRunner.run("kv", "put", "--data", d, "k" + i, "v" + i).exit());
        }
        assertEquals(0, CliRunner.run("backup", "--data", d, "--archive", archive).exit());
        assertEquals(0, CliRunner.run("ship", "--data", d, "--archive", archive, "--once").exit());
        Path standby = tmp.resolve("standby");
        CliRunner.Result restore = CliRunner.run("restore", "--archive", archive, "--target", standby.toString());
        assertEquals(0, restore.exit(), restore.err());
        java.util.Map<String, String> before = contents(standby);

        Path other = tmp.resolve("other-archive"); // ship creates a missing local archive directory: not here
        for (String uri : new String[] {archive, "file://" + other}) {
            CliRunner.Result r = CliRunner.run("ship", "--data", standby.toString(), "--archive", uri, "--once");
            assertEquals(ExitCodes.UNAVAILABLE, r.exit(), r.out() + r.err());
            assertEquals("", r.out());
            assertEquals(1, r.err().lines().count(), r.err());
            assertTrue(r.err().startsWith("walship: error: " + standby + " is a standby"), r.err());
            assertTrue(r.err().contains("until it is promoted"), r.err());
            assertEquals(before, contents(standby), "the standby's directory changed");
        }
        assertTrue(!java.nio.file.Files.exists(other), "the archive directory was created");
    }

    /** Every file under {@code dir} (relative path) with the SHA-256 of its bytes. */
    private static java.util.Map<String, String> contents(Path dir) throws java.io.IOException {
        java.util.Map<String, String> m = new java.util.TreeMap<>();
        try (java.util.stream.Stream<Path> files = java.nio.file.Files.walk(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                String name = dir.relativize(f).toString();
                if (java.nio.file.Files.isDirectory(f)) {
                    m.put(name + "/", "dir");
                    continue;
                }
                try {
                    m.put(name, java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                            .digest(java.nio.file.Files.readAllBytes(f))));
                } catch (java.security.NoSuchAlgorithmException e) {
                    throw new AssertionError(e);
                }
            }
        }
        return m;
    }
}
