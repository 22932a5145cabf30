package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.walship.archive.ArchiveListing;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.wal.ChildJvm;
import io.walship.wal.ControlFile;
import io.walship.wal.Store;
import io.walship.wal.WalEntry;
import io.walship.wal.WalReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `walship leader` as its own process: serves, refuses a second writer, shuts down cleanly on SIGTERM. */
class LeaderProcessTest {
    @TempDir
    Path tmp;

    @Test
    void sigtermCheckpointsAndReleasesTheDirectory() throws Exception {
        Path data = tmp.resolve("data");
        Path log = tmp.resolve("leader.err");
        Path archive = tmp.resolve("archive");
        Path portFile = tmp.resolve("leader.port");
        // the child binds port 0 itself and says which port it got: no window for another process to take it
        Process p = ChildJvm.start(Main.class, List.of("leader", "--data", data.toString(), "--http", "127.0.0.1:0",
                "--port-file", portFile.toString(), "--cache-size", "1MiB",
                "--archive", "file://" + archive, "--ship-interval", "200ms"), log);
        int port = awaitPort(p, portFile, log);
        String url = "http://127.0.0.1:" + port;
        assertTrue(Files.readString(log).contains("cache 1MiB"), Files.readString(log));
        for (int i = 0; i < 20; i++) {
            assertEquals(0, CliRunner.run("kv", "put", "--url", url, "k" + i, "v" + i).exit());
        }
        // another process's WAL reader sees every entry and follows new ones as they are written
        try (WalReader reader = WalReader.open(data)) {
            reader.seek(1);
            long n = 0;
            while (reader.next() != null) {
                n++;
            }
            assertEquals(21, n, "creation entry + 20 puts");
            assertEquals(0, CliRunner.run("kv", "put", "--url", url, "late", "entry").exit());
            WalEntry followed = reader.poll(java.time.Duration.ofSeconds(10));
            assertEquals(22, followed.lsn());
        }
        CliRunner.Result inspect = CliRunner.run("wal", "inspect", "--data", data.toString(), "--from", "20");
        assertEquals(0, inspect.exit(), inspect.err());
        assertTrue(inspect.out().contains("3 entries"), inspect.out());

        CliRunner.Result second = CliRunner.run("kv", "get", "--data", data.toString(), "k1");
        assertEquals(ExitCodes.FAILURE, second.exit());
        assertTrue(second.err().contains("by process " + p.pid()), second.err());

        p.destroy(); // SIGTERM
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "leader did not stop on SIGTERM");
        assertEquals(0, p.exitValue(), "SIGTERM is an orderly stop: " + Files.readString(log));
        String out = Files.readString(log);
        assertTrue(out.contains("shutting down"), out);
        try (ObjectStore a = ObjectStores.open("file://" + archive)) {
            ArchiveListing listing = ArchiveListing.of(a);
            assertEquals(List.of(new ArchiveListing.Range(1, 22)), listing.coverage(1),
                    "the leader shipped everything, the last commits at shutdown");
        }
        ControlFile control = ControlFile.read(data);
        assertEquals(22, control.checkpointLsn(), "the shutdown checkpoint covers every commit");
        try (Store s = Store.open(data)) {
            assertEquals("v19", new String(s.get("k19".getBytes())));
            assertEquals(22, s.lastLsn());
        }
    }

    /** Waits (with a deadline, polling) for the child leader to write its port file. */
    static int awaitPort(Process p, Path portFile, Path log) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            if (Files.exists(portFile)) {
                String text = Files.readString(portFile).trim();
                if (!text.isEmpty()) {
                    return Integer.parseInt(text);
                }
            }
            assertTrue(p.isAlive(), () -> "leader died: " + read(log));
            assertTrue(System.nanoTime() < deadline, () -> "leader did not start: " + read(log));
            try {
                p.onExit().get(20, TimeUnit.MILLISECONDS); // the poll interval, cut short if the child dies
            } catch (java.util.concurrent.TimeoutException stillRunning) {
                // poll again
            }
        }
    }

    private static String read(Path f) {
        try {
            return Files.readString(f);
        } catch (java.io.IOException e) {
            return "(no log: " + e + ")";
        }
    }
}
