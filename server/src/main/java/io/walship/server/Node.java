package io.walship.server;

import io.walship.protocol.StatusResponse;
import io.walship.wal.Durability;
import io.walship.wal.Store;
import io.walship.wal.WriteBatch;

/**
 * One walship node as the {@link HttpApi} sees it: where reads come from, where writes go, what
 * {@code /status} and {@code /metrics} say. The leader is a {@link LeaderNode}; a follower will be
 * another implementation behind the same API (reads from its replayed store, writes answered with
 * a redirect to the leader). Implementations must be thread-safe: the API calls them from many
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

    /**
     * Checks a write's {@code ?sync=} ({@code requested}, null if absent) before it commits and
     * returns what the commit will wait for once durable.
     *
     * @throws io.walship.protocol.BadInputException a mode stronger than the node's, or a sync wait
     *                                               with {@code durability=async} (400)
     */
    default CommitWait commitWait(String requested, Durability durability) {
        return CommitWait.NONE;
    }

    /**
     * After the commit at {@code lsn} returned: waits for the follower acks {@code wait} needs and
     * returns the {@code Walship-Sync} header's value, or null for none.
     */
    default String awaitCommit(long lsn, CommitWait wait) {
        return wait.mode();
    }

    /**
     * Before a read answers with the state at {@code lsn}: waits until readers may see it (on a
     * leader: durable there and acknowledged as its commit mode needs, MySQL's AFTER_SYNC) and
     * returns the LSN the answer carries.
     */
    default long awaitVisible(long lsn) {
        return lsn;
    }
}
