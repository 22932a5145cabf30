package io.walship.client;

/**
 * What a write waits for once it is durable on the leader ({@code ?sync=} on writes; the leader's
 * {@code --sync-mode}). A write may ask for the leader's mode or a weaker one, never a stronger
 * one (the leader answers 400, {@link BadRequestException}, and commits nothing). README, "Commit
 * modes".
 */
public enum SyncMode {
    /** Nothing more: answered once durable on the leader. */
    ASYNC("async"),
    /** One follower has flushed it too. */
    SEMI_SYNC("semi-sync"),
    /** {@code --sync-quorum} followers have flushed it. */
    SYNC("sync");

    private final String wire;

    SyncMode(String wire) {
        this.wire = wire;
    }

    /** How it is spelled in {@code ?sync=} and in {@code Walship-Sync}. */
    public String wire() {
        return wire;
    }

    /** The mode spelled {@code s} as in {@code Walship-Sync}, or null for another word ({@code degraded}). */
    static SyncMode ofWire(String s) {
        for (SyncMode m : values()) {
            if (m.wire.equals(s)) {
                return m;
            }
        }
        return null;
    }
}
