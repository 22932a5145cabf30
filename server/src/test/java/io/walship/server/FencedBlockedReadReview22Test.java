package io.walship.server;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.walship.archive.LeaseKeeper;
import io.walship.archive.LeaseRecord;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ManualLeaseClock;
import io.walship.shipper.repl.ReplicationOptions;
import io.walship.shipper.repl.ReplicationServer;
import io.walship.shipper.repl.SyncOptions;
import io.walship.wal.Durability;
import io.walship.wal.Lsn;
import io.walship.wal.Store;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * review22: fix21 lets a blocked commit give up once the leader's lease lapses (no follower can ack
 * any more), but the read path — {@code LeaderNode.awaitVisible}, AFTER_SYNC visibility — still calls
 * {@code AckTracker.await(lsn, required)} without the give-up. A read of a key whose newest commit was
 * never acknowledged (exactly the commit fix21 answers 503 "committed on this node but not
 * acknowledged") waits for ever on a fenced semi-sync/block leader: it holds its HTTP thread and one
 * of the 48 ack-wait permits; 48 such reads and every write is refused "48 requests already wait"
 * instead of the lease refusal with its Walship-Leader hint.
 */
class FencedBlockedReadReview22Test {
    static final Duration TTL = Duration.ofSeconds(10);
    static final Duration MARGIN = Duration.ofSeconds(1);

    @TempDir
    Path tmp;
    private Store store;
    private ReplicationServer replication;
    private LeaseKeeper keeper;
    private FakeFollower follower;

    @AfterEach
    void stop() throws Exception {
        if (follower != null) {
            follower.close();
        }
        if (replication != null) {
            replication.close();
        }
        if (keeper != null) {
            keeper.close();
        }
        if (store != null) {
            store.close();
        }
    }

    @Test
    void aReadOfAnUnacknowledgedCommitIsAnsweredOnceTheLeaseLapsed() throws Exception {
        ManualLeaseClock clock = new ManualLeaseClock(1_780_000_000_000_000L);
        LocalObjectStore archive = new LocalObjectStore(tmp.resolve("archive"));
        store = Store.open(tmp.resolve("data"));
        keeper = LeaseKeeper.manual(archive, new LeaseRecord.Holder("leader-a", "http://127.0.0.1:1", ""),
                store.timeline(), TTL, MARGIN, clock);
        keeper.tick();
        assertTrue(keeper.refusal() == null, "the leader holds its lease");
        replication = new ReplicationServer(store, new InetSocketAddress("127.0.0.1", 0),
                ReplicationOptions.defaults().withTimeouts(Duration.ofMillis(200), Duration.ofSeconds(30)),
                new SyncOptions(SyncOptions.Mode.SEMI_SYNC, 1, Duration.ofHours(1), SyncOptions.OnTimeout.BLOCK))
                .withGate(keeper::refusal).start();
        LeaderNode node = new LeaderNode(store, null, replication, keeper);
        follower = FakeFollower.connect(replication.address(), store.systemId(), store.timeline(),
                store.durableLsn() + 1, "f1", false);
        io.walship.wal.Poll.until(Duration.ofSeconds(30), () -> replication.sessions().size() == 1,
                () -> "until the follower is connected");

        CommitWait wait = node.commitWait(null, Durability.DURABLE);
        long lsn = node.put("k".getBytes(StandardCharsets.UTF_8), "v".getBytes(StandardCharsets.UTF_8), Durability.DURABLE);
        System.out.println("commit LSN " + Lsn.format(lsn) + " (" + lsn + ")");
        CompletableFuture<String> answer = CompletableFuture.supplyAsync(() -> node.awaitCommit(lsn, wait));
        io.walship.wal.Poll.until(Duration.ofSeconds(30), () -> replication.acks().waiting() == 1,
                () -> "until the commit waits for its ack");

        clock.advance(TTL); // the lease lapses: nothing can acknowledge LSN lsn any more
        assertTrue(keeper.refusal() != null, "the lease refuses now");
        // fix21: the writer gets its 503 (committed here, not acknowledged)
        try {
            answer.get(30, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException expected) {
            System.out.println("writer: " + expected.getCause());
        }

        // a GET of "k": its page LSN is lsn, never acknowledged; HttpApi asks awaitVisible(lsn, lsn)
        CompletableFuture<Long> read = CompletableFuture.supplyAsync(() -> node.awaitVisible(lsn, lsn));
        Throwable outcome = null;
        try {
            read.get(20, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            outcome = e.getCause();
        } catch (java.util.concurrent.TimeoutException e) {
            outcome = e;
        }
        try {
            assertTrue(read.isDone(), "a read of the unacknowledged LSN " + Lsn.format(lsn) + " still waits 20 s after"
                    + " the lease lapsed (" + replication.acks().waiting() + " waiting): it is never answered");
            assertTrue(outcome instanceof io.walship.wal.WalshipException,
                    "the read's answer on a fenced leader should be a 503, not the unacknowledged value: " + outcome);
        } finally {
            replication.acks().close(); // releases the reader in the failing case
        }
    }
}
