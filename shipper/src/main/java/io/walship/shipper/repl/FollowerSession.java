package io.walship.shipper.repl;

import java.io.EOFException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;

import io.walship.protocol.repl.Frame;
import io.walship.protocol.repl.FrameCodec;
import io.walship.protocol.repl.ProtocolException;
import io.walship.protocol.repl.RefusalCode;
import io.walship.protocol.repl.ReplConnection;
import io.walship.wal.Errors;
import io.walship.wal.Lsn;
import io.walship.wal.Store;
import io.walship.wal.WalEntry;
import io.walship.wal.WalNoLongerAvailableException;
import io.walship.wal.WalReader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One follower connected to the leader (docs/PROTOCOL.md): the handshake, then two of the server's
 * session threads ({@link ReplicationServer#runSessionTask}) — the
 * <b>receiver</b> (this session's {@link #run}), which reads FEEDBACK, and the <b>sender</b>, which
 * streams durable WAL entries from the follower's start LSN on and sends KEEPALIVEs when idle. The
 * sender sleeps until the store's durable LSN moves ({@link #wake}, called by the server's
 * {@link Store#onDurableWake} waker, on the thread that synced) or a keepalive is due; it never polls the WAL.
 *
 * <p>Handshake checks, in order, each with its own refusal: protocol version, auth token, system id,
 * timeline (the leader's own, or an ancestor the server was told of with its fork LSN, the start LSN
 * then at most fork + 1, and TIMELINE sent right after WELCOME), start LSN not past
 * the leader's durable LSN + 1, the slot (lost, in use), and the WAL from the start LSN on still being
 * on disk. Anything but a HELLO first, or a FEEDBACK later, is a protocol error that ends the session.
 * A FEEDBACK that reports an LSN the leader never sent is one too (it would move a slot past WAL the
 * follower does not have).
 *
 * <p>Thread-safe: positions are read by /status under the session's lock.
 */
final class FollowerSession implements Runnable {
    private static final Logger LOG = LoggerFactory.getLogger(FollowerSession.class);

    /** What /status shows about one session. */
    record Status(String nodeId, String slot, String remote, String state, long startLsn, long sentLsn,
                  long writeLsn, long flushLsn, long replayLsn, long writeLagMs, long flushLagMs, long replayLagMs) {
    }

    private final ReplicationServer server;
    private final Store store;
    private final ReplicationOptions options;
    private final ReplConnection conn;
    private final LagTracker lag = new LagTracker();
    private volatile long lastReceivedNanos = System.nanoTime();
    private volatile boolean closed;
    private volatile String state = "startup";
    /** The thread running {@link #send} now (a pooled session thread), null when it is not running. */
    private volatile Thread sender;
    /** The thread running {@link #run} now, null when it is not running. */
    private volatile Thread receiver;
    /** The receiver's and the sender's runs on the server's session threads (null: not started). */
    private volatile Future<?> receiverTask;
    private volatile Future<?> senderTask;
    /** System.nanoTime when the sender started the write it is in, 0 when it is not writing. */
    private volatile long writingSinceNanos;
    private String closeReason;

    // guarded by this
    /** Volatile, read without the session's lock: {@link #toString} is called under other locks (the slots'). */
    private volatile String nodeId = "";
    private String slotName = "";
    private ReplicationSlots.Slot slot;
    private long startLsn;
    private long sentLsn;
    private long writeLsn;
    private long flushLsn;
    private long replayLsn;

    FollowerSession(ReplicationServer server, Store store, ReplicationOptions options, ReplConnection conn) {
        this.server = server;
        this.store = store;
        this.options = options;
        this.conn = conn;
    }

    // ---- receiver -------------------------------------------------------------------------------

    @Override
    public void run() {
        receiver = Thread.currentThread();
        try {
            receive();
        } finally {
            receiver = null;
        }
    }

    /** The server started {@link #run} on a session thread. */
    void receiving(Future<?> task) {
        receiverTask = task;
    }

    private void receive() {
        try {
            if (!handshake()) {
                return;
            }
            boolean refused = false;
            synchronized (this) {
                if (closed) {
                    return; // closed during the handshake (shutdown, watchdog): no sender may start now
                }
                try {
                    senderTask = server.runSessionTask(this::sendThenForget, "walship-repl-send-" + nodeIdForThread());
                } catch (RejectedExecutionException e) {
                    refused = true;
                }
            }
            if (refused) {
                close("the leader is shutting down"); // outside the lock: close takes the ack tracker's and the slots'
                return;
            }
            while (!closed) {
                Frame f = conn.read(FrameCodec.MAX_FOLLOWER_FRAME_LENGTH);
                lastReceivedNanos = System.nanoTime();
                if (f instanceof Frame.Feedback fb) {
                    feedback(fb);
                } else {
                    throw new ProtocolException("a follower may send only FEEDBACK after HELLO, got " + f);
                }
            }
        } catch (EOFException e) {
            close("the follower closed the connection");
        } catch (ProtocolException e) {
            LOG.warn("replication session with {}: protocol error: {}; closing", describe(), e.getMessage());
            close("protocol error: " + e.getMessage());
        } catch (IOException e) {
            close(closed ? closeReason : "connection lost: " + Errors.oneLine(e));
        } catch (RuntimeException e) {
            LOG.error("replication session with {} failed: {}", describe(), Errors.oneLine(e), e);
            close("failed: " + Errors.oneLine(e));
        } finally {
            close(closeReason == null ? "ended" : closeReason);
        }
    }

    /** Reads and checks the HELLO; answers WELCOME and returns true, or refuses and returns false. */
    private boolean handshake() throws IOException {
        // bounded: before the HELLO is checked the peer is anyone (no 16 MiB buffer for it)
        Frame first = conn.read(FrameCodec.MAX_FOLLOWER_FRAME_LENGTH);
        lastReceivedNanos = System.nanoTime();
        if (!(first instanceof Frame.Hello h)) {
            throw new ProtocolException("the first frame must be HELLO, got " + first);
        }
        synchronized (this) {
            // shown in logs, /status and metric labels before the peer has proven anything: one
            // short line (a HELLO may carry 64 KiB strings, and newlines would forge log lines)
            nodeId = printable(h.nodeId());
            slotName = printable(h.slot());
        }
        if (h.version() != Frame.VERSION) {
            return refuse(RefusalCode.UNSUPPORTED_VERSION, "protocol version " + h.version() + " is not supported;"
                    + " this leader speaks version " + Frame.VERSION);
        }
        if (options.authToken() != null && !options.authToken().matches(h.authToken())) {
            return refuse(RefusalCode.AUTH_FAILED, h.authToken().isEmpty()
                    ? "this leader requires an auth token and the HELLO carries none"
                    : "the auth token is not this leader's");
        }
        if (h.systemId() != store.systemId()) {
            return refuse(RefusalCode.SYSTEM_ID_MISMATCH, "the follower's system id " + Long.toHexString(h.systemId())
                    + " is not this leader's " + Long.toHexString(store.systemId()) + ": it is a copy of another store");
        }
        int timeline = store.timeline();
        Long forkLsn = null; // the follower is on an ancestor timeline that ends at this LSN
        if (h.timeline() != timeline) {
            forkLsn = server.ancestorForkLsn(h.timeline());
            if (forkLsn == null) {
                return refuse(RefusalCode.UNKNOWN_TIMELINE, "the follower is on timeline " + Integer.toUnsignedString(
                        h.timeline()) + " and this leader on timeline " + timeline + ", whose history does not run"
                        + " through it; the leader can stream only its own timeline and its ancestors'");
            }
        }
        long durable = store.durableLsn();
        if (h.startLsn() < 1) {
            throw new ProtocolException("start LSN " + h.startLsn() + " is not an LSN (the first is 1)");
        }
        if (forkLsn != null && h.startLsn() > forkLsn + 1) {
            return refuse(RefusalCode.FOLLOWER_AHEAD, "the follower on timeline " + Integer.toUnsignedString(h.timeline())
                    + " wants LSN " + Lsn.format(h.startLsn()) + " but this leader's timeline " + timeline + " forked from"
                    + " it after LSN " + Lsn.format(forkLsn) + ": the follower has WAL past the fork; rewind or rebuild it");
        }
        if (h.startLsn() > durable + 1) {
            return refuse(RefusalCode.FOLLOWER_AHEAD, "the follower wants LSN " + Lsn.format(h.startLsn())
                    + " but this leader is durable only up to " + Lsn.format(durable) + ": the follower has WAL the"
                    + " leader never had; rewind or rebuild it");
        }
        ReplicationSlots.Slot s = null;
        if (!h.slot().isEmpty()) {
            try {
                s = server.slots().acquire(h.slot(), h.startLsn(), this);
            } catch (ReplicationSlots.Refused r) {
                return refuse(r.code, r.getMessage());
            }
        }
        // a probe on this thread (a Chronicle tailer belongs to the thread that uses it); the sender
        // opens its own reader at the same LSN, which a slot keeps from being recycled meanwhile
        long last = store.lastLsn(); // read before the WAL is looked at (see below)
        try (WalReader probe = store.walReader()) {
            probe.seek(h.startLsn());
            if (probe.firstAvailableLsn() < 0 && h.startLsn() <= last) {
                // an empty WAL (a store made from a snapshot or base backup, serving followers further
                // down) holds nothing up to its last LSN: the next entry it gets is last + 1
                throw new WalNoLongerAvailableException(h.startLsn(), last + 1);
            }
        } catch (WalNoLongerAvailableException e) {
            if (s != null) {
                server.slots().dropIfNew(s, this);
            }
            return refuse(RefusalCode.WAL_NOT_AVAILABLE, "LSN " + Lsn.format(h.startLsn()) + " is no longer in this"
                    + " leader's WAL (the oldest is " + Lsn.format(e.firstAvailable()) + "); catch up from the archive");
        } catch (RuntimeException e) {
            if (s != null) {
                server.slots().release(s, this);
            }
            throw e;
        }
        boolean closedMeanwhile;
        synchronized (this) {
            slot = s;
            startLsn = h.startLsn();
            sentLsn = h.startLsn() - 1;
            writeLsn = flushLsn = replayLsn = h.startLsn() - 1;
            closedMeanwhile = closed;
        }
        if (closedMeanwhile && s != null) {
            // close() ran before the slot was recorded here (shutdown, the watchdog): it could not free it
            server.slots().release(s, this);
            return false;
        }
        state = "catchup";
        conn.write(new Frame.Welcome(Frame.VERSION, store.systemId(), timeline, durable, options.nodeId(),
                options.httpUrl()));
        if (forkLsn != null) {
            // before any WAL: the entries up to the fork are the same on both timelines, the ones after
            // it are this timeline's, so the follower switches now (docs/PROTOCOL.md, "Timelines")
            conn.write(new Frame.TimelineSwitch(timeline, forkLsn));
            LOG.info("follower {} on ancestor timeline {} switches to timeline {} (fork after LSN {})", h.nodeId(),
                    Integer.toUnsignedString(h.timeline()), timeline, Lsn.format(forkLsn));
        }
        LOG.info("follower {} ({}) streams from LSN {}{}", h.nodeId(), conn.remote(), Lsn.format(h.startLsn()),
                s == null ? "" : " on slot " + s.name);
        return true;
    }

    /** {@code s} with control characters replaced and cut to 128 characters, for logs and /status. */
    static String printable(String s) {
        StringBuilder b = new StringBuilder(Math.min(s.length(), 129));
        for (int i = 0; i < s.length() && b.length() < 128; i++) {
            char c = s.charAt(i);
            b.append(Character.isISOControl(c) ? '?' : c);
        }
        if (b.length() < s.length()) {
            b.append('…');
        }
        return b.toString();
    }

    private boolean refuse(RefusalCode code, String message) throws IOException {
        LOG.warn("refused follower {} at {}: {} ({})", nodeId(), conn.remote(), code, message);
        try {
            conn.write(new Frame.Refuse(code, message));
        } finally {
            close("refused: " + code);
        }
        return false;
    }

    private void feedback(Frame.Feedback fb) throws ProtocolException {
        long now = options.nowMicros();
        long flushed;
        synchronized (this) {
            long max = Math.max(Math.max(fb.writtenLsn(), fb.flushedLsn()), fb.appliedLsn());
            if (Long.compareUnsigned(max, sentLsn) > 0) {
                throw new ProtocolException("FEEDBACK reports LSN " + Lsn.format(max) + " but the leader sent only up"
                        + " to " + Lsn.format(sentLsn));
            }
            writeLsn = Math.max(writeLsn, fb.writtenLsn());
            flushLsn = Math.max(flushLsn, fb.flushedLsn());
            replayLsn = Math.max(replayLsn, fb.appliedLsn());
            lag.reported(LagTracker.WRITE, writeLsn, fb.echoLeaderMicros(), now);
            lag.reported(LagTracker.FLUSH, flushLsn, fb.echoLeaderMicros(), now);
            lag.reported(LagTracker.REPLAY, replayLsn, fb.echoLeaderMicros(), now);
            if (slot != null) {
                server.slots().confirm(slot, flushLsn);
            }
            flushed = flushLsn;
        }
        // outside this session's lock: the commits this acknowledges are woken from here
        server.acks().flushed(this, ackIdentity(), flushed);
        if (closed) {
            server.acks().gone(this); // closed meanwhile: the close's own gone() may have come first
        }
    }

    // ---- sender ---------------------------------------------------------------------------------

    private void sendThenForget() {
        // before the sender reads the WAL: a durable LSN that moves after this wakes it (wake())
        sender = Thread.currentThread();
        try {
            send();
        } finally {
            // the thread goes on to other sessions; a wake() that read it just before this costs it
            // one spurious return from a park, which every park here tolerates
            sender = null;
        }
    }

    private void send() {
        long start;
        synchronized (this) {
            start = startLsn;
        }
        WalReader reader;
        try {
            reader = store.walReader().headersOnly();
        } catch (RuntimeException e) {
            close("cannot read the WAL: " + Errors.oneLine(e));
            return;
        }
        try {
            reader.seek(start);
        } catch (RuntimeException e) {
            reader.close();
            LOG.warn("replication sender for {}: LSN {} went from the WAL right after the handshake: {}", describe(),
                    Lsn.format(start), Errors.oneLine(e));
            close("LSN " + Lsn.format(start) + " is no longer in the WAL");
            return;
        }
        long keepaliveNanos = options.keepalive().toNanos();
        long lastSentNanos = System.nanoTime();
        WalEntry carried = null;
        byte[] carriedBytes = null;
        long halfTimeoutNanos = options.timeout().toNanos() / 2;
        long lastReplyRequestNanos = System.nanoTime();
        try (reader) {
            while (!closed) {
                // a follower busy receiving may not answer on its own: ask, as PostgreSQL's walsender does
                // at half of wal_sender_timeout, so a busy but healthy follower is never timed out
                long now = System.nanoTime();
                if (now - lastReceivedNanos > halfTimeoutNanos && now - lastReplyRequestNanos >= keepaliveNanos) {
                    if (notLeading()) {
                        return;
                    }
                    timedWrite(new Frame.Keepalive(store.durableLsn(), options.nowMicros(), true));
                    lastReplyRequestNanos = now;
                    lastSentNanos = now;
                }
                List<Frame.Entry> batch = new ArrayList<>();
                long bytes = FrameCodec.WAL_FRAME_OVERHEAD;
                if (carried != null) {
                    batch.add(new Frame.Entry(carried.lsn(), carriedBytes));
                    bytes += FrameCodec.WAL_ENTRY_OVERHEAD + carriedBytes.length;
                    carried = null;
                }
                while (bytes < options.maxFrameBytes()) {
                    WalEntry e = reader.next();
                    if (e == null) {
                        break;
                    }
                    byte[] b = reader.lastEntryBytes();
                    long more = FrameCodec.WAL_ENTRY_OVERHEAD + b.length;
                    if (!batch.isEmpty() && bytes + more > options.maxFrameBytes()) {
                        carried = e;
                        carriedBytes = b;
                        break;
                    }
                    batch.add(new Frame.Entry(e.lsn(), b));
                    bytes += more;
                }
                if (!batch.isEmpty()) {
                    // asked after the entries were read, right before they go out: WAL committed as the
                    // lease lapsed (past the fork of a new leader's timeline) never leaves once it has
                    if (notLeading()) {
                        return;
                    }
                    long last = batch.get(batch.size() - 1).lsn();
                    long micros = options.nowMicros();
                    // recorded before the write: the follower may answer before write() returns
                    synchronized (this) {
                        sentLsn = last;
                        lag.sent(last, micros);
                    }
                    timedWrite(new Frame.Wal(store.durableLsn(), micros, batch));
                    lastSentNanos = System.nanoTime();
                    continue;
                }
                state = "streaming";
                long idle = System.nanoTime() - lastSentNanos;
                if (notLeading()) {
                    return; // also when woken by the watchdog for it: a KEEPALIVE would keep followers here
                }
                if (idle >= keepaliveNanos) {
                    timedWrite(new Frame.Keepalive(store.durableLsn(), options.nowMicros(), true));
                    lastSentNanos = System.nanoTime();
                    lastReplyRequestNanos = lastSentNanos;
                    continue;
                }
                // woken by the durable-LSN waker, a due keepalive or close(); a wake-up that came
                // between next() returning null and here left a permit, so nothing is missed
                LockSupport.parkNanos(this, keepaliveNanos - idle);
            }
        } catch (IOException e) {
            close(closed ? closeReason : "connection lost while sending: " + Errors.oneLine(e));
        } catch (RuntimeException e) {
            if (!closed) {
                LOG.error("replication sender for {} failed: {}", describe(), Errors.oneLine(e), e);
            }
            close("sender failed: " + Errors.oneLine(e));
        }
    }

    /**
     * Asks the server's gate ({@link ReplicationServer#withGate}) whether this node still leads; if it
     * gives a reason (fenced, lost or superseded: another node may lead now), sends REFUSE
     * NOT_A_LEADER, ends the session and returns true. A session open when the lease lapsed must not
     * go on: its KEEPALIVEs would keep automatic-failover followers from electing a new leader, and
     * its WAL may be past the new leader's fork. On the sender thread only (the one writer).
     */
    private boolean notLeading() throws IOException {
        String why = server.notLeading();
        if (why == null) {
            return false;
        }
        LOG.warn("replication session with {}: this node does not lead any more ({}); ending it NOT_A_LEADER",
                describe(), why);
        String reason = "this node does not lead: " + why;
        try {
            timedWrite(new Frame.Refuse(RefusalCode.NOT_A_LEADER, reason));
        } finally {
            close("refused: " + RefusalCode.NOT_A_LEADER + ": " + why);
        }
        return true;
    }

    /** A write the watchdog can see: a follower that stops reading blocks it, and is dropped. */
    private void timedWrite(Frame f) throws IOException {
        writingSinceNanos = System.nanoTime();
        try {
            conn.write(f);
        } finally {
            writingSinceNanos = 0;
        }
    }

    /** Nanos (System.nanoTime) since the sender is stuck in one write, 0 if it is not writing. */
    long writingSinceNanos() {
        return writingSinceNanos;
    }

    /** Whether neither of the session's threads runs any more (or ever ran). */
    boolean threadsEnded() {
        // the receiver starts the sender before it ends, so a done receiver has set senderTask if ever
        Future<?> r = receiverTask;
        Future<?> s = senderTask;
        return closed && (r == null || r.isDone()) && (s == null || s.isDone());
    }

    /** Waits up to {@code millis} for the session's threads to end (after {@link #close}). */
    void awaitThreads(long millis) throws InterruptedException {
        long deadline = System.nanoTime() + millis * 1_000_000L;
        Thread me = Thread.currentThread();
        awaitTask(receiverTask, receiver == me, deadline);
        awaitTask(senderTask, sender == me, deadline); // read after the receiver ended: set by then if ever
    }

    private static void awaitTask(Future<?> task, boolean onIt, long deadline) throws InterruptedException {
        if (task == null || onIt) {
            return;
        }
        try {
            task.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (ExecutionException | CancellationException | TimeoutException e) {
            // failed (logged where it ran) or still running after the wait: the caller goes on
        }
    }

    /** The durable LSN moved (or the session must look at its state): wake the sender. Never blocks. */
    void wake() {
        Thread t = sender;
        if (t != null) {
            LockSupport.unpark(t);
        }
    }

    // ---- lifecycle ------------------------------------------------------------------------------

    /** Nanos (System.nanoTime) when a frame last arrived from the follower. */
    long lastReceivedNanos() {
        return lastReceivedNanos;
    }

    boolean isClosed() {
        return closed;
    }

    /** Ends the session (idempotent, any thread): closes the socket, frees the slot. */
    void close(String reason) {
        ReplicationSlots.Slot s;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            closeReason = reason;
            s = slot;
        }
        state = "stopped";
        server.acks().gone(this);
        conn.close();
        wake();
        if (s != null) {
            try {
                server.slots().release(s, this);
            } catch (RuntimeException e) {
                LOG.error("persisting replication slot {} failed: {}", s.name, Errors.oneLine(e));
            }
        }
        server.ended(this);
        LOG.info("replication session with {} ended: {}", describe(), reason);
    }

    synchronized Status status() {
        return new Status(nodeId, slotName, conn.remote(), state, startLsn, sentLsn, writeLsn, flushLsn, replayLsn,
                lag.lagMillis(LagTracker.WRITE), lag.lagMillis(LagTracker.FLUSH), lag.lagMillis(LagTracker.REPLAY));
    }

    // no lock: ReplicationSlots names a slot's holder in a refusal while holding its own lock, and a
    // holder's FEEDBACK takes this session's lock before the slots' (a lock-order deadlock otherwise)
    private String nodeId() {
        return nodeId;
    }

    /**
     * Who this session's acks are from, for {@link AckTracker}'s one-ack-per-follower count: its
     * node id; without one, its remote host — not host:port, or a follower without a node id that
     * reconnected before the leader timed out its old session (a new source port) would count as
     * two followers with one disk. Two such followers on one host then count once (too few, never
     * too many acks); give each a node id.
     */
    private String ackIdentity() {
        String n = nodeId();
        if (!n.isEmpty()) {
            return n;
        }
        String host;
        try {
            host = io.walship.protocol.HostPort.parse(conn.remote()).host();
        } catch (RuntimeException e) {
            host = conn.remote();
        }
        return "(no node id)@" + host;
    }

    private String nodeIdForThread() {
        String n = nodeId();
        return n.isEmpty() ? conn.remote() : n.replaceAll("[^A-Za-z0-9_.:-]", "_");
    }

    private String describe() {
        String n = nodeId();
        return (n.isEmpty() ? "" : n + " ") + "at " + conn.remote();
    }

    @Override
    public String toString() {
        return "session of " + describe();
    }
}
