package io.walship.shipper.repl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

import io.walship.protocol.AuthToken;
import io.walship.protocol.repl.Frame;
import io.walship.protocol.repl.FrameCodec;
import io.walship.protocol.repl.RefusalCode;
import io.walship.wal.Durability;
import io.walship.wal.Store;
import io.walship.wal.StoreOptions;
import io.walship.wal.TestStores;
import io.walship.wal.WalEntry;
import io.walship.wal.WalReader;
import net.openhft.chronicle.core.time.SetTimeProvider;
import net.openhft.chronicle.queue.rollcycles.TestRollCycles;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The leader's replication endpoint on real sockets (127.0.0.1, port 0), with {@link TestFollower}. */
class ReplicationServerTest {
    @TempDir
    Path tmp;

    private Store store;
    private ReplicationServer server;
    private final List<AutoCloseable> toClose = new ArrayList<>();
    private int written;

    @AfterEach
    void tearDown() throws Exception {
        for (AutoCloseable c : toClose) {
            c.close();
        }
        if (server != null) {
            server.close();
        }
        if (store != null) {
            store.close();
        }
    }

    private Store open() {
        store = Store.open(tmp.resolve("leader"));
        return store;
    }

    /** A store whose WAL rolls to a new file when {@code clock} moves 1 s, and whose retention ignores the archive. */
    private Store openRolling(SetTimeProvider clock) {
        store = TestStores.open(tmp.resolve("leader"), StoreOptions.defaults().withRollCycle(TestRollCycles.TEST_SECONDLY)
                .withRetentionNeedsArchive(false), clock);
        return store;
    }

    private ReplicationServer start(ReplicationOptions o) throws IOException {
        server = new ReplicationServer(store, new InetSocketAddress("127.0.0.1", 0), o).start();
        return server;
    }

    private TestFollower follower() throws IOException {
        TestFollower f = TestFollower.connect(server.address());
        toClose.add(f);
        return f;
    }

    private Frame.Hello hello(long startLsn) {
        return TestFollower.hello(store.systemId(), store.timeline(), startLsn, "", "", "f1");
    }

    private long write(int n, int valueBytes) {
        long lsn = 0;
        for (int i = 0; i < n; i++) {
            lsn = store.put(("key-" + written++).getBytes(StandardCharsets.UTF_8), new byte[valueBytes]);
        }
        return lsn;
    }

