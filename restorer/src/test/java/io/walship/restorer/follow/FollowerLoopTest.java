package io.walship.restorer.follow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Function;

import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.protocol.HostPort;
import io.walship.protocol.repl.Frame;
import io.walship.protocol.repl.RefusalCode;
import io.walship.protocol.repl.ReplConnection;
import io.walship.shipper.WalShipper;
import io.walship.wal.ControlFile;
import io.walship.wal.Durability;
import io.walship.wal.EntryCodec;
import io.walship.wal.Poll;
import io.walship.wal.Snapshot;
import io.walship.wal.SnapshotLoader;
import io.walship.wal.StoreOptions;
import io.walship.wal.Store;
import io.walship.wal.WalEntry;
import io.walship.wal.WalReader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The follower loop against a fake leader that speaks the replication protocol from a real
 * leader store's WAL: it streams and converges, survives dropped connections and a corrupted
 * entry without ever applying one out of order, goes back to the archive on WAL_NOT_AVAILABLE and
 * then streams again, and stops for good on the refusals that retrying cannot mend.
 */
class FollowerLoopTest {
    @TempDir
    Path tmp;
    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static void await(String what, BooleanSupplier cond) {
        Poll.until(Duration.ofSeconds(60), cond, () -> "until " + what);
    }

    /** What the fake leader does with one session: refuse, or serve (possibly with a fault). */
    record Plan(RefusalCode refuse, int dropAfterFrames, boolean corruptOne) {
        static Plan serve() {
            return new Plan(null, -1, false);
        }

        static Plan refuse(RefusalCode c) {
            return new Plan(c, -1, false);
        }
    }

    /** A leader's replication endpoint in miniature, serving {@code leader}'s WAL. */
    final class FakeLeader implements AutoCloseable {
        final Store leader;
        final ServerSocket server;
        final Function<Frame.Hello, Plan> plans;
        final List<Frame.Hello> hellos = new CopyOnWriteArrayList<>();
        final AtomicLong lastFeedbackApplied = new AtomicLong(-1);
        final AtomicLong lastFeedbackFlushed = new AtomicLong(-1);
        /** The follower's store, if set: every FEEDBACK's flush LSN is checked against its durable LSN. */
        volatile Store watched;
        final List<String> overclaims = new CopyOnWriteArrayList<>();
        final AtomicInteger sessions = new AtomicInteger();
        final List<ReplConnection> conns = new CopyOnWriteArrayList<>();
        /** Added to the timeline its WELCOME names (a leader that moved on, or a broken one). */
        volatile int welcomeTimelineDelta;
        volatile boolean closed;

        FakeLeader(Store leader, Function<Frame.Hello, Plan> plans) throws IOException {
            this.leader = leader;
            this.plans = plans;
            this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            Thread t = new Thread(this::acceptLoop, "fake-leader");
            t.setDaemon(true);
            t.start();
        }

        HostPort address() {
            return new HostPort("127.0.0.1", server.getLocalPort());
        }

        private void acceptLoop() {
            while (!closed) {
                try {
                    Socket s = server.accept();
                    ReplConnection c = ReplConnection.accepted(s);
                    conns.add(c);
                    Thread t = new Thread(() -> session(c), "fake-leader-session");
                    t.setDaemon(true);
                    t.start();
                } catch (IOException e) {
                    return;
                }
            }
        }

