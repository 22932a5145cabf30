package io.walship.server;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import io.walship.protocol.PromoteResponse;
import io.walship.protocol.StatusResponse;
import io.walship.shipper.repl.ReplicationOptions;
import io.walship.shipper.repl.ReplicationServer;
import io.walship.shipper.repl.SyncOptions;
import io.walship.wal.ControlFile;
import io.walship.wal.Durability;
import io.walship.wal.Lsn;
import io.walship.wal.Snapshot;
import io.walship.wal.SnapshotLoader;
import io.walship.wal.Store;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * review22: fix21 turns a CommitWait with a null mode (the follower's {@link CommitWait#NONE}, made
 * before a promotion switched the {@link SwitchingNode}) into "wait for this leader's own full mode".
 * But NONE carries nothing of the request: a write that asked {@code durability=async} (which a
 * leader never waits for: "a commit not yet durable on the leader cannot wait for followers") or
 * {@code ?sync=async} now waits for the leader's semi-sync acks — with block and no follower, for
 * ever. Before fix21 it was answered at once. Same steps as PromotionCommitModeReviewTest.
 */
class PromotionAsyncRequestReview22Test {
    @TempDir
    Path tmp;
    private Store leaderStore;
    private Store followerStore;
    private ReplicationServer replication;

    @AfterEach
    void stop() {
        if (replication != null) {
            replication.close();
        }
        if (followerStore != null) {
            followerStore.close();
        }
        if (leaderStore != null) {
            leaderStore.close();
        }
    }

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void anAsyncWriteThatRacesThePromotionIsNotMadeToWaitForAcks() throws Exception {
        leaderStore = Store.open(tmp.resolve("promoted"));
        leaderStore.put(b("a"), b("1"));
        Path fdir = tmp.resolve("follower");
        try (Snapshot s = leaderStore.snapshot(); InputStream in = s.openStream()) {
            SnapshotLoader.load(in, fdir);
        }
        ControlFile.read(fdir).asStandby().write(fdir);
        followerStore = Store.open(fdir);
        StatusResponse.Follower view = new StatusResponse.Follower("stream", "stream", "127.0.0.1:7071",
                "http://127.0.0.1:7070", null, null, 0, 0, 0, null);
        FollowerNode follower = new FollowerNode(followerStore, () -> view, Duration.ofSeconds(20), null);
        replication = new ReplicationServer(leaderStore, new InetSocketAddress("127.0.0.1", 0),
                ReplicationOptions.defaults(), new SyncOptions(SyncOptions.Mode.SEMI_SYNC, 1, Duration.ofHours(1),
                SyncOptions.OnTimeout.BLOCK)).start();
        LeaderNode leader = new LeaderNode(leaderStore, null, replication);
        SwitchingNode node = new SwitchingNode(follower, (force, peers) -> new SwitchingNode.Result(leader,
                new PromoteResponse(2, 1, Lsn.format(leaderStore.lastLsn()), null, 0)));

        // what the leader itself answers for this request: wait for nothing
        CommitWait direct = leader.commitWait("async", Durability.ASYNC);
        assertTrue(direct.required() == 0, "a leader never waits for an async-durability write: " + direct);

        // PUT /kv/k?durability=async&sync=async: commitWait on the follower, the promotion, then the commit
        CommitWait wait = node.commitWait("async", Durability.ASYNC);
        node.promote(false, List.of());
        long lsn = node.put(b("k"), b("v"), Durability.ASYNC);
        CompletableFuture<String> answered = CompletableFuture.supplyAsync(() -> node.awaitCommit(lsn, wait));
        io.walship.wal.Poll.until(Duration.ofSeconds(30),
                () -> answered.isDone() || replication.acks().waiting() == 1,
                () -> "until the write is answered or waits for acks");
        try {
            assertTrue(answered.isDone(), "LSN " + Lsn.format(lsn) + ", written with durability=async&sync=async,"
                    + " waits for a semi-sync ack (block, no follower: for ever) because the follower's CommitWait "
                    + wait + " was replaced by the leader's full mode; waiting " + replication.acks().waiting());
        } finally {
            replication.acks().close();
        }
    }
}
