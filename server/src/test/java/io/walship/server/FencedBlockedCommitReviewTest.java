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
 * review21: a semi-sync commit waiting for its ack on a leader with {@code --on-sync-timeout block}
 * when the leader's lease lapses. From then on nothing can acknowledge it: the lease gate ends the
 * replication sessions (REFUSE NOT_A_LEADER) and refuses every follower that reconnects, and
 * {@code LeaderNode.awaitCommit}'s fence would refuse it anyway. OPERATIONS ("The leader lease")
 * says such a commit "is answered 503 saying that it is committed on this node but not
 * acknowledged"; instead {@code AckTracker.await} keeps it waiting for ever (block), holding its
 * request thread and one of the 48 ack-wait permits until the process stops — and once 48 such
 * writes wait, every write is refused "48 requests already wait for follower acks" without the
 * Walship-Leader hint the lease refusal carries. Time is a manual lease clock; the test waits (with a
 * deadline) only for the answer that never comes.
 */
class FencedBlockedCommitReviewTest {
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
    void aBlockedCommitIsAnsweredOnceTheLeaseThatCouldAcknowledgeItIsGone() throws Exception {
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
        // a follower that receives but does not ack yet (a slow disk)
        follower = FakeFollower.connect(replication.address(), store.systemId(), store.timeline(),
                store.durableLsn() + 1, "f1", false);
        io.walship.wal.Poll.until(Duration.ofSeconds(30), () -> replication.sessions().size() == 1,
                () -> "until the follower is connected");

        CommitWait wait = node.commitWait(null, Durability.DURABLE);
        long lsn = node.put("k".getBytes(StandardCharsets.UTF_8), "v".getBytes(StandardCharsets.UTF_8), Durability.DURABLE);
        CompletableFuture<String> answer = CompletableFuture.supplyAsync(() -> node.awaitCommit(lsn, wait));
        io.walship.wal.Poll.until(Duration.ofSeconds(30), () -> replication.acks().waiting() == 1,
                () -> "until the commit waits for its ack");

        clock.advance(TTL); // no renewal: the lease no longer lets this node acknowledge anything
        assertTrue(keeper.refusal() != null, "the lease refuses now");
        io.walship.wal.Poll.until(Duration.ofSeconds(30), () -> replication.sessions().isEmpty(),
                () -> "until the lease gate has ended the follower's session");

        // nothing can acknowledge LSN lsn any more: its writer should get its 503 now
        Throwable outcome = null;
        try {
            answer.get(20, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            outcome = e.getCause();
        } catch (java.util.concurrent.TimeoutException e) {
            outcome = e;
        }
        System.out.println("outcome of LSN " + Lsn.format(lsn) + ": " + outcome + "; waiting " + replication.acks().waiting());
        try {
            assertTrue(answer.isDone(), "LSN " + Lsn.format(lsn) + " still waits for an ack 20 s after the lease lapsed"
                    + " and the follower sessions ended (" + replication.acks().waiting() + " waiting, blocked "
                    + replication.acks().status().blocked() + "): its writer is never answered");
            // answered as OPERATIONS says: 503 (a WalshipException), committed here but not acknowledged
            assertTrue(outcome instanceof io.walship.wal.WalshipException
                    && outcome.getMessage().contains("is committed on this node but not acknowledged"),
                    "the blocked commit's answer once the lease lapsed: " + outcome);

            // review22: a GET of "k" (its page LSN is lsn, never acknowledged; HttpApi asks
            // awaitVisible(lsn, lsn)) is answered 503 too, neither the unacknowledged value nor never
            CompletableFuture<Long> read = CompletableFuture.supplyAsync(() -> node.awaitVisible(lsn, lsn));
            Throwable readOutcome = null;
            try {
                read.get(20, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException e) {
                readOutcome = e.getCause();
            } catch (java.util.concurrent.TimeoutException e) {
                readOutcome = e;
            }
            assertTrue(read.isDone(), "a read of the unacknowledged LSN " + Lsn.format(lsn) + " still waits 20 s after"
                    + " the lease lapsed (" + replication.acks().waiting() + " waiting): it is never answered");
            assertTrue(readOutcome instanceof io.walship.wal.WalshipException
                    && readOutcome.getMessage().contains("is not acknowledged by followers"),
                    "the read's answer on a fenced leader should be a 503, not the unacknowledged value: " + readOutcome);
        } finally {
            replication.acks().close(); // releases the writer (503, abandoned) in the failing case
        }
    }
}
