package io.walship.shipper.repl;

import java.time.Clock;
import java.time.Duration;
import java.util.Objects;

import javax.net.ServerSocketFactory;

import io.walship.protocol.AuthToken;

/**
 * How a {@link ReplicationServer} runs. Immutable; start from {@link #defaults()}.
 *
 * @param authToken         the token a HELLO must carry, or null if none is required
 * @param maxSessions       followers served at once (each takes two threads); more are refused
 *                          with NOT_A_LEADER
 * @param maxSlotWalKeep    WAL bytes a slot may hold back before it is marked lost
 * @param keepalive         a KEEPALIVE goes to a follower that has had nothing for this long
 * @param timeout           a follower that sends nothing for this long (no HELLO, no FEEDBACK) is
 *                          disconnected
 * @param maxFrameBytes     WAL entries are batched into frames of up to this many bytes (a single
 *                          larger entry goes alone)
 * @param nodeId            this leader's name, sent in WELCOME
 * @param httpUrl           this leader's HTTP API, sent in WELCOME ("" if unknown)
 * @param clock             the leader's clock for send times and lag
 * @param sockets           where the listening socket comes from (the seam for TLS)
 */
public record ReplicationOptions(AuthToken authToken, int maxSessions, long maxSlotWalKeep, Duration keepalive,
                                 Duration timeout, int maxFrameBytes, String nodeId, String httpUrl, Clock clock,
                                 ServerSocketFactory sockets) {
    public static final long DEFAULT_MAX_SLOT_WAL_KEEP = 1L << 30;

    public ReplicationOptions {
        Objects.requireNonNull(keepalive, "keepalive");
        Objects.requireNonNull(timeout, "timeout");
        Objects.requireNonNull(nodeId, "nodeId");
        Objects.requireNonNull(httpUrl, "httpUrl");
        Objects.requireNonNull(clock, "clock");
        Objects.requireNonNull(sockets, "sockets");
        if (maxSessions < 1) {
            throw new IllegalArgumentException("at least one replication session must be allowed, got " + maxSessions);
        }
        if (maxSlotWalKeep <= 0) {
            throw new IllegalArgumentException("--max-slot-wal-keep must be positive, got " + maxSlotWalKeep);
        }
        if (keepalive.isNegative() || keepalive.isZero()) {
            throw new IllegalArgumentException("--repl-keepalive must be positive, got " + keepalive);
        }
        if (timeout.compareTo(keepalive) <= 0) {
            throw new IllegalArgumentException("--repl-timeout (" + timeout + ") must be longer than --repl-keepalive ("
                    + keepalive + "), or every idle follower would time out");
        }
        if (maxFrameBytes < 4096) {
            throw new IllegalArgumentException("maxFrameBytes must be at least 4096, got " + maxFrameBytes);
        }
    }

    /** No token, 16 sessions, 1 GiB per slot, keepalive 1 s, timeout 10 s, 1 MiB frames, plain TCP. */
    public static ReplicationOptions defaults() {
        return new ReplicationOptions(null, 16, DEFAULT_MAX_SLOT_WAL_KEEP, Duration.ofSeconds(1),
                Duration.ofSeconds(10), 1 << 20, "leader", "", Clock.systemUTC(), ServerSocketFactory.getDefault());
    }

    public ReplicationOptions withAuthToken(AuthToken t) {
        return new ReplicationOptions(t, maxSessions, maxSlotWalKeep, keepalive, timeout, maxFrameBytes, nodeId,
                httpUrl, clock, sockets);
    }

    public ReplicationOptions withMaxSessions(int n) {
        return new ReplicationOptions(authToken, n, maxSlotWalKeep, keepalive, timeout, maxFrameBytes, nodeId,
                httpUrl, clock, sockets);
    }

    public ReplicationOptions withMaxSlotWalKeep(long bytes) {
        return new ReplicationOptions(authToken, maxSessions, bytes, keepalive, timeout, maxFrameBytes, nodeId,
                httpUrl, clock, sockets);
    }

    public ReplicationOptions withTimeouts(Duration keepaliveEvery, Duration silentFor) {
        return new ReplicationOptions(authToken, maxSessions, maxSlotWalKeep, keepaliveEvery, silentFor,
                maxFrameBytes, nodeId, httpUrl, clock, sockets);
    }

    public ReplicationOptions withMaxFrameBytes(int bytes) {
        return new ReplicationOptions(authToken, maxSessions, maxSlotWalKeep, keepalive, timeout, bytes, nodeId,
                httpUrl, clock, sockets);
    }

    public ReplicationOptions withIdentity(String node, String http) {
        return new ReplicationOptions(authToken, maxSessions, maxSlotWalKeep, keepalive, timeout, maxFrameBytes, node,
                http, clock, sockets);
    }

    public ReplicationOptions withClock(Clock c) {
        return new ReplicationOptions(authToken, maxSessions, maxSlotWalKeep, keepalive, timeout, maxFrameBytes,
                nodeId, httpUrl, c, sockets);
    }

    public ReplicationOptions withSockets(ServerSocketFactory f) {
        return new ReplicationOptions(authToken, maxSessions, maxSlotWalKeep, keepalive, timeout, maxFrameBytes,
                nodeId, httpUrl, clock, f);
    }

    /** Now on {@link #clock}, in µs since the epoch. */
    long nowMicros() {
        java.time.Instant i = clock.instant();
        return i.getEpochSecond() * 1_000_000L + i.getNano() / 1_000;
    }
}
