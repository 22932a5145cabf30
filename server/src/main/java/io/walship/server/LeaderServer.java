package io.walship.server;

import java.io.IOException;
import java.net.InetSocketAddress;

import javax.net.ssl.SSLContext;

import io.walship.protocol.AuthToken;
import io.walship.shipper.ShipLoop;
import io.walship.shipper.repl.ReplicationServer;
import io.walship.wal.Store;

/**
 * A leader served over HTTP: a {@link LeaderNode} behind the {@link HttpApi}, started and stopped
 * together ({@code walship leader}, the demo, tests). Closing it stops the API only; the store and
 * the ship loop belong to whoever opened them. Thread-safe.
 */
public final class LeaderServer implements AutoCloseable {
    private final HttpApi api;
    private final LeaderNode node;

    /** A leader that ships nothing itself. */
    public LeaderServer(Store store, InetSocketAddress address) throws IOException {
        this(store, address, null);
    }

    /** @param shipping the loop shipping the store's WAL in this process (shown in /status), or null */
    public LeaderServer(Store store, InetSocketAddress address, ShipLoop shipping) throws IOException {
        this(store, address, shipping, null, null);
    }

    /**
     * @param shipping    the loop shipping the store's WAL in this process (shown in /status), or null
     * @param replication the replication endpoint (its followers and slots in /status and /metrics), or
     *                    null; it belongs to whoever started it, like the store
     * @param writeToken  the token HTTP writes must carry ({@code --auth-token-file}), or null
     */
    public LeaderServer(Store store, InetSocketAddress address, ShipLoop shipping, ReplicationServer replication,
                        AuthToken writeToken) throws IOException {
        this(store, address, shipping, replication, writeToken, null);
    }

    /** As above, served over HTTPS with {@code tls} if it is not null ({@link HttpApi}). */
    public LeaderServer(Store store, InetSocketAddress address, ShipLoop shipping, ReplicationServer replication,
                        AuthToken writeToken, SSLContext tls) throws IOException {
        this(store, address, shipping, replication, writeToken, tls, null);
    }

    /**
     * As above, with writes fenced by the leader lease {@code lease} keeps (null: no lease); the keeper
     * belongs to whoever started it.
     */
    public LeaderServer(Store store, InetSocketAddress address, ShipLoop shipping, ReplicationServer replication,
                        AuthToken writeToken, SSLContext tls, io.walship.archive.LeaseKeeper lease) throws IOException {
        this.node = new LeaderNode(store, shipping, replication, lease);
        this.api = new HttpApi(node, address, writeToken, tls);
        InetSocketAddress bound = api.address();
        node.url((tls == null ? "http" : "https") + "://" + new io.walship.protocol.HostPort(bound.getHostString(),
                bound.getPort()));
    }

    /** Shows each archive's shipping in /status and /metrics, the primary first ({@link LeaderNode#archives}). */
    public LeaderServer archives(java.util.List<ShipLoop> loops) {
        node.archives(loops);
        return this;
    }

    public LeaderServer start() {
        api.start();
        return this;
    }

    public InetSocketAddress address() {
        return api.address();
    }

    /**
     * Stops accepting requests and lets running ones finish; a commit still waiting for follower acks
     * is answered 503 (it is durable on the leader, its acks unknown).
     */
    @Override
    public void close() {
        node.stopWaiting();
        api.close();
    }
}
