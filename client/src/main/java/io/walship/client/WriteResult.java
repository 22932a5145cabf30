package io.walship.client;

import java.util.Optional;

/**
 * What a write's answer says: its commit LSN ({@code Walship-LSN}) and what it waited for once it
 * was durable on the leader ({@code Walship-Sync}).
 *
 * @param lsn  the commit LSN
 * @param sync the {@code Walship-Sync} header as the leader sent it: {@code async},
 *             {@code semi-sync}, {@code sync} or {@code degraded}; null if the answer had none (a
 *             leader without commit modes)
 */
public record WriteResult(long lsn, String sync) {
    /**
     * Whether the leader answered without the follower acks its mode promises: it is in degraded
     * mode ({@code --on-sync-timeout degrade}) — the commit is durable on the leader only, and may
     * be lost with it.
     */
    public boolean degraded() {
        return "degraded".equals(sync);
    }

    /** The commit mode the write was answered in, empty if degraded or not said. */
    public Optional<SyncMode> mode() {
        return Optional.ofNullable(SyncMode.ofWire(sync));
    }
}