        private void session(ReplConnection c) {
            int n = sessions.incrementAndGet();
            try (c) {
                Frame.Hello h = (Frame.Hello) c.read();
                hellos.add(h);
                Plan plan = plans.apply(h);
                if (plan.refuse() != null) {
                    c.write(new Frame.Refuse(plan.refuse(), "session " + n + " refused"));
                    return;
                }
                c.write(new Frame.Welcome(1, leader.systemId(), leader.timeline() + welcomeTimelineDelta,
                        leader.durableLsn(), "fake",
                        "http://127.0.0.1:1"));
                Thread feedback = new Thread(() -> {
                    try {
                        while (true) {
                            Frame f = c.read();
                            if (f instanceof Frame.Feedback fb) {
                                Store w = watched;
                                // durable only grows: a claim above it now was above it when sent
                                if (w != null && fb.flushedLsn() > w.durableLsn()) {
                                    overclaims.add("flushed " + fb.flushedLsn() + " > durable " + w.durableLsn());
                                }
                                lastFeedbackFlushed.set(fb.flushedLsn());
                                lastFeedbackApplied.set(fb.appliedLsn());
                            }
                        }
                    } catch (IOException e) {
                        // the session ended
                    }
                }, "fake-leader-feedback");
                feedback.setDaemon(true);
                feedback.start();
                int frames = 0;
                boolean corrupted = false;
                try (WalReader r = leader.walReader()) {
                    r.seek(h.startLsn());
                    while (!closed && !c.isClosed()) {
                        List<Frame.Entry> entries = new ArrayList<>();
                        WalEntry e = r.poll(Duration.ofMillis(100));
                        while (e != null && entries.size() < 50) {
                            byte[] bytes = EntryCodec.encode(e);
                            if (plan.corruptOne() && !corrupted && entries.size() == 3) {
                                bytes[bytes.length / 2] ^= 0x40;
                                corrupted = true;
                            }
                            entries.add(new Frame.Entry(e.lsn(), bytes));
                            e = entries.size() < 50 ? r.next() : null;
                        }
                        long micros = System.currentTimeMillis() * 1000;
                        if (entries.isEmpty()) {
                            c.write(new Frame.Keepalive(leader.durableLsn(), micros, true));
                            continue;
                        }
                        c.write(new Frame.Wal(leader.durableLsn(), micros, entries));
                        if (++frames == plan.dropAfterFrames()) {
                            return;
                        }
                    }
                }
            } catch (IOException e) {
                // the follower went away
            }
        }

        @Override
        public void close() throws IOException {
            closed = true;
            server.close();
            for (ReplConnection c : conns) {
                c.close();
            }
        }
    }

    private Store leader(String name) {
        Store s = Store.open(tmp.resolve(name));
        open.add(s);
        return s;
    }

    private static void write(Store s, int from, int to) {
        for (int i = from; i < to; i++) {
            s.put(b("k" + (i % 700)), b("v" + i + "-".repeat(i % 40)), Durability.ASYNC);
        }
        s.awaitDurable(s.lastLsn(), Duration.ofSeconds(10));
    }

    /** A standby made from the leader's current snapshot. */
    private Store follower(Store leader, String name) throws IOException {
        Path dir = tmp.resolve(name);
        try (Snapshot snap = leader.snapshot(); InputStream in = snap.openStream()) {
            SnapshotLoader.load(in, dir);
        }
        ControlFile.read(dir).asStandby().write(dir);
        Store s = Store.open(dir);
        open.add(s);
        return s;
    }

    private FollowerLoop loop(Store follower, ObjectStore archive, FakeLeader fake, long seed) {
        FollowerLoop.Options o = FollowerLoop.Options.defaults(fake.address()).withNodeId("f1")
                .withBackoff(Duration.ofMillis(10), Duration.ofMillis(200), seed).withReplTimeout(Duration.ofSeconds(5));
        System.out.println("backoff seed " + seed);
        FollowerLoop l = new FollowerLoop(follower, archive, o).start();
        open.add(l);
        return l;
    }

    @Test
    void streamsWhileTheLeaderWritesAndReportsItsPosition() throws Exception {
        Store leader = leader("leader");
        write(leader, 0, 300);
        Store follower = follower(leader, "f");
        FakeLeader fake = new FakeLeader(leader, h -> Plan.serve());
        open.add(fake);
        FollowerLoop loop = loop(follower, null, fake, 1);
        write(leader, 300, 3_000);
        await("the follower has applied everything", () -> follower.lastLsn() == leader.lastLsn());
        assertEquals(leader.digest(), follower.digest());
        await("the leader heard the applied LSN", () -> fake.lastFeedbackApplied.get() == leader.lastLsn());
        assertEquals("stream", loop.status().source());
        assertEquals("stream", loop.status().state());
        assertEquals("http://127.0.0.1:1", loop.status().leaderUrl());
        assertEquals(0, loop.status().lagLsns());
        Frame.Hello h = fake.hellos.get(0);
        assertEquals(follower.systemId(), h.systemId());
        assertEquals("f1", h.nodeId());
        assertTrue(loop.streamedEntries() >= 2_700);
        assertTrue(follower.stats().walSyncs() < loop.streamedEntries(), "batches share syncs: "
                + follower.stats().walSyncs() + " syncs for " + loop.streamedEntries() + " entries");
    }

