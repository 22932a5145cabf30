package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ServerSocket;
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
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path data = tmp.resolve("data");
        Path log = tmp.resolve("leader.err");
        Path archive = tmp.resolve("archive");
        Process p = ChildJvm.start(Main.class, List.of("leader", "--data", data.toString(), "--http", "127.0.0.1:" + port,
                "--archive", "file://" + archive, "--ship-interval", "200ms"), log);
        String url = "http://127.0.0.1:" + port;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!Files.readString(log).contains("serving")) {
            assertTrue(p.isAlive(), "leader died: " + Files.readString(log));
            assertTrue(System.nanoTime() < deadline, "leader did not start: " + Files.readString(log));
            Thread.sleep(50);
        }
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
}
