package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.nio.file.Path;

import io.walship.server.LeaderServer;
import io.walship.wal.Lsn;
import io.walship.wal.Store;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Commands that go through a running leader (--url): kv and backup. */
class UrlCommandsTest {
    @TempDir
    Path tmp;
    private Store store;
    private LeaderServer server;
    private String url;

    @BeforeEach
    void start() throws Exception {
        store = Store.open(tmp.resolve("leader"));
        server = new LeaderServer(store, new InetSocketAddress("127.0.0.1", 0)).start();
        url = "http://127.0.0.1:" + server.address().getPort();
    }

    @AfterEach
    void stop() {
        server.close();
        store.close();
    }

    @Test
    void backupFromARunningLeader() {
        for (int i = 0; i < 50; i++) {
            assertEquals(0, CliRunner.run("kv", "put", "--url", url, "k" + i, "v" + i).exit());
        }
        String archive = "file://" + tmp.resolve("archive");
        CliRunner.Result r = CliRunner.run("backup", "--url", url, "--archive", archive);
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().startsWith("base backup at LSN " + Lsn.format(store.lastLsn())), r.out());
        CliRunner.Result list = CliRunner.run("archive", "list", "--archive", archive);
        assertTrue(list.out().contains("backup     at LSN " + Lsn.format(store.lastLsn())), list.out());
        CliRunner.Result json = CliRunner.run("archive", "list", "--archive", archive, "--json");
        assertTrue(json.out().contains("\"backups\":[{"), json.out());
    }

    /** An incremental backup streams the leader's whole image but uploads only the changed pages; it restores. */
    @Test
    void incrementalBackupFromARunningLeader() {
        for (int i = 0; i < 400; i++) {
            io.walship.wal.WriteBatch b = new io.walship.wal.WriteBatch();
            b.put(("k" + i).getBytes(), ("v" + i + "x".repeat(800)).getBytes());
            store.write(b);
        }
        String archive = "file://" + tmp.resolve("archive");
        CliRunner.Result full = CliRunner.run("backup", "--url", url, "--archive", archive, "--incremental");
        assertEquals(0, full.exit(), full.err());
        assertTrue(full.out().startsWith("base backup at LSN"), "no backup to build on yet: " + full.out());
        for (int i = 0; i < 5; i++) {
            io.walship.wal.WriteBatch b = new io.walship.wal.WriteBatch();
            b.put(("k" + i * 71).getBytes(), "changed".getBytes());
            store.write(b);
        }
        CliRunner.Result incr = CliRunner.run("backup", "--url", url, "--archive", archive, "--incremental");
        assertEquals(0, incr.exit(), incr.err());
        assertTrue(incr.out().startsWith("incremental base backup at LSN " + Lsn.format(store.lastLsn())), incr.out());
        String lsn = Lsn.format(store.lastLsn());
        String digest = store.digest().sha256();
        Path target = tmp.resolve("restored");
        CliRunner.Result r = CliRunner.run("restore", "--archive", archive, "--target", target.toString(), "--lsn", lsn);
        assertEquals(0, r.exit(), r.err());
        try (Store restored = Store.open(target)) {
            assertEquals(digest, restored.digest().sha256());
        }
    }

    @Test
    void kvCommandsGoThroughTheLeader() {
        assertEquals(0, CliRunner.run("kv", "put", "--url", url, "x", "1").exit());
        assertEquals(0, CliRunner.run("kv", "put", "--url", url, "y z", "tab\there").exit());
        assertEquals("1\n", CliRunner.run("kv", "get", "--url", url, "x").out());
        assertEquals("x\t1\ny z\ttab\\there\n", CliRunner.run("kv", "dump", "--url", url).out());
        assertEquals("x\t1\n", CliRunner.run("kv", "scan", "--url", url, "--prefix", "x").out());
        CliRunner.Result digest = CliRunner.run("kv", "digest", "--url", url);
        assertEquals(store.digest().sha256(), digest.out().substring(0, 64));
        assertEquals(ExitCodes.FAILURE, CliRunner.run("kv", "get", "--url", url, "nope").exit());
        CliRunner.Result tooBig = CliRunner.run("kv", "put", "--url", url, "k", "x".repeat(2000));
        assertEquals(ExitCodes.USAGE, tooBig.exit());
        assertTrue(tooBig.err().contains("the limit is 1024"), tooBig.err());
    }

    @Test
    void scanBoundsAreByteExactAndAFailedLeaderIsExit6() {
        for (String k : new String[] {"a", "é1", "é2", "ÿ", "z"}) {
            assertEquals(0, CliRunner.run("kv", "put", "--url", url, k, "v").exit());
        }
        // non-ASCII bounds reach the leader as their UTF-8 bytes, not as mangled text
        assertEquals("é1\tv\n", CliRunner.run("kv", "scan", "--url", url, "--from", "é1", "--to", "é2").out());
        assertEquals("é1\tv\né2\tv\n", CliRunner.run("kv", "scan", "--url", url, "--prefix", "é").out());
        assertEquals("\u00ff\tv\n", CliRunner.run("kv", "scan", "--url", url, "--from", "\u00ff").out());
        assertEquals("", CliRunner.run("kv", "scan", "--url", url, "--limit", "0").out());
        assertEquals("a\tv\n", CliRunner.run("kv", "scan", "--url", url, "--limit", "1").out());
        // a closed store behind a running API: 503, reported as "unavailable" (exit 6), not a usage error
        store.close();
        CliRunner.Result put = CliRunner.run("kv", "put", "--url", url, "k", "v");
        assertEquals(ExitCodes.UNAVAILABLE, put.exit(), put.err());
        assertTrue(put.err().contains("leader answered HTTP 503: store ") && put.err().contains("is closed"), put.err());
    }
}