    /**
     * The receiver thread reads frames for the applier. If it dies of an Error (an OutOfMemoryError
     * allocating a frame, say) without a word, the applier must not wait on its queue for ever: the
     * session ends like a lost connection and the follower reconnects.
     */
    @Test
    void aReceiverThatDiesOfAnErrorEndsTheSessionInsteadOfHangingTheFollower() throws Exception {
        Store leader = leader("leader");
        write(leader, 0, 100);
        Store follower = follower(leader, "f");
        write(leader, 100, 600);
        FakeLeader fake = new FakeLeader(leader, h -> Plan.serve());
        open.add(fake);
        AtomicInteger sockets = new AtomicInteger();
        javax.net.SocketFactory faulty = new javax.net.SocketFactory() {
            @Override
            public Socket createSocket() {
                boolean first = sockets.incrementAndGet() == 1;
                return new Socket() {
                    @Override
                    public InputStream getInputStream() throws IOException {
                        InputStream in = super.getInputStream();
                        if (!first) {
                            return in;
                        }
                        return new java.io.FilterInputStream(in) {
                            @Override
                            public int read(byte[] b, int off, int len) throws IOException {
                                if (Thread.currentThread().getName().startsWith("walship-follower-recv")) {
                                    throw new OutOfMemoryError("injected: Java heap space");
                                }
                                return super.read(b, off, len);
                            }
                        };
                    }
                };
            }

            @Override
            public Socket createSocket(String host, int port) {
                throw new UnsupportedOperationException();
            }

            @Override
            public Socket createSocket(String host, int port, java.net.InetAddress localHost, int localPort) {
                throw new UnsupportedOperationException();
            }

            @Override
            public Socket createSocket(java.net.InetAddress host, int port) {
                throw new UnsupportedOperationException();
            }

            @Override
            public Socket createSocket(java.net.InetAddress address, int port, java.net.InetAddress localAddress,
                                       int localPort) {
                throw new UnsupportedOperationException();
            }
        };
        FollowerLoop.Options o = FollowerLoop.Options.defaults(fake.address()).withNodeId("f1")
                .withBackoff(Duration.ofMillis(10), Duration.ofMillis(200), 7).withReplTimeout(Duration.ofSeconds(5));
        FollowerLoop loop = new FollowerLoop(follower, null, o, faulty, java.time.Clock.systemUTC()).start();
        open.add(loop);
        await("the follower reconnected and applied everything", () -> follower.lastLsn() == leader.lastLsn());
        assertEquals(leader.digest(), follower.digest());
        assertTrue(sockets.get() >= 2, "a second connection");
        assertTrue(loop.status().reconnects() >= 1);
        assertNull(loop.failure());
    }

    /**
     * A leader whose lease lapsed ends a running session with REFUSE NOT_A_LEADER; the follower must
     * take it as that refusal (back off, ask the lease where the leader is), not as a bad frame.
     */
    @Test
    void aRefuseInTheMiddleOfASessionIsTheLeadersRefusalNotABadFrame() {
        java.util.ArrayDeque<Object> q = new java.util.ArrayDeque<>();
        q.add(new Frame.Keepalive(0, 7, true));
        q.add(new Frame.Refuse(RefusalCode.NOT_A_LEADER, "this node does not lead: fenced"));
        FollowerLoop.RefusedMidStream r = org.junit.jupiter.api.Assertions.assertThrows(
                FollowerLoop.RefusedMidStream.class, () -> FollowerLoop.drain(q.poll(), q::poll, 1, 0, 10, 1 << 20));
        assertEquals(RefusalCode.NOT_A_LEADER, r.code);
        assertTrue(r.getMessage().contains("fenced"), r.getMessage());
    }

