package io.walship.client;

/** When a write is acknowledged ({@code ?durability=} on writes). */
public enum Durability {
    /** After its WAL entry is on disk (the default): it survives a crash of the leader. */
    DURABLE,
    /** Before the sync: faster, but a crash of the leader may lose it. */
    ASYNC
}
