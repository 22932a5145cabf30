package io.walship.server;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongConsumer;

import io.walship.protocol.PromoteResponse;
import io.walship.protocol.StatusResponse;
import io.walship.wal.Durability;
import io.walship.wal.Store;
import io.walship.wal.WriteBatch;

/**
 * The node behind a follower's {@link HttpApi} that can become the leader on the same port
 * ({@code POST /promote}): it forwards every request to the node of the moment, a
 * {@link FollowerNode} first, and after a successful promotion the {@link LeaderNode} the
 * {@link Promoter} built over the reopened store. Read waits ({@link #onApplied}) follow the switch:
 * their listener is moved to the new store. One promotion at a time: a second one while the first
 * runs is refused (409), as is one on the leader it became. While the promoter closes and reopens the
 * store, requests to it answer 503 (the store is closed), never stale data.
 */
public final class SwitchingNode implements Node {
    /** Turns the follower into a leader; called by at most one thread at a time. */
    public interface Promoter {
        /**
         * Promotes, returning the leader node to switch to and the answer; throws
         * {@link ConflictException} when it refuses (the node stays a follower), anything else when it
         * failed.
         */
        Result promote(boolean force, List<String> peers);
    }

    /** What a successful promotion gives. */
    public record Result(Node leader, PromoteResponse response) {
        public Result {
            Objects.requireNonNull(leader, "leader");
            Objects.requireNonNull(response, "response");
        }
    }

    private final Promoter promoter;
    private final AtomicBoolean promoting = new AtomicBoolean();
    private final List<Listening> listeners = new CopyOnWriteArrayList<>();
    private volatile Node current;
    private volatile java.util.function.Supplier<StatusResponse.Failover> failover;
    private volatile java.util.function.Supplier<String> failoverMetrics;

    /** A read-wait listener and its registration on the current node's store. */
    private final class Listening {
        final LongConsumer listener;
        volatile Store.Registration registration;

        Listening(LongConsumer listener) {
            this.listener = listener;
            this.registration = current.onApplied(listener);
        }
    }

    public SwitchingNode(Node follower, Promoter promoter) {
        this.current = Objects.requireNonNull(follower, "follower");
        this.promoter = Objects.requireNonNull(promoter, "promoter");
    }

    /**
     * Adds automatic failover's view to {@code /status} (its {@code failover} part) and its lines
     * (Prometheus text) to {@code /metrics}, before and after a promotion alike.
     */
    public SwitchingNode showing(java.util.function.Supplier<StatusResponse.Failover> status,
                                 java.util.function.Supplier<String> metrics) {
        this.failover = Objects.requireNonNull(status, "status");
        this.failoverMetrics = Objects.requireNonNull(metrics, "metrics");
        return this;
    }

    /** The node requests go to now. */
    public Node current() {
        return current;
    }

    /** Whether a promotion is running now. */
    public boolean promoting() {
        return promoting.get();
    }

    @Override
    public PromoteResponse promote(boolean force, List<String> peers) {
        if (!(current instanceof FollowerNode)) {
            return current.promote(force, peers); // a leader refuses (409)
        }
        if (!promoting.compareAndSet(false, true)) {
            throw new ConflictException("this follower is already being promoted");
        }
        try {
            if (!(current instanceof FollowerNode)) {
                return current.promote(force, peers);
            }
            Result r = promoter.promote(force, peers);
            switchTo(r.leader());
            return r.response();
        } finally {
            promoting.set(false);
        }
    }

    /** Sends every request to {@code next} from now on, and moves the read-wait listeners to its store. */
    private void switchTo(Node next) {
        current = next;
        for (Listening l : listeners) {
            try {
                l.registration.close();
            } catch (RuntimeException ignored) {
                // the old store is closed; its listeners went with it
            }
            l.registration = next.onApplied(l.listener);
            l.listener.accept(next.appliedLsn()); // waits for what the new store already has end now
        }
    }

    @Override
    public Store store() {
        return current.store();
    }

    @Override
    public long put(byte[] key, byte[] value, Durability durability) {
        return current.put(key, value, durability);
    }

    @Override
    public long delete(byte[] key, Durability durability) {
        return current.delete(key, durability);
    }

    @Override
    public long write(WriteBatch batch, Durability durability) {
        return current.write(batch, durability);
    }

    @Override
    public StatusResponse status() {
        StatusResponse s = current.status();
        java.util.function.Supplier<StatusResponse.Failover> f = failover;
        return f == null ? s : s.withFailover(f.get());
    }

    @Override
    public String metrics() {
        String m = current.metrics();
        java.util.function.Supplier<String> f = failoverMetrics;
        return f == null ? m : m + f.get();
    }

    @Override
    public long appliedLsn() {
        return current.appliedLsn();
    }

    @Override
    public String notReadable() {
        return current.notReadable();
    }

    @Override
    public Duration readWait() {
        return current.readWait();
    }

    @Override
    public Store.Registration onApplied(LongConsumer listener) {
        Listening l = new Listening(listener);
        listeners.add(l);
        return () -> {
            listeners.remove(l);
            l.registration.close();
        };
    }

    @Override
    public CommitWait commitWait(String requested, Durability durability) {
        return current.commitWait(requested, durability);
    }

    @Override
    public String awaitCommit(long lsn, CommitWait wait) {
        return current.awaitCommit(lsn, wait);
    }

    @Override
    public long awaitVisible(long readLsn, long stateLsn) {
        return current.awaitVisible(readLsn, stateLsn);
    }

    @Override
    public long shownLsn() {
        return current.shownLsn();
    }
}