    /**
     * While the applier decodes, the receiver keeps queueing frames, and the applier joins all it
     * finds into one batch. Bounded by entries only, a batch of large entries grows to gigabytes
     * (16,384 entries of up to 8 MiB): it must also stop at {@link FollowerLoop#MAX_BATCH_BYTES}.
     */
    @Test
    void aBatchOfLargeEntriesStopsAtTheByteBoundNotOnlyAtTheEntryBound() throws Exception {
        Store leader = leader("leader");
        int n = 0;
        for (int i = 0; i < 100; i++) { // entries of about 60 KiB: 50 new 1 KiB values each
            io.walship.wal.WriteBatch wb = new io.walship.wal.WriteBatch();
            for (int j = 0; j < 50; j++) {
                wb.put(b(String.format("big-%06d", n++)), new byte[1024]);
            }
            leader.write(wb, Durability.ASYNC);
        }
        leader.awaitDurable(leader.lastLsn(), Duration.ofSeconds(10));
        long maxBytes = 1 << 20;
        try (WalReader r = leader.walReader()) {
            r.seek(1);
            java.util.function.Supplier<Object> queue = () -> {
                WalEntry e = r.next();
                return e == null ? null : new Frame.Wal(e.lsn(), 5, List.of(new Frame.Entry(e.lsn(), EntryCodec.encode(e))));
            };
            FollowerLoop.Drained d = FollowerLoop.drain(queue.get(), queue, 1, 0, FollowerLoop.MAX_BATCH_ENTRIES, maxBytes);
            long largest = 0;
            for (WalEntry e : d.entries()) {
                largest = Math.max(largest, EntryCodec.encode(e).length);
            }
            assertTrue(d.entries().size() < leader.lastLsn(), "stopped early: " + d.entries().size() + " of "
                    + leader.lastLsn() + " entries");
            assertTrue(d.entryBytes() >= maxBytes && d.entryBytes() <= maxBytes + largest, d.entryBytes()
                    + " bytes in one batch, bound " + maxBytes);
            for (int i = 0; i < d.entries().size(); i++) {
                assertEquals(i + 1, d.entries().get(i).lsn(), "in order, from the expected LSN, without a gap");
            }
            assertTrue(d.reply());
            assertEquals(5, d.echo());
        }
        assertTrue(FollowerLoop.MAX_BATCH_BYTES <= 256L << 20, "the loop's own bound is a sane size");
    }

    /**
     * The follower's HELLO names its timeline; a leader must refuse another one (UNKNOWN_TIMELINE).
     * A WELCOME that names a different timeline all the same (a leader that moved on, a broken or
     * foreign one) must not be followed: its WAL belongs to another history.
     */
    @Test
    void aWelcomeOnAnotherTimelineIsNotFollowed() throws Exception {
        Store leader = leader("leader");
        write(leader, 0, 50);
        Store follower = follower(leader, "f");
        long before = follower.lastLsn();
        write(leader, 50, 300);
        FakeLeader fake = new FakeLeader(leader, h -> Plan.serve());
        fake.welcomeTimelineDelta = 1;
        open.add(fake);
        FollowerLoop loop = loop(follower, null, fake, 9);
        assertTrue(loop.awaitStopped(Duration.ofSeconds(30)), "a timeline it cannot follow stops the follower");
        FollowerStoppedException e = assertInstanceOf(FollowerStoppedException.class, loop.failure());
        assertEquals(RefusalCode.UNKNOWN_TIMELINE, e.code());
        assertEquals(before, follower.lastLsn(), "nothing of the other timeline's stream was applied");
    }

