package io.walship.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
 * review21 (and review22's async case): a write that races a promotion ({@code POST /promote} on a follower started with
 * {@code --sync-mode semi-sync}). {@link HttpApi} asks the node for the write's {@link CommitWait}
 * before it commits and hands it back after: a {@link SwitchingNode} asks the node of the moment
 * both times. If the switch to the leader comes between the two, the follower's answer
 * ({@link CommitWait#NONE}: wait for nothing) is handed to the new {@link LeaderNode}, which commits
 * the write and answers it at once — 200, no {@code Walship-Sync} header, on no follower — although
 * the leader's mode is semi-sync with block: an answered write that dies with the new leader's disk.
 * The steps are the ones HttpApi's PUT takes, in the order the race gives them; nothing is timed.
 */
class PromotionCommitModeReviewTest {
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

    private LeaderNode leader;

    /**
     * A follower node that a promotion turns into a semi-sync/block leader of a store of its own (only
     * its LeaderNode matters), behind a SwitchingNode, as HttpApi sees it.
     */
    private SwitchingNode promotable() throws Exception {
        // the store the promotion reopens as leader (a store of its own: only its LeaderNode matters)
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

        // the promoted node's commit mode: semi-sync, block (never answer a commit on no follower)
        replication = new ReplicationServer(leaderStore, new InetSocketAddress("127.0.0.1", 0),
                ReplicationOptions.defaults(), new SyncOptions(SyncOptions.Mode.SEMI_SYNC, 1, Duration.ofHours(1),
                SyncOptions.OnTimeout.BLOCK)).start();
        leader = new LeaderNode(leaderStore, null, replication);
        return new SwitchingNode(follower, (force, peers) -> new SwitchingNode.Result(leader,
                new PromoteResponse(2, 1, Lsn.format(leaderStore.lastLsn()), null, 0)));
    }

    @Test
    void aWriteThatRacesThePromotionIsNotAnsweredWithoutTheNewLeadersAcks() throws Exception {
        SwitchingNode node = promotable();

        // HttpApi.kv PUT: commitWait(...) first — the node is still the follower
        CommitWait wait = node.commitWait(null, Durability.DURABLE);
        // POST /promote completes on another request thread meanwhile
        node.promote(false, List.of());
        // ... then the PUT goes on: node.put(...) reaches the new leader, and written() awaits the commit
        long lsn = node.put(b("k"), b("v"), Durability.DURABLE);
        CompletableFuture<String> answered = CompletableFuture.supplyAsync(() -> node.awaitCommit(lsn, wait));
        // either the write waits in the tracker (correct) or it was answered already (the defect)
        io.walship.wal.Poll.until(Duration.ofSeconds(30),
                () -> answered.isDone() || replication.acks().waiting() == 1,
                () -> "until the write waits for acks or is answered");
        try {
            assertFalse(answered.isDone(), "LSN " + Lsn.format(lsn) + " was answered (Walship-Sync: "
                    + answered.getNow("?") + ") by a semi-sync/block leader that no follower acknowledged it to:"
                    + " the CommitWait was the follower's (" + wait + ")");
            assertEquals(1, replication.acks().waiting());
        } finally {
            replication.acks().close(); // release the waiting thread if it waits (the correct case)
        }
    }

    /** review22: a write that asked durability=async / sync=async keeps that through the race (it waited for acks). */
    @Test
    void anAsyncWriteThatRacesThePromotionIsNotMadeToWaitForAcks() throws Exception {
        SwitchingNode node = promotable();

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
