package io.walship.shipper.repl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicLong;

import io.walship.protocol.BadInputException;
import io.walship.shipper.repl.AckTracker.Outcome;
import io.walship.shipper.repl.SyncOptions.Mode;
import io.walship.shipper.repl.SyncOptions.OnTimeout;
import org.junit.jupiter.api.Test;

/** {@link AckTracker} alone: followers are plain objects, time a counter moved by the test. */
class AckTrackerTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(2);
    private final AtomicLong clock = new AtomicLong(1_000_000_000L);
    private final AtomicLong durable = new AtomicLong(100);
    private final Object a = "a";
    private final Object b = "b";
    private final Object c = "c";

    private AckTracker tracker(Mode mode, int quorum, OnTimeout onTimeout) {
        return new AckTracker(new SyncOptions(mode, quorum, TIMEOUT, onTimeout), durable::get, clock::get);
    }

    private void advance(Duration d) {
        clock.addAndGet(d.toNanos());
    }

    @Test
    void semiSyncWaitsForOneFollowersFlushAndNoMore() throws Exception {
        AckTracker t = tracker(Mode.SEMI_SYNC, 1, OnTimeout.BLOCK);
        CompletableFuture<Outcome> f = t.waitFor(50, 1);
        assertFalse(f.isDone());
        assertEquals(1, t.waiting());
        t.flushed(a, "a", 49);
        assertFalse(f.isDone(), "a flush below the LSN acknowledges nothing");
        assertEquals(49, t.visibleLsn());
        t.flushed(a, "a", 50);
        assertEquals(Outcome.ACKED, f.getNow(null));
        assertEquals(0, t.waiting());
        assertEquals(50, t.visibleLsn(), "visible = min(durable 100, acked 50)");
        assertEquals(Outcome.ACKED, t.waitFor(40, 1).getNow(null), "already acknowledged: at once");
        assertEquals(Outcome.NOT_NEEDED, t.waitFor(60, 0).getNow(null), "a per-commit async override waits for nothing");
        assertEquals(List.of(new AckTracker.SyncFollower("a", 50)), t.status().synchronous());
    }

    @Test
    void anyConnectedFollowerTakesOverWhenTheSynchronousOneGoes() {
        AckTracker t = tracker(Mode.SEMI_SYNC, 1, OnTimeout.BLOCK);
        t.flushed(a, "a", 10);
        CompletableFuture<Outcome> f = t.waitFor(20, 1);
        t.gone(a);
        assertFalse(f.isDone());
        t.flushed(b, "b", 15); // b was connected all along, behind
        assertFalse(f.isDone());
        t.flushed(c, "c", 20); // c connected after the commit became durable: counts once it flushed it
        assertEquals(Outcome.ACKED, f.getNow(null));
        assertEquals("c", t.status().synchronous().get(0).name());
    }

    @Test
    void quorumTwoNeedsTwoDifferentFollowersAndWhatTheyConfirmedStays() {
        AckTracker t = tracker(Mode.SYNC, 2, OnTimeout.BLOCK);
        CompletableFuture<Outcome> two = t.waitFor(30, 2);
        CompletableFuture<Outcome> one = t.waitFor(30, 1); // ?sync=semi-sync on a sync leader
        t.flushed(a, "a", 30);
        t.flushed(a, "a", 30);
        assertEquals(Outcome.ACKED, one.getNow(null));
        assertFalse(two.isDone(), "one follower twice is not a quorum of two");
        t.flushed(b, "b", 29);
        assertFalse(two.isDone());
        assertEquals(29, t.ackedLsn(2));
        t.flushed(c, "c", 31);
        assertEquals(Outcome.ACKED, two.getNow(null));
        assertEquals(30, t.ackedLsn(2));
        t.gone(a);
        t.gone(c);
        assertEquals(30, t.ackedLsn(2), "what two followers confirmed stays confirmed");
        assertEquals(Outcome.ACKED, t.waitFor(30, 2).getNow(null));
        assertFalse(t.waitFor(31, 2).isDone(), "b alone is no quorum for 31");
        assertThrows(IllegalArgumentException.class, () -> t.waitFor(1, 3));
    }

    /**
     * review11: a follower reconnecting before the leader noticed its old session died (or opening
     * two sessions) has one disk: its two sessions are one ack, not a quorum of two.
     */
    @Test
    void twoSessionsOfOneFollowerNodeAreNotAQuorumOfTwo() {
        AckTracker t = tracker(Mode.SYNC, 2, OnTimeout.BLOCK);
        Object oldSession = new Object();
        Object newSession = new Object();
        CompletableFuture<Outcome> f = t.waitFor(30, 2);
        t.flushed(oldSession, "f1", 30);
        t.flushed(newSession, "f1", 40);
        assertFalse(f.isDone(), "f1 twice is one follower, not a quorum of two");
        assertEquals(-1, t.ackedLsn(2));
        assertEquals(List.of(new AckTracker.SyncFollower("f1", 40)), t.status().synchronous());
        t.flushed(b, "b", 30);
        assertEquals(Outcome.ACKED, f.getNow(null));
        assertEquals(30, t.ackedLsn(2));
    }

    /**
     * review11: a blocked quorum-2 commit at the head of the deadline queue kept every later wait
     * for one ack ({@code ?sync=semi-sync} on a sync leader) in the queue after it was answered:
     * memory grew with every commit while blocked, and each FEEDBACK walked all of it.
     */
    @Test
    void answeredWaitsBehindABlockedOneDoNotPileUp() {
        AckTracker t = tracker(Mode.SYNC, 2, OnTimeout.BLOCK);
        CompletableFuture<Outcome> blocked = t.waitFor(101, 2);
        advance(TIMEOUT);
        t.tick();
        assertTrue(t.status().blocked());
        for (long lsn = 102; lsn < 10_102; lsn++) {
            CompletableFuture<Outcome> one = t.waitFor(lsn, 1);
            t.flushed(a, "a", lsn);
            assertEquals(Outcome.ACKED, one.getNow(null));
        }
        assertFalse(blocked.isDone());
        assertEquals(1, t.waiting());
        assertTrue(t.queued() <= 2 * t.waiting() + 65, "answered waits kept: " + t.queued());
        assertTrue(t.status().blocked());
        t.flushed(b, "b", 101);
        assertEquals(Outcome.ACKED, blocked.getNow(null));
        assertFalse(t.status().blocked());
    }

    @Test
    void anInterruptedWaitLeavesTheTrackerAndACancelledOneToo() throws Exception {
        AckTracker t = tracker(Mode.SEMI_SYNC, 1, OnTimeout.BLOCK);
        // the injected clock never moves: no deadline passes, so only the interrupt ends these waits
        for (int round = 0; round < 200; round++) {
            long lsn = 200 + round;
            java.util.concurrent.atomic.AtomicReference<Throwable> ended = new java.util.concurrent.atomic.AtomicReference<>();
            Thread waiter = new Thread(() -> {
                try {
                    t.await(lsn, 1);
                    ended.set(new AssertionError("answered without an ack"));
                } catch (Throwable e) {
                    ended.set(e);
                }
            });
            waiter.start();
            io.walship.wal.Poll.until(Duration.ofSeconds(30), () -> t.waiting() == 1, () -> "the wait registered");
            waiter.interrupt();
            waiter.join(30_000);
            assertInstanceOf(InterruptedException.class, ended.get());
            assertEquals(0, t.waiting(), "an interrupted wait is gone (round " + round + ")");
        }
        assertTrue(t.queued() <= 65, "interrupted waits kept in the deadline queue: " + t.queued());
        CompletableFuture<Outcome> given = t.waitFor(500, 1);
        CompletableFuture<Outcome> kept = t.waitFor(500, 1);
        assertEquals(2, t.waiting());
        given.cancel(false);
        assertEquals(1, t.waiting(), "a cancelled wait is gone");
        t.flushed(a, "a", 500);
        assertEquals(Outcome.ACKED, kept.getNow(null), "the other wait for the same LSN is still answered");
        assertEquals(0, t.waiting());
        // a blocked episode whose only waiter is interrupted is over
        CompletableFuture<Outcome> blockedOne = t.waitFor(600, 1);
        advance(TIMEOUT.plusSeconds(1));
        t.tick();
        assertTrue(t.status().blocked());
        blockedOne.cancel(false);
        assertFalse(t.status().blocked(), "nothing waits past its timeout any more");
    }

    @Test
    void degradeAnswersEveryWaiterAfterTheTimeoutAndEndsWhenAFollowerCaughtUp() {
        AckTracker t = tracker(Mode.SEMI_SYNC, 1, OnTimeout.DEGRADE);
        CompletableFuture<Outcome> first = t.waitFor(101, 1);
        advance(Duration.ofMillis(500));
        CompletableFuture<Outcome> second = t.waitFor(102, 1);
        durable.set(102);
        advance(TIMEOUT.minusMillis(501));
        t.tick();
        assertFalse(first.isDone(), "not before the timeout");
        advance(Duration.ofMillis(1));
        t.tick();
        assertEquals(Outcome.DEGRADED, first.getNow(null));
        assertEquals(Outcome.DEGRADED, second.getNow(null), "every waiter goes with the first timeout");
        AckTracker.Status s = t.status();
        assertTrue(s.degraded());
        assertEquals(1, s.degradations());
        assertEquals(102, s.degradedUntilLsn());
        assertEquals(0, s.waiting());
        assertEquals(Outcome.DEGRADED, t.waitFor(103, 1).getNow(null), "degraded: answered at once");
        durable.set(110);
        assertEquals(110, t.visibleLsn(), "degraded: readers see what is durable");
        t.flushed(a, "a", 101);
        assertTrue(t.degraded(), "not yet caught up to LSN 102");
        t.flushed(a, "a", 102);
        assertFalse(t.degraded());
        assertEquals(110, t.visibleLsn(), "readers saw up to 110 while degraded: visibility never goes back");
        durable.set(112);
        assertEquals(110, t.visibleLsn(), "111 and 112 are not acknowledged");
        CompletableFuture<Outcome> again = t.waitFor(110, 1);
        assertFalse(again.isDone(), "commits wait again");
        t.flushed(a, "a", 110);
        assertEquals(Outcome.ACKED, again.getNow(null));
        assertEquals(1, t.status().degradations());
    }

    @Test
    void blockKeepsWaitingSaysSoOnceAndClearsWhenAcksCome() {
        AckTracker t = tracker(Mode.SYNC, 2, OnTimeout.BLOCK);
        CompletableFuture<Outcome> f = t.waitFor(101, 2);
        advance(TIMEOUT);
        t.tick();
        advance(Duration.ofSeconds(3));
        t.tick();
        assertFalse(f.isDone(), "block: still waiting");
        AckTracker.Status s = t.status();
        assertTrue(s.blocked());
        assertEquals(1, s.blocks(), "one episode, counted once");
        assertEquals(3000, s.blockedForMs());
        assertEquals(1, s.waiting());
        assertFalse(s.degraded());
        t.flushed(a, "a", 101);
        assertTrue(t.status().blocked());
        t.flushed(b, "b", 101);
        assertEquals(Outcome.ACKED, f.getNow(null));
        assertFalse(t.status().blocked());
        assertEquals(0, t.status().waiting());
    }

    @Test
    void aBlockedWaitEndsWhenItsCallerGivesUpAndLeavesTheTracker() throws Exception {
        AckTracker t = tracker(Mode.SEMI_SYNC, 1, OnTimeout.BLOCK);
        java.util.concurrent.atomic.AtomicBoolean giveUp = new java.util.concurrent.atomic.AtomicBoolean();
        CompletableFuture<Outcome> answer = CompletableFuture.supplyAsync(() -> {
            try {
                return t.await(101, 1, giveUp::get);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        });
        io.walship.wal.Poll.until(Duration.ofSeconds(30), () -> t.waiting() == 1, () -> "the wait registered");
        advance(TIMEOUT.plusSeconds(1));
        io.walship.wal.Poll.until(Duration.ofSeconds(30), () -> t.status().blocked(), () -> "the wait blocked");
        assertFalse(answer.isDone(), "block: still waiting");
        giveUp.set(true); // e.g. the leader's lease lapsed: no follower can ack any more
        assertNull(answer.get(30, java.util.concurrent.TimeUnit.SECONDS), "given up: null, not an outcome");
        assertEquals(0, t.waiting(), "a given-up wait is gone");
        assertFalse(t.status().blocked(), "nothing waits past its timeout any more");
        // an ack already there wins over giving up: the caller then checks its own fence
        t.flushed(a, "a", 200);
        assertEquals(Outcome.ACKED, t.await(150, 1, () -> true));
    }

    @Test
    void closeFailsEveryWaiterAndLaterWaits() {
        AckTracker t = tracker(Mode.SEMI_SYNC, 1, OnTimeout.BLOCK);
        CompletableFuture<Outcome> f = t.waitFor(7, 1);
        t.close();
        ExecutionException e = assertThrows(ExecutionException.class, f::get);
        assertInstanceOf(AckTracker.AbandonedException.class, e.getCause());
        assertThrows(AckTracker.AbandonedException.class, () -> t.waitFor(8, 1));
    }

    @Test
    void asyncModeWaitsForNothingAndShowsTheDurableLsn() {
        AckTracker t = new AckTracker(SyncOptions.async(), durable::get, clock::get);
        assertEquals(Outcome.NOT_NEEDED, t.waitFor(500, 0).getNow(null));
        assertThrows(IllegalArgumentException.class, () -> t.waitFor(1, 1));
        assertEquals(100, t.visibleLsn());
        assertTrue(t.status().synchronous().isEmpty());
    }

    @Test
    void optionsRejectMeaninglessCombinations() {
        assertThrows(BadInputException.class, () -> new SyncOptions(Mode.SEMI_SYNC, 2, TIMEOUT, OnTimeout.BLOCK));
        assertThrows(BadInputException.class, () -> new SyncOptions(Mode.SYNC, 0, TIMEOUT, OnTimeout.BLOCK));
        assertThrows(BadInputException.class, () -> new SyncOptions(Mode.SYNC, 2, Duration.ZERO, OnTimeout.BLOCK));
        // review11: accepted before, then every commit's deadline overflowed (ArithmeticException: 500s)
        assertThrows(BadInputException.class, () -> new SyncOptions(Mode.SEMI_SYNC, 1, Duration.ofHours(3_000_000),
                OnTimeout.BLOCK));
        SyncOptions longest = new SyncOptions(Mode.SEMI_SYNC, 1, SyncOptions.MAX_TIMEOUT, OnTimeout.BLOCK);
        AckTracker t = new AckTracker(longest, durable::get, () -> Long.MAX_VALUE - 5);
        assertFalse(t.waitFor(101, 1).isDone(), "the longest timeout makes a deadline without overflow errors");
        t.tick();
        assertFalse(t.status().blocked(), "a wrapped deadline is not past");
        assertThrows(BadInputException.class, () -> Mode.parse("--sync-mode", "quorum"));
        assertThrows(BadInputException.class, () -> OnTimeout.parse("wait"));
        assertEquals(OnTimeout.DEGRADE, SyncOptions.defaultOnTimeout(Mode.SEMI_SYNC));
        assertEquals(OnTimeout.BLOCK, SyncOptions.defaultOnTimeout(Mode.SYNC));
    }

    /** Random feedback from 3 followers, in any order: a commit is ACKED only once 2 reported it. */
    @Test
    void randomFeedbackNeverAcknowledgesBeforeAQuorumFlushed() {
        long seed = System.nanoTime();
        System.out.println("AckTrackerTest seed " + seed);
        Random r = new Random(seed);
        AckTracker t = tracker(Mode.SYNC, 2, OnTimeout.BLOCK);
        Object[] fs = {a, b, c};
        long[] flushed = new long[3];
        int n = 300;
        @SuppressWarnings("unchecked")
        CompletableFuture<Outcome>[] waits = new CompletableFuture[n + 1];
        for (int lsn = 1; lsn <= n; lsn++) {
            waits[lsn] = t.waitFor(lsn, 2);
        }
        for (int step = 0; step < 2_000; step++) {
            int i = r.nextInt(3);
            flushed[i] = Math.min(n, flushed[i] + r.nextInt(5));
            if (r.nextInt(50) == 0) {
                t.gone(fs[i]); // reconnects with what it has (a follower keeps what it flushed)
            }
            t.flushed(fs[i], "f" + i, flushed[i]);
            for (int lsn = 1; lsn <= n; lsn++) {
                if (waits[lsn].isDone()) {
                    int holders = 0;
                    for (long f : flushed) {
                        holders += f >= lsn ? 1 : 0;
                    }
                    assertTrue(holders >= 2, "seed " + seed + ": LSN " + lsn + " acked with " + holders + " holder(s)");
                }
            }
        }
    }
}