    /**
     * A full disk refuses a leader's commit and the leader goes on; a follower whose disk fills up
     * must likewise wait and retry (backoff), not stop for good: once space returns it goes on
     * from the last entry it applied, with nothing skipped.
     */
    @Test
    void aFullDiskOnTheFollowerIsRetriedNotTheEndOfIt() throws Exception {
        Store leader = leader("leader");
        write(leader, 0, 20);
        Path dir = tmp.resolve("f");
        try (Snapshot snap = leader.snapshot(); InputStream in = snap.openStream()) {
            SnapshotLoader.load(in, dir);
        }
        ControlFile.read(dir).asStandby().write(dir);
        java.util.concurrent.atomic.AtomicBoolean full = new java.util.concurrent.atomic.AtomicBoolean(true);
        Store follower = io.walship.wal.TestStores.openWithDisk(dir, io.walship.wal.StoreOptions.defaults(), full::get);
        open.add(follower);
        byte[] v = new byte[1000];
        for (int i = 0; i < 400; i++) { // ~4 MiB of WAL: more than the follower's WAL has claimed
            io.walship.wal.WriteBatch wb = new io.walship.wal.WriteBatch();
            for (int j = 0; j < 10; j++) {
                wb.put(b("full-" + i + "." + j), v);
            }
            leader.write(wb, Durability.ASYNC);
        }
        leader.awaitDurable(leader.lastLsn(), Duration.ofSeconds(10));
        FakeLeader fake = new FakeLeader(leader, h -> Plan.serve());
        open.add(fake);
        FollowerLoop loop = loop(follower, null, fake, 11);
        await("the follower ran out of WAL space", () -> loop.status().lastError() != null
                && loop.status().lastError().contains("no space"));
        long stuckAt = follower.lastLsn();
        assertTrue(stuckAt < leader.lastLsn(), "stopped short of the leader");
        full.set(false);
        await("the follower went on once space returned", () -> follower.lastLsn() == leader.lastLsn());
        assertEquals(leader.digest(), follower.digest());
        assertNull(loop.failure());
        long prev = 0;
        for (Frame.Hello h : fake.hellos) {
            assertTrue(h.startLsn() >= prev, "start LSNs never go back");
            prev = h.startLsn();
        }
    }

    /**
     * A leader that welcomes the follower and then fails it at once, every time (a corrupt entry in
     * its WAL, a sender that cannot read it), is a failure that persists: the follower's backoff must
     * grow as for any other, not start again from its minimum at each WELCOME (a reconnect storm, an
     * ERROR on the leader every 100 ms). It starts again only once a session made progress.
     */
    /**
     * A follower whose last entries are applied but not yet synced (they could still be lost with
     * this machine) asks the leader to stream from its durable LSN + 1, not its last applied + 1:
     * the leader counts start - 1 as flushed here. The entries sent again are skipped, not refused
     * as a repeat, and no FEEDBACK claims a flush LSN beyond what the follower has synced.
     */
    @Test
    void helloStartsAfterTheDurableLsnAndFeedbackNeverClaimsMoreThanIsSynced() throws Exception {
        Store leader = leader("leader");
        write(leader, 0, 100);
        Path dir = tmp.resolve("f");
        try (Snapshot snap = leader.snapshot(); InputStream in = snap.openStream()) {
            SnapshotLoader.load(in, dir);
        }
        ControlFile.read(dir).asStandby().write(dir);
        // an hour before a non-durable apply is synced on its own: the test decides when
        Store follower = Store.open(dir, StoreOptions.defaults().withAsyncFlushMillis(3_600_000));
        open.add(follower);
        write(leader, 100, 160);
        List<WalEntry> more = new ArrayList<>();
        try (WalReader r = leader.walReader()) {
            r.seek(follower.lastLsn() + 1);
            for (WalEntry e; (e = r.poll(Duration.ofMillis(100))) != null && more.size() < 40; ) {
                more.add(e);
            }
        }
        follower.applyAll(more, Durability.ASYNC);
        long durable = follower.durableLsn();
        long applied = follower.lastLsn();
        assertTrue(durable < applied, "precondition: applied " + applied + ", durable " + durable);
        write(leader, 160, 300);
        FakeLeader fake = new FakeLeader(leader, h -> Plan.serve());
        fake.watched = follower;
        open.add(fake);
        loop(follower, null, fake, 7);
        await("the follower has applied everything", () -> follower.lastLsn() == leader.lastLsn());
        assertEquals(durable + 1, fake.hellos.get(0).startLsn(), "HELLO from the durable LSN + 1");
        assertEquals(leader.digest(), follower.digest());
        await("a FEEDBACK says everything is flushed", () -> fake.lastFeedbackFlushed.get() == leader.lastLsn());
        assertEquals(List.of(), fake.overclaims);
    }

