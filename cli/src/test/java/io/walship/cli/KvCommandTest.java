package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import io.walship.wal.Lsn;
import io.walship.wal.Store;
import io.walship.wal.TestHooks;
import io.walship.wal.WalCorruptionTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KvCommandTest {
    @TempDir
    Path tmp;

    @Test
    void putGetDelDumpDigestOnADataDirectory() {
        String d = tmp.resolve("d").toString();
        CliRunner.Result put = CliRunner.run("kv", "put", "--data", d, "b", "two");
        assertEquals(0, put.exit(), put.err());
        assertEquals(Lsn.format(2), put.out().trim(), "put prints its commit LSN");
        assertEquals(0, CliRunner.run("kv", "put", "--data", d, "a", "one\ttab").exit());
        assertEquals(0, CliRunner.run("kv", "put", "--data", d, "c", "three").exit());
        assertEquals("two\n", CliRunner.run("kv", "get", "--data", d, "b").out());
        assertEquals(Lsn.format(5), CliRunner.run("kv", "del", "--data", d, "c").out().trim());
        assertEquals("a\tone\\ttab\nb\ttwo\n", CliRunner.run("kv", "dump", "--data", d).out());
        assertEquals("b\ttwo\n", CliRunner.run("kv", "scan", "--data", d, "--from", "b").out());
        CliRunner.Result digest = CliRunner.run("kv", "digest", "--data", d);
        assertTrue(digest.out().matches("[0-9a-f]{64}  lsn=0000000000000005 pairs=2\n"), digest.out());
        try (Store s = Store.open(Path.of(d))) {
            assertEquals(s.digest().sha256(), digest.out().substring(0, 64));
        }
    }

    @Test
    void errorsAreOneLineWithDocumentedExitCodes() throws Exception {
        String d = tmp.resolve("d").toString();
        assertEquals(0, CliRunner.run("kv", "put", "--data", d, "other", "x").exit()); // a read creates no store
        CliRunner.Result missing = CliRunner.run("kv", "get", "--data", d, "nope");
        assertEquals(ExitCodes.FAILURE, missing.exit());
        assertEquals("walship: error: key not found: nope", missing.err().lines().findFirst().orElseThrow());

        CliRunner.Result both = CliRunner.run("kv", "get", "--data", d, "--url", "http://127.0.0.1:1", "k");
        assertEquals(ExitCodes.USAGE, both.exit());
        assertTrue(both.err().startsWith("walship: error: give either --data or --url, not both"), both.err());

        CliRunner.Result badFlag = CliRunner.run("kv", "get", "--nonsense");
        assertEquals(ExitCodes.USAGE, badFlag.exit());

        CliRunner.Result tooBig = CliRunner.run("kv", "put", "--data", d, "k", "x".repeat(2000));
        assertEquals(ExitCodes.USAGE, tooBig.exit());
        assertTrue(tooBig.err().contains("value is 2000 bytes; the limit is 1024"), tooBig.err());

        CliRunner.Result badUrl = CliRunner.run("kv", "get", "--url", "ftp://x", "k");
        assertEquals(ExitCodes.USAGE, badUrl.exit());

        CliRunner.Result refused = CliRunner.run("kv", "get", "--url", "http://127.0.0.1:1", "k");
        assertEquals(ExitCodes.FAILURE, refused.exit());
        assertTrue(refused.err().contains("cannot connect") || refused.err().contains("failed"), refused.err());

        try (Store s = Store.open(Path.of(d))) {
            CliRunner.Result locked = CliRunner.run("kv", "get", "--data", d, "k");
            assertEquals(ExitCodes.FAILURE, locked.exit());
            assertTrue(locked.err().contains("already open for writing"), locked.err());
            assertTrue(locked.err().contains("hint: a leader is running on it: use --url"), locked.err());
        }
    }

    @Test
    void corruptWalIsExitCode3NamingTheLsn() throws Exception {
        Path d = tmp.resolve("d");
        Store s = Store.open(d);
        for (int i = 0; i < 30; i++) {
            s.put(("k" + i).getBytes(), ("v" + i).getBytes());
        }
        TestHooks.abandon(s);
        WalCorruptionTest.flipByteInEntry(d, 10);
        CliRunner.Result r = CliRunner.run("kv", "dump", "--data", d.toString());
        assertEquals(ExitCodes.INTEGRITY, r.exit(), r.err());
        assertTrue(r.err().contains(Lsn.format(10)), r.err());
        CliRunner.Result inspect = CliRunner.run("wal", "inspect", "--data", d.toString());
        assertEquals(ExitCodes.INTEGRITY, inspect.exit(), inspect.err());
    }

    @Test
    void aLeadersRefusalsKeepTheirMeaning() {
        assertEquals(ExitCodes.TOO_LARGE, HttpKv.refusal(413, "error: a batch holds at most 10000 operations; split it").exitCode());
        assertEquals(ExitCodes.STORAGE_FULL, HttpKv.refusal(507, "error: no space for the WAL").exitCode());
        CliException failed = HttpKv.refusal(503, "error: WAL sync failed: EIO");
        assertEquals(ExitCodes.UNAVAILABLE, failed.exitCode());
        assertEquals("leader answered HTTP 503: WAL sync failed: EIO", failed.getMessage());
        assertEquals(ExitCodes.USAGE, HttpKv.refusal(400, "error: bad key").exitCode());
        assertEquals(ExitCodes.FAILURE, HttpKv.refusal(500, "internal error: NullPointerException").exitCode());
        // an IllegalArgumentException from inside is a failure, not the user's usage error
        assertEquals(ExitCodes.FAILURE, ErrorReporter.exitCode(new IllegalArgumentException("a bug")));
        assertTrue(ErrorReporter.internal(new IllegalArgumentException("a bug")));
        assertTrue(!ErrorReporter.internal(new io.walship.protocol.BadInputException("bad flag")));
        assertEquals(ExitCodes.USAGE, ErrorReporter.exitCode(new io.walship.protocol.BadInputException("bad flag")));
        assertEquals(ExitCodes.TOO_LARGE, ErrorReporter.exitCode(new io.walship.wal.BatchTooLargeException("big")));
        assertEquals(ExitCodes.STORAGE_FULL, ErrorReporter.exitCode(new io.walship.wal.StorageFullException("full", null)));
        assertEquals(ExitCodes.UNAVAILABLE, ErrorReporter.exitCode(new io.walship.wal.StoreFailedException("EIO", null)));
    }

    @Test
    void scanLimitZeroPrintsNothingAndBadFlagValuesAreUsageErrors(@org.junit.jupiter.api.io.TempDir Path dir) {
        String d = dir.resolve("s").toString();
        assertEquals(0, CliRunner.run("kv", "put", "--data", d, "a", "1").exit());
        CliRunner.Result none = CliRunner.run("kv", "scan", "--data", d, "--limit", "0");
        assertEquals(0, none.exit(), none.err());
        assertEquals("", none.out());
        assertEquals(ExitCodes.USAGE, CliRunner.run("kv", "scan", "--data", d, "--limit", "-1").exit());
        CliRunner.Result walLimit = CliRunner.run("wal", "inspect", "--data", d, "--limit", "-5");
        assertEquals(ExitCodes.USAGE, walLimit.exit(), walLimit.out() + walLimit.err());
        assertTrue(walLimit.err().contains("--limit must be >= 0, got -5"), walLimit.err());
        CliRunner.Result lsn = CliRunner.run("wal", "inspect", "--data", d, "--from", "0xZZ");
        assertEquals(ExitCodes.USAGE, lsn.exit(), lsn.err());
        assertTrue(lsn.err().contains("bad --from '0xZZ'"), lsn.err());
        CliRunner.Result cache = CliRunner.run("leader", "--data", d, "--cache-size", "12KiB");
        assertEquals(ExitCodes.USAGE, cache.exit(), cache.err());
        assertTrue(cache.err().contains("--cache-size"), cache.err());
    }
}