    /** Polls {@code condition} until it holds, for up to 20 s (also ReplicationThreadsTest's). */
    static void await(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.onSpinWait();
            Thread.yield();
        }
    }

    private void assertRefused(Frame.Hello h, RefusalCode code) throws IOException {
        try (TestFollower f = TestFollower.connect(server.address())) {
            Frame answer = f.handshake(h);
            Frame.Refuse r = assertInstanceOf(Frame.Refuse.class, answer, "expected " + code);
            assertEquals(code, r.code(), r.message());
            assertFalse(r.message().isBlank());
            assertTrue(f.readUntilClosed().isEmpty(), "nothing after a REFUSE but the close");
        }
    }

    // ---- streaming ----------------------------------------------------------------------------------

    @Test
    void streamsExactlyTheDurableEntriesInOrderFromTheStartLsn() throws Exception {
        open();
        long before = write(300, 40);
        start(ReplicationOptions.defaults().withTimeouts(Duration.ofMillis(200), Duration.ofSeconds(10))
                .withMaxFrameBytes(8192));
        TestFollower f = follower();
        f.leaderDurable = store::durableLsn;
        Frame.Welcome w = assertInstanceOf(Frame.Welcome.class, f.handshake(hello(100)));
        assertEquals(store.systemId(), w.systemId());
        assertEquals(store.timeline(), w.leaderTimeline());
        assertEquals(store.durableLsn(), w.leaderDurableLsn());
        f.receiveThrough(before);
        // byte for byte what the leader's WAL holds
        try (WalReader r = store.walReader().headersOnly()) {
            r.seek(100);
            for (int i = 0; i < f.receivedBytes.size(); i++) {
                WalEntry e = r.next();
                assertEquals(100 + i, e.lsn());
                assertArrayEquals(r.lastEntryBytes(), f.receivedBytes.get(i), "LSN " + e.lsn());
            }
        }
        // commits while streaming, durable and async mixed: the follower gets each once it is durable
        AtomicReference<Throwable> failed = new AtomicReference<>();
        Thread writer = new Thread(() -> {
            try {
                for (int i = 0; i < 500; i++) {
                    store.put(("live-" + i).getBytes(StandardCharsets.UTF_8), new byte[i % 300],
                            i % 3 == 0 ? Durability.ASYNC : Durability.DURABLE);
                }
            } catch (Throwable t) {
                failed.set(t);
            }
        });
        writer.start();
        writer.join();
        assertEquals(null, failed.get());
        long last = store.lastLsn();
        assertTrue(store.awaitDurable(last, Duration.ofSeconds(10)));
        f.receiveThrough(last);
        assertEquals(last - 100 + 1, f.received.size());
        // and nothing more: the next frame is a keepalive, no WAL
        Frame next = f.step();
        assertInstanceOf(Frame.Keepalive.class, next);
        assertEquals(last, ((Frame.Keepalive) next).leaderDurableLsn());
        // the keepalive was answered with FEEDBACK: /status shows the follower's positions
        await("the feedback is in", () -> server.sessions().size() == 1
                && server.sessions().get(0).flushLsn() == last);
        ReplicationServer.SessionInfo s = server.sessions().get(0);
        assertEquals("f1", s.nodeId());
        assertEquals("streaming", s.state());
        assertEquals(last, s.sentLsn());
        assertEquals(last, s.writeLsn());
        assertEquals(last, s.replayLsn());
        assertTrue(s.writeLagMs() >= 0 && s.flushLagMs() >= 0 && s.replayLagMs() >= 0, s.toString());
        assertTrue(s.remote().startsWith("127.0.0.1:"), s.remote());
    }

    @Test
    void aNewCommitWakesTheSenderAtOnceWithoutWaitingForAKeepalive() throws Exception {
        open();
        write(5, 10);
        // a 30 s keepalive: a sender that only looked at the WAL when it sends a keepalive would be 30 s late
        start(ReplicationOptions.defaults().withTimeouts(Duration.ofSeconds(30), Duration.ofSeconds(60)));
        TestFollower f = follower();
        assertInstanceOf(Frame.Welcome.class, f.handshake(hello(store.durableLsn() + 1)));
        long[] micros = new long[200];
        for (int i = 0; i < micros.length; i++) {
            long t0 = System.nanoTime();
            long lsn = write(1, 20);
            f.receiveThrough(lsn);
            micros[i] = (System.nanoTime() - t0) / 1000;
        }
        Arrays.sort(micros);
        long p50 = micros[micros.length / 2];
        long p99 = micros[micros.length * 99 / 100];
        System.out.printf("commit-to-follower latency on loopback (durable commit + send): p50 %d us, p99 %d us,"
                + " max %d us%n", p50, p99, micros[micros.length - 1]);
        assertEquals(0, f.keepalives);
        assertTrue(p99 < 500_000, "p99 " + p99 + " us: the sender is not woken by commits");
    }

    @Test
    void aFollowerKeepsUpWithALeaderWritingAtFullSpeed() throws Exception {
        open();
        start(ReplicationOptions.defaults());
        TestFollower f = follower();
        f.leaderDurable = store::durableLsn;
        assertInstanceOf(Frame.Welcome.class, f.handshake(hello(1)));
        f.inBackground();
        int n = 20_000;
        long t0 = System.nanoTime();
        Thread[] writers = new Thread[4];
        for (int w = 0; w < writers.length; w++) {
            int id = w;
            writers[w] = new Thread(() -> {
                for (int i = 0; i < n / writers.length; i++) {
                    store.put(("w" + id + "-" + i).getBytes(StandardCharsets.UTF_8), new byte[100]);
                }
            });
            writers[w].start();
        }
        for (Thread w : writers) {
            w.join();
        }
        long writeNanos = System.nanoTime() - t0;
        long last = store.lastLsn();
        f.awaitReceived(last);
        long allNanos = System.nanoTime() - t0;
        long bytes = f.receivedBytes.stream().mapToLong(b -> b.length).sum();
        System.out.printf("streaming: %d durable commits from 4 writers in %.2f s (%.0f commits/s); the follower had"
                + " all of them %.1f ms after the last commit returned; %.1f MiB of WAL%n", n, writeNanos / 1e9,
                n / (writeNanos / 1e9), (allNanos - writeNanos) / 1e6, bytes / 1048576.0);
        assertEquals(last, f.received.size());
    }

    // ---- refusals ---------------------------------------------------------------------------------

    @Test
    void refusesWithADistinctCodeForEachHandshakeProblem() throws Exception {
        open();
        long durable = write(10, 10);
        start(ReplicationOptions.defaults());
        long sid = store.systemId();
        int tl = store.timeline();
        assertRefused(TestFollower.hello(sid + 1, tl, 1, "", "", "x"), RefusalCode.SYSTEM_ID_MISMATCH);
        assertRefused(TestFollower.hello(sid, tl + 1, 1, "", "", "x"), RefusalCode.UNKNOWN_TIMELINE);
        assertRefused(TestFollower.hello(sid, tl, durable + 2, "", "", "x"), RefusalCode.FOLLOWER_AHEAD);
        assertRefused(new Frame.Hello(2, sid, tl, 1, "", "", "x"), RefusalCode.UNSUPPORTED_VERSION);
        assertRefused(TestFollower.hello(sid, tl, 1, "bad/slot", "", "x"), RefusalCode.SLOT_LOST);
        // the boundary: a follower that has everything asks for durable + 1 and is welcome
        try (TestFollower f = TestFollower.connect(server.address())) {
            assertInstanceOf(Frame.Welcome.class, f.handshake(TestFollower.hello(sid, tl, durable + 1, "", "", "x")));
        }
        await("all sessions ended", () -> server.sessions().isEmpty());
    }

    @Test
    void aTokenIsRequiredBeforeAnythingElseIsChecked() throws Exception {
        open();
        write(3, 10);
        start(ReplicationOptions.defaults().withAuthToken(AuthToken.of("s3cret\n")));
        long sid = store.systemId();
        int tl = store.timeline();
        assertRefused(TestFollower.hello(sid, tl, 1, "", "", "x"), RefusalCode.AUTH_FAILED);
        assertRefused(TestFollower.hello(sid, tl, 1, "", "s3cre", "x"), RefusalCode.AUTH_FAILED);
        assertRefused(TestFollower.hello(sid, tl, 1, "", "s3cret ", "x"), RefusalCode.AUTH_FAILED);
        // a stranger learns nothing about the store: a wrong token hides the system id mismatch
        assertRefused(TestFollower.hello(sid + 1, tl, 1, "", "wrong", "x"), RefusalCode.AUTH_FAILED);
        TestFollower f = follower();
        assertInstanceOf(Frame.Welcome.class, f.handshake(TestFollower.hello(sid, tl, 1, "", "s3cret", "x")));
        f.receiveThrough(store.durableLsn());
    }

    @Test
    void oneConnectionPerSlot() throws Exception {
        open();
        write(3, 10);
        start(ReplicationOptions.defaults());
        TestFollower first = follower();
        Frame.Hello onSlot = TestFollower.hello(store.systemId(), store.timeline(), 1, "replica_1", "", "a");
        assertInstanceOf(Frame.Welcome.class, first.handshake(onSlot));
        assertRefused(onSlot, RefusalCode.SLOT_IN_USE);
        first.close();
        await("the slot is free again", () -> server.slotList().size() == 1 && !server.slotList().get(0).active());
        TestFollower again = follower();
        assertInstanceOf(Frame.Welcome.class, again.handshake(onSlot));
    }

    @Test
    void walThatWasRecycledIsNotAvailableAndTheFollowerIsToldWhereTheWalStarts() throws Exception {
        SetTimeProvider clock = new SetTimeProvider(Instant.parse("2026-12-01T10:00:00Z"));
        openRolling(clock);
        for (int c = 0; c < 4; c++) {
            write(20, 50);
            clock.advanceMillis(1_100);
        }
        write(5, 50);
        store.checkpoint();
        long first;
        try (WalReader r = store.walReader()) {
            first = r.firstAvailableLsn();
        }
        assertTrue(first > 2, "the checkpoint recycled the first WAL files (first LSN now " + first + ")");
        start(ReplicationOptions.defaults());
        try (TestFollower f = TestFollower.connect(server.address())) {
            Frame.Refuse r = assertInstanceOf(Frame.Refuse.class, f.handshake(hello(2)));
            assertEquals(RefusalCode.WAL_NOT_AVAILABLE, r.code());
            assertTrue(r.message().contains(io.walship.wal.Lsn.format(first)), r.message());
        }
        assertRefused(hello(first - 1), RefusalCode.WAL_NOT_AVAILABLE);
        // a slot asked for at WAL that is gone is not left behind (it would hold back every later deletion)
        assertRefused(TestFollower.hello(store.systemId(), store.timeline(), 2, "late", "", "f1"),
                RefusalCode.WAL_NOT_AVAILABLE);
        assertTrue(server.slotList().isEmpty(), server.slotList().toString());
        assertTrue(store.marks().consumers().isEmpty(), store.marks().consumers().toString());
        TestFollower ok = follower();
        assertInstanceOf(Frame.Welcome.class, ok.handshake(hello(first)));
        ok.receiveThrough(store.durableLsn());
    }

    /**
     * An old leader that finds a newer timeline (superseded) refuses writes and ships nothing, but its
     * replication port served its WAL to any follower of the old timeline: entries past the new
     * timeline's fork (commits it made as its lease lapsed, or async ones) put that follower past the
     * fork, refused by the new leader for good (FOLLOWER_AHEAD). With a gate it refuses NOT_A_LEADER.
     */
    @Test
    void aNodeWhoseGateSaysItDoesNotLeadRefusesNewFollowersNotALeader() throws Exception {
        open();
        write(3, 10);
        java.util.concurrent.atomic.AtomicReference<String> refusal = new java.util.concurrent.atomic.AtomicReference<>(
                "the archive holds timeline 2, newer than this node's 1");
        server = new ReplicationServer(store, new InetSocketAddress("127.0.0.1", 0), ReplicationOptions.defaults())
                .withGate(refusal::get).start();
        try (TestFollower f = TestFollower.connect(server.address())) {
            Frame.Refuse r = assertInstanceOf(Frame.Refuse.class, f.handshake(hello(1)));
            assertEquals(RefusalCode.NOT_A_LEADER, r.code());
            assertTrue(r.message().contains("timeline 2"), r.message());
        }
        refusal.set(null);
        assertInstanceOf(Frame.Welcome.class, follower().handshake(hello(1)));
    }

    /** A store with {@code entries} entries, a server gated by {@code refusal}, a follower that received them all. */
    private TestFollower gatedSession(int entries, Duration keepalive, Duration timeout, AtomicReference<String> refusal)
            throws IOException {
        open();
        long lsn = write(entries, 10);
        server = new ReplicationServer(store, new InetSocketAddress("127.0.0.1", 0),
                ReplicationOptions.defaults().withTimeouts(keepalive, timeout)).withGate(refusal::get).start();
        TestFollower f = follower();
        assertInstanceOf(Frame.Welcome.class, f.handshake(hello(1)));
        f.receiveThrough(lsn);
        return f;
    }

    /**
     * A leader paused past its lease (or cut off from the archive) wakes FENCED while another node may
     * lead: a session it had open must not go on. Its KEEPALIVEs would keep an automatic-failover
     * follower FOLLOWING (no election, or back from a new leader), and WAL committed as the lease
     * lapsed is past the new leader's fork. The open session ends with REFUSE NOT_A_LEADER, and no
     * entry appended after the gate closed reaches the follower.
     */
    @Test
    void anOpenSessionEndsNotALeaderWhenTheGateClosesAndSendsNoWalAppendedAfter() throws Exception {
        AtomicReference<String> refusal = new AtomicReference<>();
        TestFollower f = gatedSession(3, Duration.ofMillis(50), Duration.ofSeconds(10), refusal);
        long before = store.lastLsn();
        int keepalives = f.keepalives;
        while (f.keepalives < keepalives + 2) {
            f.step(); // the session is healthy: KEEPALIVEs come and are answered
        }
        refusal.set("the leader lease could not be renewed before its expiry (fenced)");
        long after = write(5, 10);
        assertTrue(store.awaitDurable(after, Duration.ofSeconds(10)));
        List<Frame> frames = f.readUntilClosed();
        assertFalse(frames.isEmpty(), "the session ends with a REFUSE, not a bare close");
        Frame.Refuse r = assertInstanceOf(Frame.Refuse.class, frames.get(frames.size() - 1), frames.toString());
        assertEquals(RefusalCode.NOT_A_LEADER, r.code());
        assertTrue(r.message().contains("fenced"), r.message());
        assertTrue(frames.stream().noneMatch(x -> x instanceof Frame.Wal), "no WAL after the gate closed: " + frames);
        assertEquals(before + 1, f.expected, "nothing past LSN " + before + " reached the follower");
        await("the session is gone", () -> server.sessions().isEmpty());
        try (TestFollower again = TestFollower.connect(server.address())) {
            assertEquals(RefusalCode.NOT_A_LEADER, assertInstanceOf(Frame.Refuse.class, again.handshake(hello(1))).code());
        }
    }

    /**
     * An idle session with a long keepalive interval ends as soon as the gate closes (the watchdog
     * wakes its sender), not at its next KEEPALIVE, and sends no KEEPALIVE first.
     */
    @Test
    void anIdleSessionEndsPromptlyWhenTheGateCloses() throws Exception {
        AtomicReference<String> refusal = new AtomicReference<>();
        TestFollower f = gatedSession(2, Duration.ofSeconds(60), Duration.ofSeconds(120), refusal);
        await("the sender is idle", () -> server.sessions().size() == 1
                && "streaming".equals(server.sessions().get(0).state()));
        refusal.set("a newer timeline 2 exists (superseded)");
        // fails after TestFollower.READ_TIMEOUT (20 s, well before the 60 s keepalive) if nothing comes
        List<Frame> frames = f.readUntilClosed();
        assertEquals(1, frames.size(), frames.toString());
        Frame.Refuse r = assertInstanceOf(Frame.Refuse.class, frames.get(0));
        assertEquals(RefusalCode.NOT_A_LEADER, r.code());
        assertTrue(r.message().contains("superseded"), r.message());
    }

    @Test
    void beyondTheSessionLimitAConnectionIsRefusedAndTheOthersGoOn() throws Exception {
        open();
        write(3, 10);
        start(ReplicationOptions.defaults().withMaxSessions(2));
        TestFollower a = follower();
        TestFollower b = follower();
        assertInstanceOf(Frame.Welcome.class, a.handshake(hello(1)));
        assertInstanceOf(Frame.Welcome.class, b.handshake(hello(1)));
        assertRefused(hello(1), RefusalCode.NOT_A_LEADER);
        assertEquals(1, server.refusedOverLimit());
        long lsn = write(1, 10);
        a.receiveThrough(lsn);
        b.receiveThrough(lsn);
        b.close();
        await("a place is free", () -> server.sessions().size() == 1);
        TestFollower c = follower();
        assertInstanceOf(Frame.Welcome.class, c.handshake(hello(1)));
    }

    // ---- slots --------------------------------------------------------------------------------------

    @Test
    void aSlotHoldsWalAcrossCheckpointsAndRestartsUntilItIsLostThenTheWalIsReleased() throws Exception {
        SetTimeProvider clock = new SetTimeProvider(Instant.parse("2026-12-01T10:00:00Z"));
        openRolling(clock);
        long lsn = write(20, 50);
        ReplicationOptions opts = ReplicationOptions.defaults().withMaxSlotWalKeep(256 << 10)
                .withTimeouts(Duration.ofMillis(100), Duration.ofSeconds(10));
        start(opts);
        Frame.Hello onSlot = TestFollower.hello(store.systemId(), store.timeline(), 1, "s1", "", "f1");
        try (TestFollower f = TestFollower.connect(server.address())) {
            assertInstanceOf(Frame.Welcome.class, f.handshake(onSlot));
            f.receiveThrough(lsn);
            f.feedback(10); // the follower has flushed up to LSN 10 only
            await("the slot is at LSN 10", () -> server.slotList().get(0).restartLsn() == 10);
        }
        await("the session ended", () -> server.sessions().isEmpty());
        assertEquals(Long.valueOf(10), store.marks().consumers().get("slot.s1"), "persisted as a retention mark");
        for (int c = 0; c < 4; c++) {
            clock.advanceMillis(1_100);
            write(20, 50);
        }
        store.checkpoint();
        assertTrue(firstWalLsn() <= 11, "the slot keeps LSN 11 on: first is " + firstWalLsn());

        // a restart of leader and server: the slot is still there, still holding the WAL
        server.close();
        store.close();
        openRolling(clock);
        start(opts);
        ReplicationServer.SlotInfo s = server.slotList().get(0);
        assertEquals("s1", s.name());
        assertEquals(10, s.restartLsn());
        assertFalse(s.lost());
        assertTrue(s.retainedBytes() > 80 * 50, "retained " + s.retainedBytes());
        store.checkpoint();
        assertTrue(firstWalLsn() <= 11);

        // past --max-slot-wal-keep the slot is lost, loudly, and the WAL goes at the next checkpoint
        for (int c = 0; c < 4; c++) {
            clock.advanceMillis(1_100);
            write(100, 1000);
        }
        await("the slot is lost", () -> server.slotList().get(0).lost());
        assertEquals(1, server.slotsLostTotal());
        assertFalse(store.marks().consumers().containsKey("slot.s1"), "its retention mark is gone");
        Path lostFile = store.dir().resolve("slots").resolve("s1.lost");
        assertTrue(Files.readString(lostFile).contains("max-slot-wal-keep"), Files.readString(lostFile));
        store.checkpoint();
        long first = firstWalLsn();
        assertTrue(first > 11, "the WAL the slot held is released: first LSN " + first);
        assertRefused(onSlot, RefusalCode.SLOT_LOST);
        assertRefused(hello(11), RefusalCode.WAL_NOT_AVAILABLE);
        // the operator recreates it by deleting the lost file
        Files.delete(lostFile);
        TestFollower again = follower();
        assertInstanceOf(Frame.Welcome.class, again.handshake(TestFollower.hello(store.systemId(), store.timeline(),
                first, "s1", "", "f1")));
        await("the slot is back", () -> !server.slotList().get(0).lost() && server.slotList().get(0).active());
        assertEquals(Long.valueOf(first - 1), store.marks().consumers().get("slot.s1"));
        // retiring it: stop the follower, delete the mark; the leader forgets the slot
        again.close();
        await("the slot is free", () -> !server.slotList().get(0).active());
        store.marks().removeConsumer("slot.s1");
        await("the slot is forgotten", () -> server.slotList().isEmpty());
        assertTrue(store.marks().consumers().isEmpty());
    }

    private long firstWalLsn() {
        try (WalReader r = store.walReader()) {
            return r.firstAvailableLsn();
        }
    }

    // ---- keepalives and timeouts ------------------------------------------------------------------

    @Test
    void keepalivesKeepAnAnsweringFollowerAndASilentOneIsDropped() throws Exception {
        open();
        write(3, 10);
        // a timeout a loaded 2-core machine's answering follower meets (600 ms failed once at load 17)
        start(ReplicationOptions.defaults().withTimeouts(Duration.ofMillis(100), Duration.ofMillis(1500)));
        TestFollower alive = follower();
        assertInstanceOf(Frame.Welcome.class, alive.handshake(hello(1)));
        alive.inBackground();
        TestFollower silent = follower();
        silent.answerKeepalives = false;
        assertInstanceOf(Frame.Welcome.class, silent.handshake(hello(1)));
        TestFollower mute = follower(); // never even sends its HELLO
        List<Frame> beforeClose = silent.readUntilClosed();
        assertTrue(beforeClose.stream().anyMatch(f -> f instanceof Frame.Keepalive), "it was asked to answer");
        assertTrue(mute.readUntilClosed().isEmpty());
        // the answering one outlives several timeouts (40 keepalives 100 ms apart: about 2.7 of them)
        alive.awaitKeepalives(40);
        await("only the answering follower is left", () -> server.sessions().size() == 1);
        assertEquals("f1", server.sessions().get(0).nodeId());
        long lsn = write(1, 10);
        alive.awaitReceived(lsn);
    }

    @Test
    void aBusyFollowerThatAnswersOnlyWhenAskedIsAskedInTimeAndKept() throws Exception {
        open();
        // timeouts generous enough for a loaded 2-core machine to answer in (the leader asks at half of it)
        start(ReplicationOptions.defaults().withTimeouts(Duration.ofMillis(250), Duration.ofMillis(1500)));
        TestFollower f = follower(); // sends FEEDBACK only in answer to a KEEPALIVE that asks for one
        assertInstanceOf(Frame.Welcome.class, f.handshake(hello(1)));
        f.inBackground();
        // a stream without pauses for almost 3 timeouts: the leader is never idle, yet must ask for replies
        long until = System.nanoTime() + Duration.ofMillis(4200).toNanos();
        long lsn = 0;
        while (System.nanoTime() < until) {
            lsn = store.put(("busy-" + written++).getBytes(StandardCharsets.UTF_8), new byte[50], Durability.ASYNC);
        }
        assertTrue(store.awaitDurable(lsn, Duration.ofSeconds(10)));
        f.awaitReceived(lsn);
        assertTrue(f.keepalives >= 2, "asked " + f.keepalives + " times");
        assertEquals(1, server.sessions().size(), "never timed out");
    }

    @Test
    void aFollowerThatStopsReadingIsDroppedEvenIfItKeepsSendingFeedback() throws Exception {
        open();
        write(3, 10);
        start(ReplicationOptions.defaults().withTimeouts(Duration.ofMillis(200), Duration.ofSeconds(1)));
        TestFollower stuck = follower();
        assertInstanceOf(Frame.Welcome.class, stuck.handshake(hello(1)));
        // it talks (FEEDBACK for what it had before) but never reads: the sender blocks once the socket buffers fill
        Thread talker = new Thread(() -> {
            try {
                while (!stuck.conn.isClosed()) {
                    stuck.conn.write(new Frame.Feedback(0, 0, 0, 0, 0));
                    java.util.concurrent.locks.LockSupport.parkNanos(50_000_000L);
                }
            } catch (IOException e) {
                // the leader hung up, as it should
            }
        });
        talker.setDaemon(true);
        talker.start();
        for (int i = 0; i < 24 && !server.sessions().isEmpty(); i++) {
            io.walship.wal.WriteBatch b = new io.walship.wal.WriteBatch();
            for (int k = 0; k < 1000; k++) {
                b.put(("big-" + i + "-" + k).getBytes(StandardCharsets.UTF_8), new byte[1000]);
            }
            store.write(b);
        }
        await("the stuck follower is dropped", () -> server.sessions().isEmpty());
        stuck.close();
        talker.join(10_000);
    }

    // ---- hostile clients --------------------------------------------------------------------------

    @Test
    void hostileClientsLoseOnlyTheirOwnConnection() throws Exception {
        open();
        write(10, 10);
        start(ReplicationOptions.defaults().withTimeouts(Duration.ofMillis(200), Duration.ofSeconds(2)));
        TestFollower good = follower();
        assertInstanceOf(Frame.Welcome.class, good.handshake(hello(1)));
        good.inBackground();
        long seed = System.nanoTime();
        System.out.println("hostile-client garbage seed: " + seed);
        Random rnd = new Random(seed);

        // a length of 4 GiB - 1: refused before anything is allocated
        assertClosedAfter(ByteBuffer.allocate(9).putInt(0xFFFFFFFF).put((byte) 1).putInt(7).array());
        // just over the limit
        assertClosedAfter(ByteBuffer.allocate(5).putInt(FrameCodec.MAX_FRAME_LENGTH + 1).put((byte) 1).array());
        // garbage
        for (int i = 0; i < 20; i++) {
            byte[] junk = new byte[1 + rnd.nextInt(2000)];
            rnd.nextBytes(junk);
            assertClosedAfter(junk);
        }
        // a frame that is not a HELLO first
        assertClosedAfter(FrameCodec.encode(new Frame.Feedback(1, 1, 1, 1, 1)));
        // a partial frame, then nothing: dropped by the timeout
        assertClosedAfter(Arrays.copyOf(FrameCodec.encode(hello(1)), 10));
        // a HELLO, then a frame only a leader sends
        try (TestFollower f = TestFollower.connect(server.address())) {
            assertInstanceOf(Frame.Welcome.class, f.handshake(hello(1)));
            f.conn.write(new Frame.Keepalive(1, 1, true));
            f.readUntilClosed();
        }
        // a FEEDBACK that claims WAL the leader never sent (it would move a slot past the follower's WAL)
        try (TestFollower f = TestFollower.connect(server.address())) {
            assertInstanceOf(Frame.Welcome.class, f.handshake(TestFollower.hello(store.systemId(), store.timeline(),
                    1, "liar", "", "x")));
            f.receiveThrough(10);
            f.feedback(1_000_000);
            f.readUntilClosed();
            await("the liar's slot is free", () -> !server.slotList().get(0).active());
            assertTrue(server.slotList().get(0).restartLsn() <= 10, server.slotList().toString());
        }
        // the good follower never noticed
        long lsn = write(50, 100);
        good.awaitReceived(lsn);
        await("only the good follower is left", () -> server.sessions().size() == 1);
        assertEquals("f1", server.sessions().get(0).nodeId());
    }

    /**
     * A follower sends only HELLO (at most a few hundred KiB: three strings) and FEEDBACK (41 bytes):
     * a length field of 16 MiB from a peer that has not even authenticated must close the connection
     * at once, not make the leader allocate 16 MiB and wait (up to --repl-timeout) for the body —
     * with --repl-max-followers such peers would otherwise pin 16 MiB each.
     */
    @Test
    void aFollowerFrameLongerThanAnyHelloIsRefusedBeforeItsBodyArrives() throws Exception {
        open();
        write(3, 10);
        // a long --repl-timeout: only the length check, not the timeout, may end these connections
        start(ReplicationOptions.defaults().withAuthToken(AuthToken.of("s3cret"))
                .withTimeouts(Duration.ofSeconds(1), Duration.ofSeconds(120)));
        int big = FrameCodec.MAX_FRAME_LENGTH; // allowed for a leader's WAL frame, never for a follower's
        assertClosedAfter(ByteBuffer.allocate(5).putInt(big).put((byte) Frame.Hello.TYPE).array());
        assertClosedAfter(ByteBuffer.allocate(5).putInt(FrameCodec.MAX_FOLLOWER_FRAME_LENGTH + 1)
                .put((byte) Frame.Hello.TYPE).array());
        // after the handshake too: a FEEDBACK is 41 bytes
        byte[] hello = FrameCodec.encode(TestFollower.hello(store.systemId(), store.timeline(), 1, "", "s3cret", "f"));
        assertClosedAfter(ByteBuffer.allocate(hello.length + 5).put(hello).putInt(big).put((byte) Frame.Feedback.TYPE)
                .array());
        // the longest HELLO there can be is still read (and answered)
        String longest = "x".repeat(Frame.MAX_STRING_BYTES);
        Frame.Hello h = new Frame.Hello(Frame.VERSION, store.systemId(), store.timeline(), 1, longest, longest, longest);
        assertEquals(FrameCodec.MAX_FOLLOWER_FRAME_LENGTH, FrameCodec.encode(h).length - 4);
        try (TestFollower f = TestFollower.connect(server.address())) {
            Frame.Refuse r = assertInstanceOf(Frame.Refuse.class, f.handshake(h));
            assertEquals(RefusalCode.AUTH_FAILED, r.code());
        }
    }

    /**
     * An accept that keeps failing at once (no file descriptors left: EMFILE) must not spin the
     * accept thread hot: it backs off, doubling up to a bound, and accepts again when it can.
     */
    @Test
    void anAcceptThatKeepsFailingBacksOffInsteadOfSpinning() throws Exception {
        open();
        java.util.concurrent.atomic.AtomicInteger failuresLeft = new java.util.concurrent.atomic.AtomicInteger(12);
        java.util.concurrent.atomic.AtomicInteger accepts = new java.util.concurrent.atomic.AtomicInteger();
        javax.net.ServerSocketFactory failing = new javax.net.ServerSocketFactory() {
            @Override
            public java.net.ServerSocket createServerSocket() throws IOException {
                return new java.net.ServerSocket() {
                    @Override
                    public Socket accept() throws IOException {
                        accepts.incrementAndGet();
                        if (failuresLeft.getAndDecrement() > 0) {
                            throw new java.net.SocketException("Too many open files");
                        }
                        return super.accept();
                    }
                };
            }

            @Override
            public java.net.ServerSocket createServerSocket(int port) {
                throw new UnsupportedOperationException();
            }

            @Override
            public java.net.ServerSocket createServerSocket(int port, int backlog) {
                throw new UnsupportedOperationException();
            }

            @Override
            public java.net.ServerSocket createServerSocket(int port, int backlog, java.net.InetAddress ifAddress) {
                throw new UnsupportedOperationException();
            }
        };
        List<Long> pauses = new java.util.concurrent.CopyOnWriteArrayList<>();
        List<Integer> acceptsAtPause = new java.util.concurrent.CopyOnWriteArrayList<>();
        server = new ReplicationServer(store, new InetSocketAddress("127.0.0.1", 0),
                ReplicationOptions.defaults().withSockets(failing));
        server.acceptPauseForTesting(millis -> {
            pauses.add(millis);
            acceptsAtPause.add(accepts.get());
        });
        server.start();
        try (TestFollower f = follower()) {
            assertInstanceOf(Frame.Welcome.class, f.handshake(hello(1)), "accepted once the failures stopped");
        }
        assertEquals(12, pauses.size(), "one pause after each failed accept: " + pauses);
        for (int i = 0; i < pauses.size(); i++) {
            assertEquals(i + 1, acceptsAtPause.get(i), "no accept between two pauses");
            assertTrue(pauses.get(i) >= ReplicationServer.ACCEPT_BACKOFF_MIN_MILLIS, pauses.toString());
            if (i > 0) {
                assertTrue(pauses.get(i) >= pauses.get(i - 1), "the pauses grow: " + pauses);
            }
        }
        assertEquals(ReplicationServer.ACCEPT_BACKOFF_MAX_MILLIS, pauses.get(pauses.size() - 1), "up to a bound");
    }

    /**
     * A store made from a snapshot (a follower bootstrapped from a base backup or the leader's
     * snapshot, serving --repl for followers further down) has pages up to its LSN but an empty
     * WAL. A follower that asks for an LSN at or below that LSN must get WAL_NOT_AVAILABLE (and go
     * to the archive), not a WELCOME and then a stream that can never start at its LSN.
     */
    @Test
    void anEmptyWalHasNothingBelowTheNextLsnToStream() throws Exception {
        Path leaderDir = tmp.resolve("upstream");
        Path dir = tmp.resolve("cascade");
        try (Store upstream = Store.open(leaderDir)) {
            for (int i = 0; i < 40; i++) {
                upstream.put(("k" + i).getBytes(StandardCharsets.UTF_8), new byte[20]);
            }
            try (io.walship.wal.Snapshot snap = upstream.snapshot(); InputStream in = snap.openStream()) {
                io.walship.wal.SnapshotLoader.load(in, dir);
            }
        }
        io.walship.wal.ControlFile.read(dir).asStandby().write(dir);
        store = Store.open(dir);
        long last = store.lastLsn();
        try (WalReader r = store.walReader()) {
            assertEquals(-1, r.firstAvailableLsn(), "the snapshot's store starts with an empty WAL");
        }
        start(ReplicationOptions.defaults());
        try (TestFollower f = TestFollower.connect(server.address())) {
            Frame.Refuse r = assertInstanceOf(Frame.Refuse.class, f.handshake(hello(10)));
            assertEquals(RefusalCode.WAL_NOT_AVAILABLE, r.code(), r.message());
        }
        assertRefused(hello(last), RefusalCode.WAL_NOT_AVAILABLE);
        assertRefused(TestFollower.hello(store.systemId(), store.timeline(), 10, "down", "", "f1"),
                RefusalCode.WAL_NOT_AVAILABLE);
        assertTrue(server.slotList().isEmpty(), "no slot left below the WAL: " + server.slotList());
        // the next LSN is fine: it is what the WAL will start with
        TestFollower ok = follower();
        assertInstanceOf(Frame.Welcome.class, ok.handshake(hello(last + 1)));
    }

    /** Sends {@code bytes} on a raw socket; the leader must close the connection (within the test's deadline). */
    private void assertClosedAfter(byte[] bytes) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(server.address(), 5_000);
            s.setSoTimeout(20_000);
            OutputStream out = s.getOutputStream();
            try {
                out.write(bytes);
                out.flush();
            } catch (IOException e) {
                return; // closed while we were still writing
            }
            InputStream in = s.getInputStream();
            byte[] buf = new byte[4096];
            try {
                while (in.read(buf) >= 0) {
                    // a REFUSE may come first; then the close
                }
            } catch (SocketTimeoutException e) {
                throw new AssertionError("the leader kept a connection that sent " + bytes.length + " bad bytes");
            } catch (IOException e) {
                // reset: closed with our bytes unread, which is a close too
            }
        }
    }
}
