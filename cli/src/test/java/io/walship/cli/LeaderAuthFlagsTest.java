package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code walship leader} refuses, with exit 2 and one line, to listen off loopback without a token, or
 * with a token file it cannot use; it checks before it opens anything.
 */
class LeaderAuthFlagsTest {
    @TempDir
    Path tmp;

    private void assertUsageError(String expected, String... args) {
        CliRunner.Result r = CliRunner.run(args);
        assertEquals(ExitCodes.USAGE, r.exit(), r.err());
        assertEquals(1, r.err().lines().count(), "one line: " + r.err());
        assertTrue(r.err().contains(expected), r.err());
    }

    @Test
    void nonLoopbackListenersNeedATokenFile() throws Exception {
        Path data = tmp.resolve("d");
        assertUsageError("--http 0.0.0.0:0 listens on a non-loopback address; that requires --auth-token-file",
                "leader", "--data", data.toString(), "--http", "0.0.0.0:0");
        assertUsageError("--repl [::]:0 listens on a non-loopback address",
                "leader", "--data", data.toString(), "--http", "127.0.0.1:0", "--repl", "[::]:0");
        assertFalse(Files.exists(data), "nothing was opened or created");
    }

    @Test
    void aMissingOrEmptyTokenFileIsAUsageError() throws Exception {
        Path data = tmp.resolve("d");
        assertUsageError("auth token file " + tmp.resolve("nope") + " does not exist",
                "leader", "--data", data.toString(), "--auth-token-file", tmp.resolve("nope").toString());
        Path empty = Files.writeString(tmp.resolve("empty"), " \n");
        assertUsageError("auth token file " + empty + " is empty",
                "leader", "--data", data.toString(), "--auth-token-file", empty.toString());
        assertFalse(Files.exists(data));
    }

    @Test
    void badReplicationValuesAreUsageErrors() throws Exception {
        Path data = tmp.resolve("d");
        assertUsageError("--repl-timeout", "leader", "--data", data.toString(), "--repl", "127.0.0.1:0",
                "--repl-keepalive", "5s", "--repl-timeout", "2s");
        assertUsageError("expected HOST:PORT", "leader", "--data", data.toString(), "--repl", "nowhere");
        assertFalse(Files.exists(data));
    }

    @Test
    void badCommitModeFlagsAreUsageErrors() throws Exception {
        Path data = tmp.resolve("d");
        assertUsageError("--sync-mode semi-sync needs --repl HOST:PORT", "leader", "--data", data.toString(),
                "--sync-mode", "semi-sync");
        assertUsageError("--sync-mode must be async, semi-sync or sync, got 'quorum'", "leader", "--data",
                data.toString(), "--repl", "127.0.0.1:0", "--sync-mode", "quorum");
        assertUsageError("--sync-quorum 2 needs --sync-mode sync", "leader", "--data", data.toString(), "--repl",
                "127.0.0.1:0", "--sync-mode", "semi-sync", "--sync-quorum", "2");
        assertUsageError("--on-sync-timeout must be block or degrade", "leader", "--data", data.toString(), "--repl",
                "127.0.0.1:0", "--sync-mode", "sync", "--on-sync-timeout", "wait");
        assertUsageError("--sync-timeout", "leader", "--data", data.toString(), "--repl", "127.0.0.1:0",
                "--sync-mode", "sync", "--sync-timeout", "0s");
        assertUsageError("--sync-quorum 3 is more than --repl-max-followers 2", "leader", "--data", data.toString(),
                "--repl", "127.0.0.1:0", "--sync-mode", "sync", "--sync-quorum", "3", "--repl-max-followers", "2");
        assertFalse(Files.exists(data));
    }
}
