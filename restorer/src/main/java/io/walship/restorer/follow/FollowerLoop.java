package io.walship.restorer.follow;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import javax.net.SocketFactory;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLSocketFactory;

import io.walship.archive.ObjectStore;
import io.walship.protocol.HostPort;
import io.walship.protocol.StatusResponse;
import io.walship.protocol.repl.Frame;
import io.walship.protocol.repl.ProtocolException;
import io.walship.protocol.repl.RefusalCode;
import io.walship.protocol.repl.ReplConnection;
import io.walship.wal.Durability;
import io.walship.wal.EntryCodec;
import io.walship.wal.Errors;
import io.walship.wal.IntegrityException;
import io.walship.wal.Lsn;
import io.walship.wal.StorageFullException;
import io.walship.wal.Store;
import io.walship.wal.StoreFailedException;
import io.walship.wal.WalEntry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The follower loop (PostgreSQL's standby loop) on an open standby store, on its own thread:
 *
 * <ol>
 *   <li><b>archive</b> (with an archive): apply every WAL segment newer than the store
 *       ({@link ArchiveCatchUp}) until nothing newer is there;</li>
 *   <li><b>connecting</b>: HELLO to the leader (system id, timeline, start LSN = last applied + 1,
 *       slot, token, node id); WELCOME starts the stream, REFUSE says why not;</li>
 *   <li><b>stream</b>: a receiver thread reads frames into a small bounded queue; this thread
 *       decodes and CRC-checks the entries of every frame received so far, checks that they
 *       continue the store's LSNs without a gap, writes them to the follower's own WAL and pages
 *       with one sync ({@link Store#applyAll}), and acknowledges with a FEEDBACK (also sent on
 *       every KEEPALIVE that asks). No frame for {@code replTimeout} means a dead leader;</li>
 *   <li><b>backoff</b>: a lost connection, a protocol error, a bad entry or a refusal that may pass
 *       (SLOT_IN_USE, NOT_A_LEADER) is retried after a jittered, bounded, seeded {@link Backoff};
 *       WAL_NOT_AVAILABLE sends the loop back to the archive, then to the stream again.</li>
 * </ol>
 *
 * <p>SLOT_LOST with an archive sends the loop back to the archive and keeps retrying (with
 * backoff) until the operator recreates the slot on the leader. It stops for good
 * ({@link #failure()}, a {@link FollowerStoppedException}) on SYSTEM_ID_MISMATCH, UNKNOWN_TIMELINE,
 * FOLLOWER_AHEAD, AUTH_FAILED and UNSUPPORTED_VERSION, on WAL_NOT_AVAILABLE or SLOT_LOST without
 * an archive, and when the store itself fails (with several leader addresses: only when every one
 * refuses for good; a refusal from some while others cannot be reached is retried). A leader on a
 * newer timeline whose history runs through this follower's announces it with TIMELINE after
 * WELCOME; with nothing past the fork the follower switches its timeline
 * ({@link Store#switchTimeline}) and streams on. Nothing is ever skipped:
 * an entry that does not continue the store is never applied. Its state is published for
 * {@code /status} ({@link #status()}). Thread-safe.
 */
public final class FollowerLoop implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(FollowerLoop.class);

    /**
     * @param leaders        the replication addresses the leader may be at (one, or several after a
     *                       failover: each is asked, and the one on the newest timeline is followed)
     * @param slot           replication slot name ("" for none)
     * @param authToken      the shared secret ("" for none)
     * @param nodeId         this follower's name in the leader's /status
     * @param replTimeout    no frame from the leader for this long: it is presumed dead
     * @param connectTimeout how long a TCP connect may take
     * @param backoffMin     first wait before reconnecting
     * @param backoffMax     longest wait before reconnecting
     * @param seed           seeds the backoff jitter
     * @param archiveParallel segments fetched ahead during archive catch-up
     */
    public record Options(List<HostPort> leaders, String slot, String authToken, String nodeId, Duration replTimeout,
                          Duration connectTimeout, Duration backoffMin, Duration backoffMax, long seed,
                          int archiveParallel) {
        public Options {
            leaders = List.copyOf(leaders);
            if (leaders.isEmpty()) {
                throw new IllegalArgumentException("at least one leader address is needed");
            }
            slot = slot == null ? "" : slot;
            authToken = authToken == null ? "" : authToken;
            nodeId = nodeId == null ? "" : nodeId;
        }

        public static Options defaults(HostPort leader) {
            return defaults(List.of(leader));
        }

        public static Options defaults(List<HostPort> leaders) {
            return new Options(leaders, "", "", "", Duration.ofSeconds(10), Duration.ofSeconds(5), Duration.ofMillis(100),
                    Duration.ofSeconds(10), System.nanoTime(), 4);
        }

        /** The first (with one address, the only) leader address. */
        public HostPort leader() {
            return leaders.get(0);
        }

        public Options withSlot(String s) {
            return new Options(leaders, s, authToken, nodeId, replTimeout, connectTimeout, backoffMin, backoffMax, seed, archiveParallel);
        }

        public Options withAuthToken(String t) {
            return new Options(leaders, slot, t, nodeId, replTimeout, connectTimeout, backoffMin, backoffMax, seed, archiveParallel);
        }

        public Options withNodeId(String n) {
            return new Options(leaders, slot, authToken, n, replTimeout, connectTimeout, backoffMin, backoffMax, seed, archiveParallel);
        }

        public Options withReplTimeout(Duration d) {
            return new Options(leaders, slot, authToken, nodeId, d, connectTimeout, backoffMin, backoffMax, seed, archiveParallel);
        }

        public Options withBackoff(Duration min, Duration max, long s) {
            return new Options(leaders, slot, authToken, nodeId, replTimeout, connectTimeout, min, max, s, archiveParallel);
        }
    }

    /**
     * Where else the leader may be, asked before every connection (the archive's leader lease:
     * {@code LiveFollower.leaseSource}, its {@code replUrl}). Its addresses come first, then
     * {@link Options#leaders}; every one is asked and the newest timeline wins, on the same timeline
     * an address of the options (so a cascading follower stays on its upstream follower); a failing
     * source is logged and the options used.
     */
    @FunctionalInterface
    public interface LeaderSource {
        List<HostPort> leaders();
    }

    /** Where the loop is. */
    public enum State {
        ARCHIVE, CONNECTING, STREAM, BACKOFF, STOPPED;

        public String label() {
            return name().toLowerCase();
        }
    }

    /**
     * A REFUSE in the middle of a session (the leader stopped leading): an IOException to get out of
     * {@link #drain}, turned into {@link Refused} by the session, so the loop handles it like a
     * refused HELLO (NOT_A_LEADER: back off, then ask the leader source again).
     */
    static final class RefusedMidStream extends IOException {
        final RefusalCode code;

        RefusedMidStream(RefusalCode code, String message) {
            super(message);
            this.code = code;
        }
    }

    /** The leader said no. */
    private static final class Refused extends Exception {
        final RefusalCode code;

        Refused(RefusalCode code, String message) {
            super(message);
            this.code = code;
        }
    }

    private final Store store;
    private final ObjectStore archive;
    private final Options options;
    private final SocketFactory sockets;
    private final Clock clock;
    private final Backoff backoff;
    private final Object sleeper = new Object();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final AtomicLong reconnects = new AtomicLong();
    private final AtomicLong streamedEntries = new AtomicLong();
    private final AtomicLong archivedEntries = new AtomicLong();
    private volatile State state = State.CONNECTING;
    private volatile String source = "archive";
    private volatile String leaderUrl;
    /** The address followed now (or last): one of {@link Options#leaders}. */
    private volatile HostPort leaderAt;
    private volatile LeaderSource leaderSource;
    private volatile boolean leadersOnly;
    private volatile long leaderLsn = -1;
    private volatile long lastContactMicros;
    /** Monotonic time of the last frame from a leader (WAL or KEEPALIVE), or of the loop's creation. */
    private volatile long lastContactNanos = System.nanoTime();
    private volatile String lastError;
    private volatile Throwable failure;
    private volatile ReplConnection current;
    private volatile boolean closed;
    private volatile java.util.function.Consumer<Duration> pauseRecorder;
    private Thread thread;

    /** @param archive the archive to catch up from, or null (stream only) */
    public FollowerLoop(Store store, ObjectStore archive, Options options) {
        this(store, archive, options, SocketFactory.getDefault(), Clock.systemUTC());
    }

    /**
     * With the socket factory ({@link io.walship.protocol.tls.Tls#clientSockets} for a TLS leader) and the
     * clock lag is measured with.
     */
    public FollowerLoop(Store store, ObjectStore archive, Options options, SocketFactory sockets, Clock clock) {
        this.store = Objects.requireNonNull(store, "store");
        if (!store.standby()) {
            throw new IllegalArgumentException(store.dir() + " is not a standby: a follower applies its leader's WAL only");
        }
        this.archive = archive;
        this.options = Objects.requireNonNull(options, "options");
        this.sockets = sockets;
        this.clock = clock;
        this.backoff = new Backoff(options.backoffMin(), options.backoffMax(), options.seed());
        this.leaderAt = options.leader();
    }

    /** Also asks {@code source} where the leader is (before {@link #start}). */
    public FollowerLoop withLeaderSource(LeaderSource source) {
        this.leaderSource = Objects.requireNonNull(source, "source");
        return this;
    }

    /**
     * Streams from leaders only (before {@link #start}): an address that welcomes this follower as a
     * cascading follower ({@link #isFollowerIdentity}) is closed and skipped. Automatic failover needs
     * it: its heartbeat is the leader's, and two followers listing each other could otherwise stream
     * from one another after the leader died, each keeping the other's heartbeat alive.
     */
    public FollowerLoop leadersOnly() {
        this.leadersOnly = true;
        return this;
    }

    /** Whether a WELCOME's node id is a cascading follower's ({@code walship follow --repl} says "follower HOST:PORT"). */
    public static boolean isFollowerIdentity(String leaderNodeId) {
        return leaderNodeId != null && leaderNodeId.startsWith(FOLLOWER_IDENTITY);
    }

    /** How a cascading follower's replication server names itself in WELCOME (then its --http). */
    public static final String FOLLOWER_IDENTITY = "follower ";

    /** The addresses to try now: the leader source's first, then the configured ones, without repeats. */
    private List<HostPort> candidates() {
        LeaderSource src = leaderSource;
        if (src == null) {
            return options.leaders();
        }
        java.util.LinkedHashSet<HostPort> all = new java.util.LinkedHashSet<>();
        try {
            all.addAll(src.leaders());
        } catch (RuntimeException e) {
            LOG.warn("could not learn where the leader is ({}); trying {}", Errors.oneLine(e), label(options.leaders()));
        }
        all.addAll(options.leaders());
        return List.copyOf(all);
    }

    public synchronized FollowerLoop start() {
        if (thread != null) {
            throw new IllegalStateException("already started");
        }
        LOG.info("following {} from LSN {} (timeline {}); backoff seed {}", label(options.leaders()),
                Lsn.format(store.lastLsn() + 1), store.timeline(), options.seed());
        thread = new Thread(this::run, "walship-follower");
        thread.setDaemon(true);
        thread.start();
        return this;
    }

    private void run() {
        boolean needArchive = archive != null;
        try {
            while (!closed) {
                boolean fromArchive = needArchive;
                long appliedFromArchive = 0;
                if (needArchive) {
                    state = State.ARCHIVE;
                    source = "archive";
                    try {
                        ArchiveCatchUp.Result r = ArchiveCatchUp.run(archive, store, options.archiveParallel(), () -> closed);
                        appliedFromArchive = r.entries();
                        archivedEntries.addAndGet(r.entries());
                        if (r.entries() > 0) {
                            LOG.info("archive catch-up applied {} entries from {} segment(s), now at LSN {}", r.entries(),
                                    r.segments(), Lsn.format(r.lsn()));
                        }
                    } catch (StoreFailedException | io.walship.archive.EncryptionKeyException e) {
                        throw e; // a missing or wrong archive key: retrying cannot help (exit 2)
                    } catch (RuntimeException e) {
                        // the leader's stream may still have these entries; nothing is skipped either way
                        lastError = "archive: " + Errors.oneLine(e);
                        LOG.error("archive catch-up stopped at LSN {}: {}", Lsn.format(store.lastLsn()), lastError);
                    }
                    needArchive = false;
                    if (closed) {
                        break;
                    }
                }
                state = State.CONNECTING;
                try {
                    stream();
                } catch (Refused r) {
                    switch (r.code) {
                        case WAL_NOT_AVAILABLE -> {
                            if (archive == null) {
                                throw new FollowerStoppedException(r.code, "the leader no longer has WAL from LSN "
                                        + Lsn.format(store.lastLsn() + 1) + " and this follower has no --archive to catch"
                                        + " up from: rebuild it (empty --data) or give it --archive (" + r.getMessage() + ")");
                            }
                            LOG.warn("the leader no longer has WAL from LSN {}: catching up from the archive ({})",
                                    Lsn.format(store.lastLsn() + 1), r.getMessage());
                            needArchive = true;
                            lastError = r.code + ": " + r.getMessage();
                            if (!fromArchive || appliedFromArchive > 0) {
                                continue; // straight back to the archive
                            }
                            // the archive had nothing newer either: wait for it to catch up
                        }
                        case SLOT_LOST -> {
                            if (archive == null) {
                                throw new FollowerStoppedException(r.code, "the leader at " + leaderAt
                                        + " refused this follower: " + r.code + ": " + r.getMessage() + advice(r.code));
                            }
                            // the leader released the slot's WAL; the archive has it. Keep following from the
                            // archive and keep asking, until the operator recreates the slot
                            lastError = r.code + ": " + r.getMessage();
                            LOG.error("replication slot '{}' is lost on the leader ({}); following the archive meanwhile."
                                    + " Recreate the slot (delete slots/{}.lost in the leader's data directory) or"
                                    + " restart this follower without --slot", options.slot(), r.getMessage(), options.slot());
                            needArchive = true;
                        }
                        case SLOT_IN_USE, NOT_A_LEADER -> lastError = r.code + ": " + r.getMessage();
                        default -> throw new FollowerStoppedException(r.code, "the leader at " + leaderAt
                                + " refused this follower: " + r.code + ": " + r.getMessage() + advice(r.code));
                    }
                } catch (StoreFailedException e) {
                    throw e;
                } catch (StorageFullException e) {
                    // as on a leader, a full disk refuses the entry and the store goes on: wait (backoff)
                    // and stream again from the last entry applied once there is room
                    lastError = Errors.oneLine(e);
                    LOG.error("no space for this follower's WAL at LSN {}; retrying: {}", Lsn.format(store.lastLsn() + 1),
                            lastError);
                } catch (IOException | IntegrityException e) {
                    lastError = Errors.oneLine(e);
                    LOG.warn("replication from {} ended at LSN {}: {}", leaderAt, Lsn.format(store.lastLsn()), lastError);
                }
                if (closed) {
                    break;
                }
                reconnects.incrementAndGet();
                state = State.BACKOFF;
                pause(backoff.next());
            }
        } catch (Throwable t) {
            failure = t;
            lastError = Errors.oneLine(t);
            LOG.error("the follower has stopped: {}", lastError);
        } finally {
            state = State.STOPPED;
            stopped.countDown();
        }
    }

    private static String advice(RefusalCode code) {
        return switch (code) {
            case SYSTEM_ID_MISMATCH -> "; this follower belongs to another store: rebuild it from an empty --data";
            case UNKNOWN_TIMELINE -> "; its timeline cannot follow the leader's: rebuild it from an empty --data";
            case FOLLOWER_AHEAD -> "; it holds WAL the leader never had: rebuild it from an empty --data";
            case AUTH_FAILED -> "; check --auth-token-file against the leader's";
            case SLOT_LOST -> "; the slot fell too far behind and was released, and there is no --archive to follow"
                    + " meanwhile: recreate it (delete slots/NAME.lost in the leader's data directory) or run without --slot";
            default -> "";
        };
    }

    /** "A" or "A, B, C". */
    private static String label(List<HostPort> leaders) {
        StringBuilder b = new StringBuilder();
        for (HostPort h : leaders) {
            b.append(b.length() == 0 ? "" : ", ").append(h);
        }
        return b.toString();
    }

    /** A connection that got WELCOME after this follower's HELLO. */
    private record Opened(ReplConnection conn, Frame.Welcome welcome, HostPort at, long startLsn) {
    }

    /**
     * Connects to {@code at} and says HELLO; returns the welcomed connection (the caller closes it),
     * or throws the refusal or the failure.
     */
    private Opened open(HostPort at) throws IOException, Refused {
        boolean tls = sockets instanceof SSLSocketFactory;
        ReplConnection c;
        try {
            c = ReplConnection.connect(sockets, at, options.connectTimeout());
        } catch (SSLHandshakeException e) {
            if (untrusted(e)) {
                // retrying cannot help: the trust (--leader-tls-ca) is fixed for this process's life
                throw new FollowerStoppedException(null, "the leader at " + at + " presented a TLS"
                        + " certificate this follower does not trust: " + Errors.oneLine(e) + "; give --leader-tls-ca"
                        + " FILE with the CA that signed the leader's --tls-cert, and make that certificate name the"
                        + " host in --leader");
            }
            throw new IOException("TLS handshake with " + at + " failed (does its --repl serve TLS,"
                    + " i.e. was it started with --tls-cert?): " + Errors.oneLine(e), e);
        }
        current = c;
        boolean ok = false;
        try {
            if (closed) {
                throw new IOException("the follower is closing");
            }
            c.readTimeout(options.replTimeout());
            // from the durable LSN, not the last applied: the leader counts start - 1 as flushed here
            // (its acks, its slot), and an entry applied but not yet synced could still be lost in a
            // crash of this machine; entries sent again up to the last applied one are skipped
            long start = store.durableLsn() + 1;
            c.write(new Frame.Hello(Frame.VERSION, store.systemId(), store.timeline(), start, options.slot(),
                    options.authToken(), options.nodeId()));
            Frame first;
            try {
                first = c.read();
            } catch (IOException e) {
                if (tls || closed) {
                    throw e;
                }
                throw new IOException("no answer to HELLO from " + at + " (" + Errors.oneLine(e)
                        + "); if its --repl serves TLS (--tls-cert), give this follower --leader-tls or --leader-tls-ca", e);
            }
            if (first instanceof Frame.Refuse r) {
                throw new Refused(r.code(), r.message());
            }
            if (!(first instanceof Frame.Welcome w)) {
                throw new ProtocolException("expected WELCOME or REFUSE after HELLO, got frame type " + first.type());
            }
            if (w.systemId() != store.systemId()) {
                throw new Refused(RefusalCode.SYSTEM_ID_MISMATCH, "the leader's system id is " + Long.toHexString(w.systemId())
                        + ", this follower's " + Long.toHexString(store.systemId()));
            }
            ok = true;
            return new Opened(c, w, at, start);
        } finally {
            if (!ok) {
                c.close();
                current = null;
            }
        }
    }

    /**
     * The leader to stream from: with one address, that one; with several, every one is asked (HELLO)
     * and the one that welcomes this follower on the newest timeline (then: the highest durable LSN,
     * then: the first listed) is kept, the other connections closed. When none welcomes it: a refusal
     * that sends the loop to the archive wins, then a fatal refusal if every address gave one, else the
     * failure is passed on as transient (a dead old leader and a new one not yet up are retried).
     */
    private Opened select() throws IOException, Refused {
        List<HostPort> all = candidates();
        if (all.size() == 1) {
            leaderAt = all.get(0);
            return notACascade(open(all.get(0)));
        }
        Opened best = null;
        Refused toArchive = null;
        Refused fatal = null;
        int fatalCount = 0;
        List<String> why = new ArrayList<>();
        for (HostPort at : all) {
            if (closed) {
                break;
            }
            try {
                Opened o = notACascade(open(at));
                if (best == null || better(o, best)) {
                    if (best != null) {
                        best.conn().close();
                    }
                    best = o;
                } else {
                    o.conn().close();
                }
            } catch (Refused r) {
                why.add(at + ": " + r.code + ": " + r.getMessage());
                switch (r.code) {
                    case WAL_NOT_AVAILABLE, SLOT_LOST -> toArchive = toArchive == null ? r : toArchive;
                    case SLOT_IN_USE, NOT_A_LEADER -> { }
                    default -> {
                        fatal = fatal == null ? r : fatal;
                        fatalCount++;
                    }
                }
            } catch (IOException e) {
                why.add(at + ": " + Errors.oneLine(e));
            }
        }
        current = best == null ? null : best.conn();
        if (best != null) {
            leaderAt = best.at();
            return best;
        }
        if (toArchive != null) {
            throw toArchive;
        }
        if (fatal != null && fatalCount == all.size()) {
            throw fatal;
        }
        throw new IOException("no leader among " + label(all) + " welcomed this follower: " + String.join("; ", why));
    }

    /** {@code o}, unless this loop streams from leaders only and {@code o} is a cascading follower (closed, IOException). */
    private Opened notACascade(Opened o) throws IOException {
        if (leadersOnly && isFollowerIdentity(o.welcome().leaderNodeId())) {
            o.conn().close();
            throw new IOException(o.at() + " is a follower (" + o.welcome().leaderNodeId() + "), not a leader: with"
                    + " automatic failover this follower streams from the leader only");
        }
        return o;
    }

    /**
     * Whether {@code a} is a better leader than {@code b}: a newer timeline; on the same timeline an
     * address of {@link Options#leaders} over one only the {@link LeaderSource} named (a cascading
     * follower keeps its upstream follower rather than move to the leader the lease names), else more
     * durable WAL.
     */
    private boolean better(Opened a, Opened b) {
        Frame.Welcome wa = a.welcome();
        Frame.Welcome wb = b.welcome();
        int t = Integer.compareUnsigned(wa.leaderTimeline(), wb.leaderTimeline());
        if (t != 0) {
            return t > 0;
        }
        boolean ca = options.leaders().contains(a.at());
        boolean cb = options.leaders().contains(b.at());
        if (ca != cb) {
            return ca;
        }
        return Long.compareUnsigned(wa.leaderDurableLsn(), wb.leaderDurableLsn()) > 0;
    }

    /** One replication session; returns only when closing. */
    private void stream() throws IOException, Refused {
        Opened o;
        try {
            o = select();
        } catch (IOException e) {
            if (closed) {
                return;
            }
            throw e;
        }
        ReplConnection c = o.conn();
        current = c;
        try (c) {
            if (closed) {
                return;
            }
            Frame.Welcome w = o.welcome();
            if (w.leaderTimeline() != store.timeline()) {
                switchTimeline(c, w);
            }
            contact(w.leaderDurableLsn());
            leaderUrl = w.leaderHttpUrl().isEmpty() ? null : w.leaderHttpUrl();
            state = State.STREAM;
            source = "stream";
            lastError = null;
            LOG.info("streaming from {} ({}, timeline {}, durable LSN {}) from LSN {} (applying from {})", o.at(),
                    w.leaderNodeId().isEmpty() ? "leader" : w.leaderNodeId(), w.leaderTimeline(),
                    Lsn.format(w.leaderDurableLsn()), Lsn.format(o.startLsn()), Lsn.format(store.lastLsn() + 1));
            // one thread receives (and decodes) frames while this one writes, applies and syncs: the
            // frames that arrive during a sync are applied together with the next single sync
            Receiver receiver = new Receiver(c);
            try {
                long echo = 0;
                // the highest LSN this session has received (skipped ones too): FEEDBACK names none
                // past it, or the leader would end the session (HELLO's start - 1 is what it claimed)
                long received = o.startLsn() - 1;
                while (!closed) {
                    Drained d = drain(receiver.take(), receiver::poll, store.lastLsn() + 1, echo, MAX_BATCH_ENTRIES,
                            MAX_BATCH_BYTES);
                    echo = d.echo();
                    received = Math.max(received, d.highestLsn());
                    if (!d.entries().isEmpty()) {
                        store.applyAll(d.entries(), Durability.DURABLE); // syncs what was applied before too
                        streamedEntries.addAndGet(d.entries().size());
                    } else if (store.durableLsn() < store.lastLsn()) {
                        // only entries applied before and not yet synced came: sync them before the FEEDBACK
                        store.awaitDurable(store.lastLsn(), options.replTimeout());
                    }
                    contact(d.leaderDurable());
                    if (d.reply()) {
                        feedback(c, echo, received);
                    }
                    // progress (entries applied, or a healthy idle leader heard): the next failure
                    // starts the backoff again from its minimum; a WELCOME alone does not, or a leader
                    // that fails every session right after it would be retried at the minimum for ever
                    backoff.reset();
                }
            } finally {
                receiver.stop();
            }
        } catch (RefusedMidStream e) {
            if (closed) {
                return;
            }
            LOG.warn("{} ended the session: {}: {}", o.at(), e.code, e.getMessage());
            throw new Refused(e.code, e.getMessage());
        } catch (IOException e) {
            if (closed) {
                return;
            }
            throw e;
        } finally {
            current = null;
        }
    }

    /**
     * The leader welcomed this follower on another timeline: it must be a newer one whose history runs
     * through this follower's, announced by TIMELINE right after WELCOME with the fork LSN, and this
     * follower must have nothing past the fork. Then the store switches (durably) before any entry of
     * the new timeline arrives (PostgreSQL's recovery_target_timeline=latest).
     */
    private void switchTimeline(ReplConnection c, Frame.Welcome w) throws IOException, Refused {
        Frame next = c.read();
        if (!(next instanceof Frame.TimelineSwitch t) || t.newTimeline() != w.leaderTimeline()
                || Integer.compareUnsigned(t.newTimeline(), store.timeline()) <= 0) {
            // the leader should have refused: its WAL belongs to another history, which this follower must not take
            throw new Refused(RefusalCode.UNKNOWN_TIMELINE, "the leader welcomed this follower on timeline "
                    + Integer.toUnsignedString(w.leaderTimeline()) + ", this follower is on timeline "
                    + store.timeline() + ", and it did not announce a switch from it");
        }
        if (store.lastLsn() > t.forkLsn()) {
            throw new Refused(RefusalCode.FOLLOWER_AHEAD, "the leader's timeline " + Integer.toUnsignedString(t.newTimeline())
                    + " forked from timeline " + store.timeline() + " after LSN " + Lsn.format(t.forkLsn())
                    + ", and this follower has WAL up to " + Lsn.format(store.lastLsn()) + " past it");
        }
        LOG.info("the leader at {} is on timeline {}, forked from this follower's timeline {} after LSN {}: switching",
                leaderAt, Integer.toUnsignedString(t.newTimeline()), store.timeline(), Lsn.format(t.forkLsn()));
        store.switchTimeline(t.newTimeline(), t.forkLsn());
    }

    /** Whether a handshake failed because the leader's certificate is not trusted or does not name it. */
    static boolean untrusted(SSLHandshakeException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof java.security.cert.CertificateException) {
                return true;
            }
        }
        return false;
    }

    /** Entries applied with one sync at most (frames received meanwhile are joined up to this). */
    static final int MAX_BATCH_ENTRIES = 16_384;
    /**
     * Entry bytes applied with one sync at most: frames keep arriving while the applier decodes, so
     * a bound on entries alone would let a batch of large entries grow to gigabytes (16,384 × up to
     * 8 MiB). One frame more than this may be in it (a frame is taken whole).
     */
    static final long MAX_BATCH_BYTES = 64L << 20;

    /** What one round of the applier took off the receiver's queue. */
    record Drained(List<WalEntry> entries, long entryBytes, boolean reply, long echo, long leaderDurable,
                   long highestLsn) {
    }

    /**
     * Takes {@code first} and then, without waiting, whatever else the receiver has queued, up to
     * {@code maxEntries} entries or {@code maxBytes} entry bytes: decodes and CRC-checks every
     * entry and checks that they run on from {@code expect} without a gap (else a
     * {@link ProtocolException}: nothing of it is applied); entries below {@code expect} before
     * the first new one are skipped (applied here already: the stream starts at the durable LSN
     * + 1, which may be below the last applied one). A queued read error is thrown.
     */
    static Drained drain(Object first, java.util.function.Supplier<Object> poll, long expect, long echo, int maxEntries,
                         long maxBytes) throws IOException {
        List<WalEntry> batch = new ArrayList<>();
        long bytes = 0;
        boolean reply = false;
        long leaderDurable = -1;
        long highest = -1;
        Object next = first;
        while (next != null) {
            if (next instanceof IOException e) {
                throw e;
            }
            Frame f = (Frame) next;
            if (f instanceof Frame.Wal wal) {
                for (Frame.Entry en : wal.entries()) {
                    WalEntry e = EntryCodec.decode(en.bytes()); // checks the CRC and the format version
                    highest = Math.max(highest, en.lsn());
                    if (e.lsn() == en.lsn() && e.lsn() < expect && batch.isEmpty()) {
                        continue; // applied here already (the stream starts at the durable LSN + 1): skip
                    }
                    if (e.lsn() != en.lsn() || e.lsn() != expect) {
                        throw new ProtocolException("WAL frame entry " + Lsn.format(en.lsn()) + " holds LSN "
                                + Lsn.format(e.lsn()) + " where LSN " + Lsn.format(expect) + " belongs");
                    }
                    batch.add(e);
                    bytes += en.bytes().length;
                    expect++;
                }
                echo = wal.leaderSendMicros();
                leaderDurable = Math.max(leaderDurable, wal.leaderDurableLsn());
                reply = true;
            } else if (f instanceof Frame.Keepalive k) {
                echo = k.leaderSendMicros();
                leaderDurable = Math.max(leaderDurable, k.leaderDurableLsn());
                reply |= k.replyRequested();
            } else if (f instanceof Frame.Refuse r) {
                // a leader that stopped leading mid-session (fenced, lost or superseded lease) ends it so
                throw new RefusedMidStream(r.code(), r.message());
            } else if (f instanceof Frame.TimelineSwitch t) {
                throw new IOException("the leader moved to timeline " + t.newTimeline() + " at LSN "
                        + Lsn.format(t.forkLsn()) + "; reconnecting");
            } else {
                throw new ProtocolException("unexpected frame type " + f.type() + " from the leader");
            }
            next = batch.size() < maxEntries && bytes < maxBytes ? poll.get() : null;
        }
        return new Drained(batch, bytes, reply, echo, leaderDurable, highest);
    }

    /**
     * Reads frames off the connection on its own thread into a small bounded queue (back-pressure
     * to the leader through TCP when the follower applies slower than it receives); a read error —
     * a closed connection, a timeout, a bad frame — is queued as the last element.
     */
    private final class Receiver {
        private final java.util.concurrent.BlockingQueue<Object> queue = new java.util.concurrent.ArrayBlockingQueue<>(64);
        private final Thread thread;
        private volatile boolean stopped;

        Receiver(ReplConnection c) {
            thread = new Thread(() -> {
                try {
                    while (!stopped) {
                        put(c.read());
                    }
                } catch (IOException e) {
                    put(e);
                } catch (RuntimeException e) {
                    put(new ProtocolException("bad frame from the leader: " + Errors.oneLine(e)));
                } catch (Throwable t) {
                    // an Error (say, no heap for a frame): the applier waits on this queue, so it must
                    // hear of it, or it would wait for ever; the session ends and is retried
                    put(new IOException("the replication receiver failed: " + t, t));
                }
            }, "walship-follower-recv");
            thread.setDaemon(true);
            thread.start();
        }

        private void put(Object o) {
            try {
                while (!stopped && !queue.offer(o, 100, TimeUnit.MILLISECONDS)) {
                    // the applier is busy: wait (TCP pushes back on the leader meanwhile)
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        /** The next frame (or the read error), waiting for it. */
        Object take() throws IOException {
            try {
                return queue.take();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted");
            }
        }

        /** A frame already received, or null. */
        Object poll() {
            return queue.poll();
        }

        void stop() {
            stopped = true;
        }
    }

    private void contact(long leaderDurable) {
        leaderLsn = Math.max(leaderLsn, leaderDurable);
        lastContactMicros = nowMicros();
        lastContactNanos = System.nanoTime();
    }

    /** Whether a leader has sent this loop any frame yet. */
    public boolean heardFromLeader() {
        return lastContactMicros != 0;
    }

    /**
     * How long (monotonic) since a leader last sent a frame (WAL or KEEPALIVE), or since this loop
     * was made if none has yet: the heartbeat automatic failover watches.
     */
    public Duration sinceContact() {
        return Duration.ofNanos(Math.max(0, System.nanoTime() - lastContactNanos));
    }

    /**
     * Flushed is the durable LSN, never the applied one: the leader's acks count it as on this disk.
     * Neither goes past {@code received}, the highest LSN this session has received: after a HELLO
     * from the durable LSN, entries applied (and maybe synced since) before it are sent again a
     * frame at a time, and a FEEDBACK naming an LSN the leader has not sent yet is a protocol error
     * that ends the session (docs/PROTOCOL.md).
     */
    private void feedback(ReplConnection c, long echo, long received) throws IOException {
        long applied = Math.min(store.lastLsn(), received);
        c.write(new Frame.Feedback(applied, Math.min(store.durableLsn(), received), applied, nowMicros(), echo));
    }

    private long nowMicros() {
        Instant i = clock.instant();
        return i.getEpochSecond() * 1_000_000L + i.getNano() / 1_000;
    }

    /** Test hook: record the backoff waits instead of waiting (call before {@link #start}). */
    void pauseForTesting(java.util.function.Consumer<Duration> recorder) {
        pauseRecorder = recorder;
    }

    private void pause(Duration d) {
        java.util.function.Consumer<Duration> recorder = pauseRecorder;
        if (recorder != null) {
            recorder.accept(d);
            return;
        }
        long end = System.nanoTime() + d.toNanos();
        synchronized (sleeper) {
            long left;
            while (!closed && (left = end - System.nanoTime()) > 0) {
                try {
                    TimeUnit.NANOSECONDS.timedWait(sleeper, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    // ---- status -----------------------------------------------------------------------------

    public State state() {
        return state;
    }

    public Store store() {
        return store;
    }

    /** Why the loop stopped for good, or null while it runs (or after a clean close). */
    public Throwable failure() {
        return failure;
    }

    /** Entries applied from the stream and from the archive since start. */
    public long streamedEntries() {
        return streamedEntries.get();
    }

    public long archivedEntries() {
        return archivedEntries.get();
    }

    /**
     * How far behind the leader this follower is in time, at least: 0 when it has applied what
     * the leader last reported durable; otherwise the age of the last applied commit (PostgreSQL's
     * {@code now() - pg_last_xact_replay_timestamp()}); while not streaming, at least the time since
     * the leader was last heard from. -1 until the leader has been heard from.
     */
    public double lagSeconds() {
        long leader = leaderLsn;
        if (leader < 0) {
            return -1;
        }
        long now = nowMicros();
        double behind = store.lastLsn() >= leader ? 0 : Math.max(0, now - store.lastCommitMicros()) / 1e6;
        if (state != State.STREAM) {
            behind = Math.max(behind, Math.max(0, now - lastContactMicros) / 1e6);
        }
        return behind;
    }

    /** The view {@code /status} shows ({@code walship follow}). */
    public StatusResponse.Follower status() {
        long leader = leaderLsn;
        long applied = store.lastLsn();
        return new StatusResponse.Follower(state.label(), source, leaderAt.toString(), leaderUrl,
                Lsn.format(applied), leader < 0 ? null : Lsn.format(leader), leader < 0 ? -1 : Math.max(0, leader - applied),
                lagSeconds(), reconnects.get(), lastError);
    }

    /**
     * Waits until the loop has stopped (for good, or by {@link #close}). Returns whether it has.
     */
    public boolean awaitStopped(Duration timeout) throws InterruptedException {
        return stopped.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    /** Stops the loop: drops the connection, ends a catch-up between segments, waits for the thread. */
    @Override
    public void close() {
        closed = true;
        ReplConnection c = current;
        if (c != null) {
            c.close();
        }
        synchronized (sleeper) {
            sleeper.notifyAll();
        }
        Thread t;
        synchronized (this) {
            t = thread;
        }
        if (t != null) {
            try {
                t.join(TimeUnit.SECONDS.toMillis(30));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
