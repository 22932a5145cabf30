package io.walship.shipper.repl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;

import io.walship.protocol.repl.Frame;
import io.walship.protocol.repl.FrameCodec;
import io.walship.protocol.repl.RefusalCode;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The slots' lock and a session's lock are taken in both orders: a FEEDBACK holds its session's lock
 * and then takes the slots' ({@code FollowerSession.feedback} → {@code ReplicationSlots.confirm}); a
 * handshake for a slot in use holds the slots' lock and then takes the holder's, to name it in the
 * SLOT_IN_USE refusal ({@code ReplicationSlots.acquire} → {@code "" + s.holder} →
 * {@code FollowerSession.toString} → the synchronized {@code nodeId()}). A second follower configured
 * with the slot of one that streams (or one reconnecting before its old session timed out) then
 * deadlocks both receivers; the holder's session can never end (the watchdog's close blocks on its
 * lock too, and its next tick on the slots' lock), so its acks go on counting as those of a live
 * follower, every later handshake with a slot hangs, and the leader's close() hangs.
 *
 * <p>The test makes the two threads meet deterministically: it holds the slots' lock until the
 * holder's receiver (in a FEEDBACK) and the intruder's receiver (in its handshake) both wait for it,
 * then lets go. Whichever goes first, both must finish.
 */
class SlotLockOrderTest {
    private static final int CYCLES = 10;
    private static final Duration DEADLINE = Duration.ofSeconds(20);

    @TempDir
    Path tmp;

    @Test
    void aFollowerRefusedABusySlotNeverDeadlocksTheHoldersFeedback() throws Exception {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        Store store = Store.open(tmp.resolve("leader"));
        long lsn = store.put("k".getBytes(StandardCharsets.UTF_8), new byte[10]);
        ReplicationServer server = new ReplicationServer(store, new InetSocketAddress("127.0.0.1", 0),
                ReplicationOptions.defaults()).start();
        String deadlock = null;
        try (TestFollower holder = TestFollower.connect(server.address())) {
            assertInstanceOf(Frame.Welcome.class,
                    holder.handshake(TestFollower.hello(store.systemId(), store.timeline(), 1, "s1", "", "holder")));
            holder.receiveThrough(lsn);
            for (int cycle = 0; cycle < CYCLES && deadlock == null; cycle++) {
                try (TestFollower intruder = TestFollower.connect(server.address())) {
                    synchronized (server.slots()) {
                        holder.feedback(lsn); // its receiver: its session's lock, then the slots'
                        awaitReceiversWaitingForSlots(mx, 1);
                        intruder.conn.write(TestFollower.hello(store.systemId(), store.timeline(), 1, "s1", "",
                                "intruder")); // its receiver: the slots' lock, then the holder's
                        awaitReceiversWaitingForSlots(mx, 2);
                    }
                    CompletableFuture<Frame> answer = CompletableFuture.supplyAsync(() -> {
                        try {
                            return intruder.conn.read(FrameCodec.MAX_FOLLOWER_FRAME_LENGTH);
                        } catch (java.io.IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                    });
                    long deadline = System.nanoTime() + DEADLINE.toNanos();
                    while (!answer.isDone()) {
                        long[] stuck = mx.findMonitorDeadlockedThreads();
                        if (stuck != null) {
                            deadlock = "cycle " + cycle + ": " + describe(mx, stuck);
                            break;
                        }
                        if (System.nanoTime() > deadline) {
                            fail("the second follower got no answer within " + DEADLINE + " (cycle " + cycle + ")");
                        }
                        Thread.onSpinWait();
                    }
                    if (deadlock == null) {
                        Frame f = answer.get();
                        assertInstanceOf(Frame.Refuse.class, f);
                        assertEquals(RefusalCode.SLOT_IN_USE, ((Frame.Refuse) f).code());
                    }
                }
            }
        } finally {
            if (deadlock == null) { // else close() would hang on the deadlocked session's lock
                server.close();
                store.close();
            }
        }
        if (deadlock != null) {
            fail("a FEEDBACK of the slot's holder and the handshake of a second follower on its slot deadlocked: "
                    + deadlock);
        }
    }

    /** Polls until {@code n} session receivers wait for the slots' lock (held by this thread). */
    private static void awaitReceiversWaitingForSlots(ThreadMXBean mx, int n) {
        long me = Thread.currentThread().getId();
        long deadline = System.nanoTime() + DEADLINE.toNanos();
        while (true) {
            long waiting = Arrays.stream(mx.getThreadInfo(mx.getAllThreadIds()))
                    .filter(i -> i != null && i.getThreadName().startsWith("walship-repl-recv-")
                            && i.getThreadState() == Thread.State.BLOCKED && i.getLockOwnerId() == me
                            && i.getLockName() != null && i.getLockName().startsWith(ReplicationSlots.class.getName()))
                    .count();
            if (waiting >= n) {
                return;
            }
            if (System.nanoTime() > deadline) {
                fail(n + " receivers did not come to wait for the slots' lock within " + DEADLINE + " (" + waiting + ")");
            }
            Thread.onSpinWait();
        }
    }

    private static String describe(ThreadMXBean mx, long[] ids) {
        StringBuilder b = new StringBuilder();
        for (ThreadInfo i : mx.getThreadInfo(ids, true, false)) {
            b.append(i.getThreadName()).append(" waits for ").append(i.getLockName()).append(" held by ")
                    .append(i.getLockOwnerName()).append("; ");
        }
        return b.toString();
    }
}
