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
}