    @Test
    void aSessionThatFailsRightAfterItsWelcomeDoesNotResetTheBackoff() throws Exception {
        Store leader = leader("leader");
        write(leader, 0, 30);
        Store follower = follower(leader, "f");
        write(leader, 30, 200);
        AtomicInteger session = new AtomicInteger();
        FakeLeader fake = new FakeLeader(leader, h -> session.incrementAndGet() <= 6
                ? new Plan(null, -1, true) // a corrupt entry in the first frame, every time
                : Plan.serve());
        open.add(fake);
        List<Duration> pauses = new CopyOnWriteArrayList<>();
        FollowerLoop.Options o = FollowerLoop.Options.defaults(fake.address()).withNodeId("f1")
                .withBackoff(Duration.ofMillis(10), Duration.ofSeconds(10), 12).withReplTimeout(Duration.ofSeconds(5));
        FollowerLoop loop = new FollowerLoop(follower, null, o);
        loop.pauseForTesting(pauses::add); // records the waits instead of waiting
        loop.start();
        open.add(loop);
        await("the follower got through once the leader served it", () -> follower.lastLsn() == leader.lastLsn());
        assertEquals(leader.digest(), follower.digest());
        assertTrue(pauses.size() >= 6, "one wait after each failed session: " + pauses);
        // 10 ms doubling, half of it jitter: the sixth wait is at least 160 ms; reset at every WELCOME
        // each would be under 10 ms
        assertTrue(pauses.get(5).toMillis() >= 160, "the backoff grew: " + pauses);
        for (int i = 1; i < 6; i++) {
            assertTrue(pauses.get(i).compareTo(pauses.get(i - 1)) > 0, "the backoff grew: " + pauses);
        }
    }

    @Test
    void dropsAndACorruptEntryAreRetriedNeverSkipped() throws Exception {
        Store leader = leader("leader");
        write(leader, 0, 200);
        Store follower = follower(leader, "f");
        write(leader, 200, 2_000);
        AtomicInteger session = new AtomicInteger();
        FakeLeader fake = new FakeLeader(leader, h -> switch (session.incrementAndGet()) {
            case 1 -> new Plan(null, 3, false);  // drops the connection after three frames
            case 2 -> new Plan(null, -1, true);  // flips a bit in an entry of its first frame
            case 3 -> Plan.refuse(RefusalCode.NOT_A_LEADER); // shutting down: retried
            default -> Plan.serve();
        });
        open.add(fake);
        FollowerLoop loop = loop(follower, null, fake, 2);
        await("the follower has applied everything", () -> follower.lastLsn() == leader.lastLsn());
        assertEquals(leader.digest(), follower.digest());
        assertTrue(fake.hellos.size() >= 4, "reconnected after each failure: " + fake.hellos.size());
        // every HELLO asked for the entry right after what the follower had, so nothing was skipped or repeated
        long prev = 0;
        for (Frame.Hello h : fake.hellos) {
            assertTrue(h.startLsn() >= prev, "start LSNs never go back");
            prev = h.startLsn();
        }
        assertEquals(fake.hellos.get(1).startLsn(), fake.hellos.get(2).startLsn(),
                "nothing of the frame holding the corrupt entry was applied");
        assertTrue(loop.status().reconnects() >= 3);
        assertNull(loop.failure());
    }

