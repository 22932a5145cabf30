package io.walship.shipper.repl;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import io.walship.protocol.repl.Frame;
import io.walship.protocol.repl.RefusalCode;
import io.walship.protocol.repl.ReplConnection;
import io.walship.wal.Errors;
import io.walship.wal.Store;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The leader's replication endpoint ({@code walship leader --repl HOST:PORT}, docs/PROTOCOL.md):
 * accepts followers on a TCP port and runs one {@link FollowerSession} per follower, at most
 * {@link ReplicationOptions#maxSessions()} at once (each uses two platform threads: Java 17 has no
 * virtual threads); a connection beyond the limit gets REFUSE NOT_A_LEADER at once and is closed.
 * The session threads come from a pool the server owns ({@link #sessionThreads}), not one new
 * thread per session: each thread that dies after touching Chronicle Queue leaves an entry in
 * Chronicle's thread-local registry that every later queue open walks, so a follower that keeps
 * reconnecting would grow the leader without bound.
 *
 * <p>One waker on the store's durable LSN ({@link Store#onDurableWake}, on the thread that synced) wakes every sender; a
 * watchdog ticks a few times per keepalive interval: it drops followers silent for longer than
 * {@link ReplicationOptions#timeout()} (also one that never sends its HELLO, or stops reading so
 * that the sender blocks), and lets the {@link ReplicationSlots} sample the WAL, persist their
 * positions and mark slots over {@code --max-slot-wal-keep} lost (their sessions end).
 *
 * <p>A bad client costs only its own connection: frames are length-checked before anything is
 * allocated, and any protocol error closes that session alone. Close the server before the store.
 * Thread-safe.
 */
public final class ReplicationServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ReplicationServer.class);

    /** One follower as /status shows it (see docs/OPERATIONS.md, "Replication"). */
    public record SessionInfo(String nodeId, String slot, String remote, String state, long startLsn, long sentLsn,
                              long writeLsn, long flushLsn, long replayLsn, long writeLagMs, long flushLagMs,
                              long replayLagMs) {
    }

    /** One slot as /status shows it. */
    public record SlotInfo(String name, long restartLsn, boolean lost, long retainedBytes, boolean active) {
    }

    private final Store store;
    private final ReplicationOptions options;
    private final InetSocketAddress bindAddress;
    private final AckTracker acks;
    private final Set<FollowerSession> sessions = ConcurrentHashMap.newKeySet();
    /**
     * Sessions whose threads may still run: an ended session leaves {@link #sessions} while its
     * sender can still be reading the WAL, and {@link #close} must wait for it before the store
     * closes (else the sender reads unmapped WAL: a JVM crash). Pruned as sessions start.
     */
    private final Set<FollowerSession> running = ConcurrentHashMap.newKeySet();
    private final AtomicLong threadIds = new AtomicLong();
    private final AtomicLong refusedOverLimit = new AtomicLong();
    private ReplicationSlots slots;
    private ServerSocket listener;
    private Thread acceptor;
    private ScheduledExecutorService watchdog;
    /**
     * Runs every session's receiver and sender. A session's threads block (a socket read, a park
     * until the durable LSN moves) for as long as it lives, so the pool never queues a task: a task
     * takes an idle thread, or a new one when all are busy (one slow session never waits for
     * another). No fixed cap: {@link ReplicationOptions#maxSessions()} already bounds the live
     * sessions, and a cap would refuse a reconnecting follower while its previous session's threads
     * are still ending. Idle threads never time out (one that did would leave the very registry
     * entry this pool avoids), so the pool holds as many threads as sessions ever ran at once: at
     * most two per session allowed, plus those of sessions that were still ending. They end in
     * {@link #close}.
     */
    private ThreadPoolExecutor sessionThreads;
    private Store.Registration durableListener;
    private volatile boolean closed;

    /** Binds nothing yet; {@link #start} does. Port 0: any free port. */
    public ReplicationServer(Store store, InetSocketAddress bind, ReplicationOptions options) {
        this(store, bind, options, SyncOptions.async());
    }

    /**
     * Binds nothing yet; {@link #start} does. Port 0: any free port.
     *
     * @param sync the leader's commit mode: the sessions feed their followers' flush LSNs to an
     *             {@link AckTracker} with these options ({@link #acks()})
     */
    public ReplicationServer(Store store, InetSocketAddress bind, ReplicationOptions options, SyncOptions sync) {
        this.store = store;
        this.bindAddress = bind;
        this.options = options;
        this.acks = new AckTracker(sync, store::durableLsn, System::nanoTime);
    }

    /** The followers' acks, which commits in a sync mode wait for. */
    /**
     * The older timelines this store's history runs through, each with the last LSN it shares with
     * this store's timeline (its fork LSN): a follower still on one of them, with nothing past that
     * LSN, is welcomed and told to switch (TIMELINE, docs/PROTOCOL.md). Empty: only this store's
     * own timeline is served. Set before or while serving; immutable map.
     */
    private volatile java.util.Map<Integer, Long> ancestors = java.util.Map.of();

    /** Serves followers on these ancestor timelines too (timeline → its fork LSN in this store's history). */
    public ReplicationServer withAncestors(java.util.Map<Integer, Long> forkLsnByTimeline) {
        this.ancestors = java.util.Map.copyOf(forkLsnByTimeline);
        return this;
    }

    private volatile java.util.function.Supplier<String> gate = () -> null;

    /**
     * Asks {@code gate} at every new connection: while it answers a reason (a leader whose lease says
     * another node leads: fenced, superseded by a newer timeline, or lost), the follower is refused
     * NOT_A_LEADER with it (retried with backoff), so no follower takes WAL of a history left behind.
     * Sessions already running ask it too, before every WAL or KEEPALIVE frame (after reading the
     * entries), and the watchdog wakes them when it closes: each then ends with REFUSE NOT_A_LEADER,
     * so its follower asks the lease where the leader is now, and no frame of this node keeps an
     * automatic-failover follower from electing one. Cheap and non-blocking (asked per frame). Before
     * {@link #start}.
     */
    public ReplicationServer withGate(java.util.function.Supplier<String> gate) {
        this.gate = java.util.Objects.requireNonNull(gate, "gate");
        return this;
    }

    /** Why this node must not serve followers now (the gate's reason), or null if it may. */
    String notLeading() {
        try {
            return gate.get();
        } catch (RuntimeException e) {
            return "cannot tell whether this node leads: " + Errors.oneLine(e);
        }
    }

    /** The fork LSN of {@code timeline} in this store's history, or null if it is not an ancestor. */
    Long ancestorForkLsn(int timeline) {
        return ancestors.get(timeline);
    }

    public AckTracker acks() {
        return acks;
    }

    /**
     * Loads the slots (scanning the WAL once to measure what they hold), binds the port and starts
     * accepting followers.
     *
     * @throws java.net.BindException the port is taken
     */
    public synchronized ReplicationServer start() throws IOException {
        slots = new ReplicationSlots(store, options.maxSlotWalKeep());
        ServerSocket s = options.sockets().createServerSocket();
        try {
            s.setReuseAddress(true);
            s.bind(bindAddress, 64);
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
        listener = s;
        // on the syncing thread: unpark only (a semi-sync commit waits for the send this starts)
        durableListener = store.onDurableWake(lsn -> {
            for (FollowerSession f : sessions) {
                f.wake();
            }
        });
        long tick = Math.max(10, Math.min(250, Math.min(options.keepalive().toMillis(), options.timeout().toMillis()) / 4));
        watchdog = Executors.newSingleThreadScheduledExecutor(r -> newThread(r, "walship-repl-watchdog"));
        sessionThreads = new ThreadPoolExecutor(0, Integer.MAX_VALUE, Long.MAX_VALUE, TimeUnit.NANOSECONDS,
                new SynchronousQueue<>(), r -> newThread(r, IDLE_SESSION_THREAD));
        watchdog.scheduleWithFixedDelay(this::tick, tick, tick, TimeUnit.MILLISECONDS);
        acceptor = newThread(this::acceptLoop, "walship-repl-accept");
        acceptor.start();
        LOG.info("replication endpoint listening on {} (at most {} followers{})", address(), options.maxSessions(),
                options.authToken() == null ? "" : ", token required");
        return this;
    }

    /** Where it listens (the actual port if it was given port 0). */
    public InetSocketAddress address() {
        return (InetSocketAddress) listener.getLocalSocketAddress();
    }

    /** How the accept loop waits after a failed accept; tests replace it ({@link #acceptPauseForTesting}). */
    interface Pause {
        void pause(long millis) throws InterruptedException;
    }

    static final long ACCEPT_BACKOFF_MIN_MILLIS = 10;
    static final long ACCEPT_BACKOFF_MAX_MILLIS = 1_000;
    private final Object acceptPauseLock = new Object();
    private volatile Pause acceptPause = millis -> {
        synchronized (acceptPauseLock) {
            if (!closed) {
                acceptPauseLock.wait(millis); // close() wakes it
            }
        }
    };

    void acceptPauseForTesting(Pause p) {
        acceptPause = p;
    }

    private void acceptLoop() {
        long backoff = 0;
        while (!closed) {
            Socket socket;
            try {
                socket = listener.accept();
                backoff = 0;
            } catch (IOException e) {
                if (closed) {
                    break;
                }
                // a failure that persists (no file descriptors left: EMFILE) would fail every accept
                // at once: back off (10 ms doubling to 1 s) instead of spinning and flooding the log
                backoff = backoff == 0 ? ACCEPT_BACKOFF_MIN_MILLIS : Math.min(ACCEPT_BACKOFF_MAX_MILLIS, backoff * 2);
                LOG.error("replication endpoint: accept failed: {}; retrying in {} ms", Errors.oneLine(e), backoff);
                try {
                    acceptPause.pause(backoff);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    break;
                }
                continue;
            }
            ReplConnection conn;
            try {
                conn = ReplConnection.accepted(listener, socket); // TLS with --tls-cert (Tls.serverSockets)
            } catch (IOException e) {
                LOG.warn("replication endpoint: a connection failed at once: {}", Errors.oneLine(e));
                continue;
            }
            if (closed) {
                refuseNow(conn, RefusalCode.NOT_A_LEADER, "the leader is shutting down");
                continue;
            }
            String notLeading = notLeading();
            if (notLeading != null) {
                LOG.warn("replication endpoint: refused {}: {}", conn.remote(), notLeading);
                refuseNow(conn, RefusalCode.NOT_A_LEADER, "this node does not lead: " + notLeading);
                continue;
            }
            if (sessions.size() >= options.maxSessions()) {
                refusedOverLimit.incrementAndGet();
                LOG.warn("replication endpoint: refused {}: already serving {} followers (the limit)", conn.remote(),
                        sessions.size());
                refuseNow(conn, RefusalCode.NOT_A_LEADER, "this leader already serves " + options.maxSessions()
                        + " followers, its limit; retry later");
                continue;
            }
            FollowerSession session = new FollowerSession(this, store, options, conn);
            running.removeIf(FollowerSession::threadsEnded);
            running.add(session);
            sessions.add(session);
            try {
                session.receiving(runSessionTask(session, "walship-repl-recv-" + conn.remote()));
            } catch (RuntimeException | OutOfMemoryError e) {
                sessions.remove(session);
                running.remove(session);
                if (closed) { // the pool was shut down meanwhile (close() after the check above)
                    refuseNow(conn, RefusalCode.NOT_A_LEADER, "the leader is shutting down");
                    continue;
                }
                LOG.error("replication endpoint: cannot start a session thread: {}", e.toString());
                refuseNow(conn, RefusalCode.NOT_A_LEADER, "the leader cannot start a session now");
            }
        }
    }

    /**
     * Refuses before reading the HELLO (at the session limit or shutting down): the frame is small
     * enough for the socket's send buffer, so this never blocks the accept loop.
     */
    private static void refuseNow(ReplConnection conn, RefusalCode code, String message) {
        try {
            conn.write(new Frame.Refuse(code, message));
        } catch (IOException e) {
            // the client is gone already
        } finally {
            conn.close();
        }
    }

    private void tick() {
        try {
            if (!sessions.isEmpty() && notLeading() != null) {
                // the gate closed: an idle sender would notice only at its next keepalive
                for (FollowerSession f : sessions) {
                    f.wake();
                }
            }
            long now = System.nanoTime();
            long timeout = options.timeout().toNanos();
            for (FollowerSession f : sessions) {
                long silent = now - f.lastReceivedNanos();
                long writing = f.writingSinceNanos();
                if (silent > timeout) {
                    LOG.warn("replication: {} sent nothing for {} ms (--repl-timeout {}); disconnecting it", f,
                            silent / 1_000_000, options.timeout());
                    f.close("timed out: nothing from the follower for " + silent / 1_000_000 + " ms");
                } else if (writing != 0 && now - writing > timeout) {
                    LOG.warn("replication: {} has not read what it was sent for {} ms (--repl-timeout {});"
                            + " disconnecting it", f, (now - writing) / 1_000_000, options.timeout());
                    f.close("timed out: the follower stopped reading");
                }
            }
            for (Object holder : slots.tick()) {
                if (holder instanceof FollowerSession f) {
                    f.close("its replication slot was marked lost");
                }
            }
        } catch (RuntimeException e) {
            LOG.error("replication watchdog: {}", Errors.oneLine(e), e);
        }
    }

    // ---- for sessions -----------------------------------------------------------------------------

    ReplicationSlots slots() {
        return slots;
    }

    void ended(FollowerSession s) {
        sessions.remove(s);
    }

    Thread newThread(Runnable r, String name) {
        Thread t = new Thread(r, name + "-" + threadIds.incrementAndGet());
        t.setDaemon(true);
        return t;
    }

    /** What an idle session thread is called (plus a number); while it runs a task it takes the task's name. */
    static final String IDLE_SESSION_THREAD = "walship-repl-session";

    /**
     * Runs a session's receiver or sender on a session thread, named {@code name} while it runs (as
     * a thread of its own was: thread dumps and logs tell the sessions apart).
     *
     * @throws java.util.concurrent.RejectedExecutionException the server is closing
     */
    Future<?> runSessionTask(Runnable task, String name) {
        return sessionThreads.submit(() -> {
            Thread t = Thread.currentThread();
            String idle = t.getName();
            t.setName(name + "-" + threadIds.incrementAndGet());
            try {
                task.run();
            } catch (Throwable e) { // the pool's Future would swallow it: say it
                LOG.error("replication session thread {} failed: {}", t.getName(), e.toString(), e);
                throw e;
            } finally {
                t.setName(idle);
            }
        });
    }

    // ---- status -----------------------------------------------------------------------------------

    /** The followers connected now. */
    public List<SessionInfo> sessions() {
        List<SessionInfo> out = new ArrayList<>();
        for (FollowerSession f : sessions) {
            FollowerSession.Status s = f.status();
            out.add(new SessionInfo(s.nodeId(), s.slot(), s.remote(), s.state(), s.startLsn(), s.sentLsn(),
                    s.writeLsn(), s.flushLsn(), s.replayLsn(), s.writeLagMs(), s.flushLagMs(), s.replayLagMs()));
        }
        out.sort((a, b) -> (a.nodeId() + a.remote()).compareTo(b.nodeId() + b.remote()));
        return out;
    }

    /** Every slot, lost ones too. */
    public List<SlotInfo> slotList() {
        List<SlotInfo> out = new ArrayList<>();
        for (ReplicationSlots.Status s : slots.status()) {
            out.add(new SlotInfo(s.name(), s.restartLsn(), s.lost(), s.retainedBytes(), s.active()));
        }
        return out;
    }

    /** Slots marked lost since the server started. */
    public long slotsLostTotal() {
        return slots.lostTotal();
    }

    /** Connections refused because the session limit was reached. */
    public long refusedOverLimit() {
        return refusedOverLimit.get();
    }

    /** Stops accepting, ends every session, persists the slots. Idempotent. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed || listener == null) {
                closed = true;
                acks.close();
                return;
            }
            closed = true;
        }
        acks.close();
        try {
            listener.close();
        } catch (IOException e) {
            LOG.warn("closing the replication listener: {}", Errors.oneLine(e));
        }
        synchronized (acceptPauseLock) {
            acceptPauseLock.notifyAll();
        }
        if (durableListener != null) {
            durableListener.close();
        }
        watchdog.shutdownNow();
        sessionThreads.shutdown(); // idle threads end now, busy ones once their session has ended
        List<FollowerSession> ending = new ArrayList<>(sessions);
        for (FollowerSession f : ending) {
            f.close("the leader is shutting down");
        }
        ending = new ArrayList<>(running); // also those that ended on their own but whose sender may still read
        try {
            watchdog.awaitTermination(5, TimeUnit.SECONDS); // a tick reads the store: done before it closes
            acceptor.join(5_000);
            // the senders read the store's WAL: they must be done before the store closes
            for (FollowerSession f : ending) {
                f.awaitThreads(5_000);
            }
            sessionThreads.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        slots.persistAll();
    }
}
