package io.walship.server;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

import io.walship.protocol.StatusResponse;
import io.walship.shipper.ShipLoop;
import io.walship.shipper.repl.ReplicationServer;
import io.walship.wal.Durability;
import io.walship.wal.Lsn;
import io.walship.wal.Store;
import io.walship.wal.WriteBatch;

/**
 * The leader: a store open for writes (or a restored standby, which the store itself keeps to
 * reads), optionally with its WAL shipped by a {@link ShipLoop} in the same process. Writes are
 * timed into {@link LeaderMetrics}; {@code /status} includes the ship loop's view of the archive and,
 * with a {@link ReplicationServer}, every follower and slot.
 *
 * <p>The node owns neither the store nor the ship loop: whoever opened them closes them, after the
 * API stopped. Thread-safe (the store and the loop are).
 */
public final class LeaderNode implements Node {
    private final Store store;
    private final ShipLoop shipping;
    private final ReplicationServer replication;
    private final LeaderMetrics metrics;

    /** @param shipping the loop shipping this store's WAL, or null if this process ships none */
    public LeaderNode(Store store, ShipLoop shipping) {
        this(store, shipping, null);
    }

    /**
     * @param shipping    the loop shipping this store's WAL, or null if this process ships none
     * @param replication the replication endpoint serving followers ({@code --repl}), or null
     */
    public LeaderNode(Store store, ShipLoop shipping, ReplicationServer replication) {
        this.store = Objects.requireNonNull(store, "store");
        this.shipping = shipping;
        this.replication = replication;
        this.metrics = new LeaderMetrics(store, replication);
    }

    @Override
    public Store store() {
        return store;
    }

    @Override
    public long put(byte[] key, byte[] value, Durability durability) {
        return timed(() -> store.put(key, value, durability));
    }

    @Override
    public long delete(byte[] key, Durability durability) {
        return timed(() -> store.delete(key, durability));
    }

    @Override
    public long write(WriteBatch batch, Durability durability) {
        return timed(() -> store.write(batch, durability));
    }

    /** Runs a commit and records how long it took (a refused one is not recorded). */
    private long timed(LongSupplier commit) {
        long start = System.nanoTime();
        long lsn = commit.getAsLong();
        metrics.commitLatency().record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
        return lsn;
    }

    @Override
    public StatusResponse status() {
        StatusResponse.Archive archive = null;
        if (shipping != null) {
            ShipLoop.Status a = shipping.status();
            archive = new StatusResponse.Archive(a.archive(), a.archivedUpTo() < 0 ? null : Lsn.format(a.archivedUpTo()),
                    a.lagLsns(), a.lagSeconds(), a.lastError());
        }
        List<StatusResponse.Replication> followers = null;
        List<StatusResponse.Slot> slots = null;
        if (replication != null) {
            followers = new ArrayList<>();
            for (ReplicationServer.SessionInfo f : replication.sessions()) {
                followers.add(new StatusResponse.Replication(f.nodeId(), f.slot(), f.remote(), f.state(),
                        Lsn.format(f.sentLsn()), Lsn.format(f.writeLsn()), Lsn.format(f.flushLsn()),
                        Lsn.format(f.replayLsn()), f.writeLagMs(), f.flushLagMs(), f.replayLagMs()));
            }
            slots = new ArrayList<>();
            for (ReplicationServer.SlotInfo s : replication.slotList()) {
                slots.add(new StatusResponse.Slot(s.name(), Lsn.format(s.restartLsn()), s.lost(), s.retainedBytes(),
                        s.active()));
            }
        }
        return new StatusResponse(store.standby() ? "standby" : "leader", Long.toHexString(store.systemId()),
                store.timeline(), Lsn.format(store.lastLsn()), Lsn.format(store.durableLsn()),
                Lsn.format(store.checkpointLsn()), store.dir().toString(), store.stats().archiveLagBytes(),
                store.stats().archiveLagLsns(), archive, followers, slots);
    }

    @Override
    public String metrics() {
        return metrics.scrape();
    }
}