    @Test
    void walNotAvailableSendsTheFollowerToTheArchiveThenBackToTheStream() throws Exception {
        Store leader = leader("leader");
        write(leader, 0, 100);
        Store follower = follower(leader, "f");
        long followerStart = follower.lastLsn();
        ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"));
        open.add(archive);
        write(leader, 100, 1_500);
        long recycledUpTo;
        try (WalShipper shipper = new WalShipper(leader.dir(), archive, new WalShipper.Options(Codec.ZSTD, 64 << 10))) {
            shipper.shipOnce();
            recycledUpTo = leader.lastLsn(); // "the leader's WAL up to here is gone"
        }
        FakeLeader fake = new FakeLeader(leader, h -> h.startLsn() <= recycledUpTo
                ? Plan.refuse(RefusalCode.WAL_NOT_AVAILABLE) : Plan.serve());
        open.add(fake);
        long streamedFrom = recycledUpTo + 1;
        // start the follower with no archive catch-up first: it learns of the gap from the leader
        FollowerLoop loop = loop(follower, archive, fake, 3);
        write(leader, 1_500, 2_500);
        await("the follower has applied everything", () -> follower.lastLsn() == leader.lastLsn());
        assertEquals(leader.digest(), follower.digest());
        assertTrue(loop.archivedEntries() >= recycledUpTo - followerStart, "caught up from the archive: " + loop.archivedEntries());
        // the counter moves right after the apply that readers already see
        await("then streamed the rest", () -> loop.streamedEntries() == leader.lastLsn() - streamedFrom + 1);
        assertEquals("stream", loop.status().source());
        assertTrue(fake.hellos.stream().anyMatch(h -> h.startLsn() == streamedFrom), "streamed from the archive's end");
    }

    @Test
    void refusalsThatRetryingCannotMendStopTheFollower() throws Exception {
        Store leader = leader("leader");
        write(leader, 0, 10);
        Store follower = follower(leader, "f");
        for (RefusalCode code : List.of(RefusalCode.SYSTEM_ID_MISMATCH, RefusalCode.UNKNOWN_TIMELINE,
                RefusalCode.FOLLOWER_AHEAD, RefusalCode.AUTH_FAILED, RefusalCode.SLOT_LOST, RefusalCode.WAL_NOT_AVAILABLE)) {
            try (FakeLeader fake = new FakeLeader(leader, h -> Plan.refuse(code))) {
                FollowerLoop loop = loop(follower, null, fake, 4);
                assertTrue(loop.awaitStopped(Duration.ofSeconds(30)), code + " stops the loop");
                FollowerStoppedException e = assertInstanceOf(FollowerStoppedException.class, loop.failure());
                assertEquals(code, e.code());
                assertEquals("stopped", loop.status().state());
                assertEquals(1, fake.hellos.size(), code + " is not retried");
                loop.close();
            }
        }
    }

    @Test
    void aLostSlotWithAnArchiveFollowsTheArchiveUntilTheSlotIsRecreated() throws Exception {
        Store leader = leader("leader");
        write(leader, 0, 100);
        Store follower = follower(leader, "f");
        ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"));
        open.add(archive);
        write(leader, 100, 600);
        try (WalShipper shipper = new WalShipper(leader.dir(), archive, new WalShipper.Options(Codec.ZSTD, 64 << 10))) {
            shipper.shipOnce();
        }
        long archived = leader.lastLsn();
        java.util.concurrent.atomic.AtomicBoolean recreated = new java.util.concurrent.atomic.AtomicBoolean();
        FakeLeader fake = new FakeLeader(leader, h -> recreated.get() ? Plan.serve() : Plan.refuse(RefusalCode.SLOT_LOST));
        open.add(fake);
        FollowerLoop loop = new FollowerLoop(follower, archive, FollowerLoop.Options.defaults(fake.address())
                .withSlot("s1").withBackoff(Duration.ofMillis(10), Duration.ofMillis(100), 5)).start();
        open.add(loop);
        await("the follower follows the archive", () -> follower.lastLsn() == archived);
        await("and keeps asking", () -> fake.hellos.size() >= 3);
        assertNull(loop.failure(), "a lost slot with an archive is not fatal");
        assertTrue(loop.status().lastError().contains("SLOT_LOST"), loop.status().lastError());
        write(leader, 600, 900); // only the stream has these
        recreated.set(true);
        await("the follower streams again", () -> follower.lastLsn() == leader.lastLsn());
        assertEquals(leader.digest(), follower.digest());
        assertEquals("stream", loop.status().source());
    }
}
