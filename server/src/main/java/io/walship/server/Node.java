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
}
