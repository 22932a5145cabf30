package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code walship leader} and {@code walship follow} with an {@code --http} or {@code --repl} port
 * another socket listens on: exit 1 naming the address, and neither the data directory nor a local
 * archive directory is created (the leader used to create and open the store, the follower to
 * bootstrap from the archive, before either found the port taken).
 */
class LeaderPortInUseTest {
    @TempDir
    Path tmp;

    /**
     * Runs {@code command} with {@code flags}: exit 1, "cannot listen on" {@code busy}, and the hint naming the flag
     * (--repl if given, else --http) and nothing more.
     */
    private static void assertCannotListen(List<String> command, List<String> flags, String busy) {
        java.util.List<String> args = new java.util.ArrayList<>(command);
        args.addAll(flags);
        CliRunner.Result r = CliRunner.run(args.toArray(String[]::new));
        assertEquals(ExitCodes.FAILURE, r.exit(), flags + ": " + r.out() + r.err());
        List<String> lines = r.err().lines().toList();
        assertTrue(lines.get(0).startsWith("walship: error: cannot listen on " + busy + ": "), r.err());
        String flag = flags.contains("--repl") ? "--repl" : "--http";
        assertEquals(List.of("hint: pick another " + flag + " HOST:PORT"), lines.subList(1, lines.size()), r.err());
    }

    /** A local archive (its URI) holding a base backup of a one-key store: what a follower bootstraps from. */
    private String archiveWithABackup() {
        String source = tmp.resolve("source").toString();
        String archive = "file://" + tmp.resolve("archive");
        assertEquals(0, CliRunner.run("kv", "put", "--data", source, "k", "v").exit());
        CliRunner.Result backup = CliRunner.run("backup", "--data", source, "--archive", archive);
        assertEquals(0, backup.exit(), backup.err());
        return archive;
    }

    /** A loopback port free a moment ago (another process may take it since). */
    private static int aPortFreeAMomentAgo() throws java.io.IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    @Test
    void aPortInUseFailsBeforeTheDataDirectoryIsCreated() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            String busy = "127.0.0.1:" + taken.getLocalPort();
            Path data = tmp.resolve("data");
            Path archive = tmp.resolve("archive");
            List<List<String>> cases = List.of(
                    List.of("--http", busy),
                    List.of("--http", busy, "--archive", "file://" + archive, "--no-lease"),
                    List.of("--http", "127.0.0.1:0", "--repl", busy, "--archive", "file://" + archive));
            for (List<String> flags : cases) {
                assertCannotListen(List.of("leader", "--data", data.toString()), flags, busy);
                assertFalse(Files.exists(data), flags + ": the data directory was created");
                assertFalse(Files.exists(archive), flags + ": the archive directory was created");
            }
        }
    }

    @Test
    void aFollowerWithAPortInUseFailsBeforeItBootstraps() throws Exception {
        String archive = archiveWithABackup();
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            String busy = "127.0.0.1:" + taken.getLocalPort();
            Path data = tmp.resolve("follower");
            // nothing listens on the leader's address: the follower fails before it would look
            for (List<String> flags : List.of(List.of("--http", busy), List.of("--http", "127.0.0.1:0", "--repl", busy))) {
                assertCannotListen(List.of("follow", "--data", data.toString(), "--leader", "127.0.0.1:1", "--archive",
                        archive), flags, busy);
                assertFalse(Files.exists(data), flags + ": the follower's data directory was created");
            }
        }
    }

    /**
     * review32a: {@code --http} and {@code --repl} on the same HOST:PORT. Each probe binds and releases the port
     * on its own, so both pass; the store (and a local archive directory) is created, then the second real bind
     * finds the port taken by the first: exit 1, not even "cannot listen on" (Jetty's "Failed to bind to /127.0.0.1:P",
     * an IOException around the BindException the leader catches, with the --stacktrace hint), and with the data
     * directory left behind — the
     * README's exit-code table says a port in use is found "before they create or download anything". Either the
     * probes hold their sockets until both are bound, or the same address twice is refused up front. The port
     * is one free a moment ago: if another process took it since, the probe refuses it and the assertions hold
     * just the same.
     */
    @Test
    void theSameAddressForHttpAndReplFailsBeforeTheDataDirectoryIsCreated() throws Exception {
        String both = "127.0.0.1:" + aPortFreeAMomentAgo();
        Path data = tmp.resolve("data");
        Path archive = tmp.resolve("archive");
        CliRunner.Result r = CliRunner.run("leader", "--data", data.toString(), "--http", both, "--repl", both,
                "--archive", "file://" + archive, "--no-lease");
        assertEquals(ExitCodes.FAILURE, r.exit(), r.out() + r.err());
        assertTrue(r.err().startsWith("walship: error: cannot listen on " + both + ": "), r.err());
        assertTrue(r.err().contains("hint: pick another --repl HOST:PORT (--http and --repl need two)"), r.err());
        assertFalse(Files.exists(data), "the data directory was created: " + r.err());
        assertFalse(Files.exists(archive), "the archive directory was created: " + r.err());
    }

    /** review32a: as above for {@code follow}: it bootstraps (downloads the base backup) before it finds it. */
    @Test
    void aFollowerWithTheSameAddressForHttpAndReplFailsBeforeItBootstraps() throws Exception {
        String archive = archiveWithABackup();
        String both = "127.0.0.1:" + aPortFreeAMomentAgo();
        Path data = tmp.resolve("follower");
        CliRunner.Result r = CliRunner.run("follow", "--data", data.toString(), "--leader", "127.0.0.1:1",
                "--archive", archive, "--http", both, "--repl", both);
        assertEquals(ExitCodes.FAILURE, r.exit(), r.out() + r.err());
        assertTrue(r.err().startsWith("walship: error: cannot listen on " + both + ": "), r.err());
        assertFalse(Files.exists(data), "the follower's data directory was created (bootstrapped): " + r.err());
    }
}
