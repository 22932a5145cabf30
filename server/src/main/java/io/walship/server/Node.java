package io.walship.server;

import java.time.Duration;
import java.util.function.LongConsumer;

import io.walship.protocol.StatusResponse;
import io.walship.wal.Durability;
import io.walship.wal.Store;
import io.walship.wal.WriteBatch;

/**
 * One walship node as the {@link HttpApi} sees it: where reads come from, where writes go, what
 * {@code /status} and {@code /metrics} say. The leader is a {@link LeaderNode}; a follower is a
 * {@link FollowerNode} behind the same API (reads from its replayed store, possibly waiting for an
 * LSN; writes refused with {@link NotLeaderException}, answered 421). Implementations must be thread-safe: the API calls them from many
 * request threads at once.
 */
public interface Node {
    /** The store that {@code GET /kv}, {@code /scan}, {@code /digest} and {@code /snapshot} read. */
    Store store();

    /** Commits {@code key = value}; returns the commit's LSN. */
    long put(byte[] key, byte[] value, Durability durability);

    /** Commits the deletion of {@code key}; returns the commit's LSN. */
    long delete(byte[] key, Durability durability);

    /** Commits {@code batch} as one WAL entry, whole or not at all; returns its LSN. */
    long write(WriteBatch batch, Durability durability);

    /** What {@code GET /status} answers. */
    StatusResponse status();

    /** What {@code GET /metrics} answers: Prometheus text. */
    String metrics();

    /** The LSN reads reflect now: on a follower, the last LSN applied. */
    default long appliedLsn() {
        return store().lastLsn();
    }

    /**
     * Why a read without {@code min_lsn} must not be answered now (answered 503), or null if it may:
     * a follower further behind its leader than {@code --max-replay-lag}.
     */
    default String notReadable() {
        return null;
    }

    /** How long a read with {@code min_lsn} past {@link #appliedLsn()} may wait for it (zero: answer 503 at once). */
    default Duration readWait() {
        return Duration.ZERO;
    }

    /** Calls {@code listener} with the new {@link #appliedLsn()} whenever it moves (wakes waiting reads). */
    default Store.Registration onApplied(LongConsumer listener) {
        return store().onApplied(listener);
    }

    /**
     * Checks a write's {@code ?sync=} ({@code requested}, null if absent) before it commits and
     * returns what the commit will wait for once durable.
     *
     * @throws io.walship.protocol.BadInputException a mode stronger than the node's, or a sync wait
     *                                               with {@code durability=async} (400)
     */
    default CommitWait commitWait(String requested, Durability durability) {
        return CommitWait.undecided(requested, durability);
    }

    /**
     * After the commit at {@code lsn} returned: waits for the follower acks {@code wait} needs and
     * returns the {@code Walship-Sync} header's value, or null for none.
     */
    default String awaitCommit(long lsn, CommitWait wait) {
        return wait.mode();
    }

    /**
     * Before a read answers: it read the state at {@code stateLsn}, and its answer depends on no
     * commit after {@code readLsn} (≤ {@code stateLsn}; the highest page LSN it touched, so the
     * answer is the same in every state from {@code readLsn} to {@code stateLsn}). Waits until
     * readers may see {@code readLsn} (on a leader: durable there and acknowledged as its commit
     * mode needs, MySQL's AFTER_SYNC) and returns the LSN the answer carries: in
     * [{@code readLsn}, {@code stateLsn}] and never past what this node shows ({@link #shownLsn()}
     * after the wait) unless the read itself depends on it.
     */
    default long awaitVisible(long readLsn, long stateLsn) {
        return stateLsn;
    }

    /**
     * The highest LSN this node may name to a reader now (in a 503's {@code Walship-LSN} and
     * message): on a follower what it applied, on a leader its commit point — never a commit still
     * waiting for its sync or its acks.
     */
    default long shownLsn() {
        return appliedLsn();
    }

    /**
     * {@code POST /promote}: make this follower the leader (README, "Failover"). Only a node that can
     * be promoted overrides this; any other answers 409.
     *
     * @param force promote even if a more advanced peer's WAL cannot be fetched
     * @param peers the other followers' HTTP URLs, asked for what they hold first
     */
    default io.walship.protocol.PromoteResponse promote(boolean force, java.util.List<String> peers) {
        throw new ConflictException("this node is not a follower (it is " + status().role() + "); only a follower"
                + " can be promoted");
    }
}
