package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import io.walship.archive.ArchiveListing;
import io.walship.archive.ArchiveUri;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.wal.WalMarks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docs/OPERATIONS.md "Several archives": after the documented offline failover (restore from A with --promote), a
 * second archive B that was behind when the leader died is refused by the new store's shipper (it lacks timeline 1's
 * WAL up to the fork and the restored data directory cannot ship it): as an optional archive it is one warning line
 * and exit 0, as a required one it fails the run (exit 1) and the WAL is kept for it; a base backup into B, as the
 * message says, lets it ship, and B restores the new timeline.
 */
class LaggingArchiveCommandTest {
    @TempDir
    Path tmp;

    private static CliRunner.Result ok(String... args) {
        CliRunner.Result r = CliRunner.run(args);
        assertEquals(0, r.exit(), String.join(" ", args) + ": " + r.err());
        return r;
    }

    private void puts(String data, String tag, int n) {
        for (int i = 0; i < n; i++) {
            ok("kv", "put", "--data", data, "k" + (i % 7), tag + i);
        }
    }

    @Test
    void aLaggingOptionalArchiveIsAWarningARequiredOneFailsTheRunUntilABackupIsTakenIntoIt() throws Exception {
        String data = tmp.resolve("d").toString();
        String a = "file://" + tmp.resolve("a");
        String b = "file://" + tmp.resolve("b");
        puts(data, "a", 10);
        ok("ship", "--data", data, "--archive", a, "--archive", b, "--once");
        ok("backup", "--data", data, "--archive", a);
        ok("backup", "--data", data, "--archive", b);
        puts(data, "b", 10);
        ok("ship", "--data", data, "--archive", a, "--archive", b, "--once");
        puts(data, "c", 10);
        ok("ship", "--data", data, "--archive", a, "--once"); // the leader dies with B behind

        String promoted = tmp.resolve("p").toString();
        ok("restore", "--archive", a, "--target", promoted, "--promote");
        puts(promoted, "t2-", 5);

        CliRunner.Result optional = ok("ship", "--data", promoted, "--archive", a, "--optional-archive", b, "--once");
        assertEquals(1, optional.err().lines().filter(l -> l.startsWith("walship: warning: optional archive " + b)
                && l.contains("cannot restore timeline 2: it lacks timeline 1's WAL from LSN")).count(), optional.err());
        try (ObjectStore sa = ObjectStores.open(a); ObjectStore sb = ObjectStores.open(b)) {
            assertTrue(ArchiveListing.of(sa).lastArchivedLsn(2) > 0, "A got timeline 2");
            assertTrue(ArchiveListing.of(sb).segments(2).isEmpty(), "B got nothing on timeline 2");
        }

        CliRunner.Result required = CliRunner.run("ship", "--data", promoted, "--archive", a, "--archive", b, "--once");
        assertEquals(1, required.exit(), required.err());
        assertTrue(required.err().startsWith("walship: error: ") && required.err().contains(b + " cannot restore timeline 2")
                && required.err().contains("walship backup --data " + promoted), required.err());
        assertEquals(0, new WalMarks(Path.of(promoted)).archived(ArchiveUri.parse(b).id()).getAsLong(),
                "the WAL is kept for the required archive B");

        ok("backup", "--data", promoted, "--archive", b);
        ok("ship", "--data", promoted, "--archive", a, "--archive", b, "--once");
        String digest = ok("kv", "digest", "--data", promoted).out().trim();
        ok("restore", "--archive", b, "--target", tmp.resolve("rb").toString());
        assertEquals(digest, ok("kv", "digest", "--data", tmp.resolve("rb").toString()).out().trim());
    }
}
