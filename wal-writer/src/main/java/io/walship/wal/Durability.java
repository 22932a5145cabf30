package io.walship.wal;

/** What a commit waits for before it returns. */
public enum Durability {
    /** The commit's WAL entry is synced to disk before the call returns (the default). */
    DURABLE,
    /**
     * The commit returns once applied in memory and queued for the WAL; it is synced within the
     * store's background flush interval, or earlier by any later durable commit.
     */
    ASYNC
}
