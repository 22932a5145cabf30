package io.walship.server;

import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import io.walship.shipper.repl.ReplicationOptions;
import io.walship.shipper.repl.ReplicationServer;
import io.walship.shipper.repl.SyncOptions;
import io.walship.wal.Store;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * review21: a semi-sync commit acknowledged by its follower whose {@code marks/sync-acked} cannot be
 * written ({@code LeaderNode.recordSyncAcked}; an I/O error such as ENOSPC or EIO on the marks
 * directory — here the mark's temporary file is a non-empty directory, which fails its write with
 * an {@code IOException} deterministically) is answered {@code 500 internal error:
 * UncheckedIOException}: the status HttpApi keeps for bugs. The commit is durable on the leader and
 * on a follower; a storage failure is 503 (or 507) everywhere else, and the answer should say that
 * the write is committed and acknowledged, only its record for a rejoin failed.
 */
class SyncAckedMarkFailureStatusReviewTest {
    @TempDir
    Path tmp;
    private Store store;
    private ReplicationServer replication;
    private LeaderServer server;
    private FakeFollower follower;

    @AfterEach
    void stop() {
        if (follower != null) {
            follower.close();
        }
        if (server != null) {
            server.close();
        }
        if (replication != null) {
            replication.close();
        }
        if (store != null) {
            store.close();
        }
    }

    @Test
    void anAcknowledgedCommitWhoseMarkCannotBeWrittenIsNotAnsweredAsABug() throws Exception {
        store = Store.open(tmp.resolve("leader"));
        // the mark's temporary file cannot be written (a directory in its way): the IOException a full
        // or failing disk gives WalMarks.setSyncAcked's write
        Path tmpMark = tmp.resolve("leader").resolve("marks").resolve("sync-acked.tmp");
        Files.createDirectories(tmpMark);
        Files.writeString(tmpMark.resolve("in-the-way"), "x");
        replication = new ReplicationServer(store, new InetSocketAddress("127.0.0.1", 0), ReplicationOptions.defaults(),
                new SyncOptions(SyncOptions.Mode.SEMI_SYNC, 1, Duration.ofMinutes(5), SyncOptions.OnTimeout.BLOCK)).start();
        server = new LeaderServer(store, new InetSocketAddress("127.0.0.1", 0), null, replication, null).start();
        follower = FakeFollower.connect(replication.address(), store.systemId(), store.timeline(),
                store.durableLsn() + 1, "f1", true);
        io.walship.wal.Poll.until(Duration.ofSeconds(30), () -> replication.sessions().size() == 1,
                () -> "until the follower is connected");

        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                + server.address().getPort() + "/kv/k")).PUT(HttpRequest.BodyPublishers.ofString("v")).build(),
                HttpResponse.BodyHandlers.ofString());
        System.out.println("answer " + r.statusCode() + ": " + r.body().strip() + "; follower flushed "
                + follower.flushedSent + ", leader last LSN " + store.lastLsn());
        assertNotEquals(500, r.statusCode(), "a storage failure after the acks was answered as a bug: " + r.body().strip());
    }
}
