package io.walship.cli;

import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.Callable;

import javax.net.ssl.SSLContext;

import io.walship.archive.LeaderLease;
import io.walship.archive.LeaseClock;
import io.walship.archive.LeaseKeeper;
import io.walship.archive.LeaseRecord;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.protocol.AuthToken;
import io.walship.protocol.BadInputException;
import io.walship.protocol.HostPort;
import io.walship.protocol.tls.Tls;
import io.walship.server.LeaderServer;
import io.walship.shipper.ShipLoop;
import io.walship.shipper.ShipLoops;
import io.walship.shipper.WalShipper;
import io.walship.wal.AtomicFiles;
import io.walship.shipper.repl.ReplicationOptions;
import io.walship.shipper.repl.ReplicationServer;
import io.walship.shipper.repl.SyncOptions;
import io.walship.wal.Errors;
import io.walship.wal.Lsn;
import io.walship.wal.Store;
import io.walship.wal.StoreOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code walship leader}: open the store and serve it over HTTP until SIGTERM/SIGINT. */
@Command(name = "leader", mixinStandardHelpOptions = true,
        description = {"Run the leader: open the store in --data and serve it over HTTP.",
                "%nWith --archive it also ships its WAL every --ship-interval; /status and /metrics show how far"
                        + " the archive lags. Repeat --archive, or add --optional-archive, to ship to several archives"
                        + " at once (docs/OPERATIONS.md, \"Several archives\"); the first --archive holds the lease.",
                "%nWith --repl it serves followers (walship follow) the durable WAL over TCP; --slot on a follower"
                        + " makes the leader keep the WAL it still needs, up to --max-slot-wal-keep. /status and"
                        + " /metrics show each follower's positions and lag, and each slot.",
                "%nWith --sync-mode semi-sync or sync a commit is answered once 1 or --sync-quorum followers have"
                        + " flushed it (README, \"Commit modes\"); reads never see a commit before that.",
                "%nSIGTERM lets running requests finish, ships a last time, checkpoints"
                        + " and exits."})
final class LeaderCommand implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(LeaderCommand.class);

    @Option(names = "--data", paramLabel = "DIR", required = true, defaultValue = "${env:WALSHIP_DATA}",
            description = "Data directory (created if missing). Env: WALSHIP_DATA.")
    Path data;

    @Option(names = "--http", paramLabel = "HOST:PORT", defaultValue = "${env:WALSHIP_HTTP:-127.0.0.1:7070}",
            description = "Where to serve the HTTP API (default: ${DEFAULT-VALUE}). Env: WALSHIP_HTTP.")
    String http;

    @Option(names = "--cache-size", paramLabel = "SIZE", defaultValue = "${env:WALSHIP_CACHE_SIZE:-256MiB}",
            description = "Page cache (buffer pool) size, at least 256KiB (default: ${DEFAULT-VALUE}); see"
                    + " docs/OPERATIONS.md, \"Sizing\". Env: WALSHIP_CACHE_SIZE.")
    String cacheSize;

    @Mixin
    WalCompressionOption walCompression = new WalCompressionOption();

    @Mixin
    ArchivesOption archives = new ArchivesOption();

    @picocli.CommandLine.Mixin
    UploadRateOption uploadRate;

    @Mixin
    EncryptionOption encryption = new EncryptionOption();

    @Option(names = "--ship-interval", paramLabel = "DURATION", defaultValue = "1s",
            description = "How often to ship with --archive (default ${DEFAULT-VALUE}): the archive's RPO.")
    String shipInterval;

    @Mixin
    ShipPacing pacing = new ShipPacing();

    @Option(names = "--max-archive-lag", paramLabel = "SIZE", defaultValue = "1GiB",
            description = "WAL allowed to wait for the archive once archiving has started (default ${DEFAULT-VALUE}).")
    String maxArchiveLag;

    @Option(names = "--on-archive-lag", paramLabel = "POLICY", defaultValue = "keep-going",
            description = "Past --max-archive-lag: keep-going (log loudly, keep the WAL; default) or refuse-writes.")
    String onArchiveLag;

    @Option(names = "--port-file", paramLabel = "FILE",
            description = "Once listening, write the HTTP port to FILE (with --http HOST:0, the port the system chose).")
    Path portFile;

    @Option(names = "--repl", paramLabel = "HOST:PORT", defaultValue = "${env:WALSHIP_REPL}",
            description = "Also serve followers on this TCP address: they stream the WAL from here (docs/PROTOCOL.md)."
                    + " Env: WALSHIP_REPL.")
    String repl;

    @Option(names = "--auth-token-file", paramLabel = "FILE", defaultValue = "${env:WALSHIP_AUTH_TOKEN_FILE}",
            description = "A file holding a shared secret that followers must present and HTTP writes must carry"
                    + " (Authorization: Bearer). Required when --http or --repl listens on a non-loopback address.")
    Path authTokenFile;

    @Option(names = "--max-slot-wal-keep", paramLabel = "SIZE", defaultValue = "1GiB",
            description = "WAL a replication slot may hold back before it is marked lost and the WAL released"
                    + " (default ${DEFAULT-VALUE}).")
    String maxSlotWalKeep;

    @Option(names = "--repl-keepalive", paramLabel = "DURATION", defaultValue = "1s",
            description = "Send a keepalive to an idle follower this often (default ${DEFAULT-VALUE}).")
    String replKeepalive;

    @Option(names = "--repl-timeout", paramLabel = "DURATION", defaultValue = "10s",
            description = "Disconnect a follower that sends nothing for this long (default ${DEFAULT-VALUE}).")
    String replTimeout;

    @Option(names = "--repl-max-followers", paramLabel = "N", defaultValue = "16",
            description = "Followers served at once; more are refused until one leaves (default ${DEFAULT-VALUE}).")
    int replMaxFollowers;

    @Mixin
    SyncModeOptions sync = new SyncModeOptions();

    @Option(names = "--node-id", paramLabel = "ID", defaultValue = "${env:WALSHIP_NODE_ID}",
            description = "This leader's name in the leader lease (default: HOST:DATA_DIR, so a restart of the same"
                    + " data directory on the same host is the same node and takes its own lease back at once)."
                    + " Env: WALSHIP_NODE_ID.")
    String nodeId;

    @Option(names = "--lease-ttl", paramLabel = "DURATION", defaultValue = "10s",
            description = "With --archive: how long the leader lease lasts unrenewed; it is renewed every third of"
                    + " it (default ${DEFAULT-VALUE}). Writes stop at expiry minus --lease-skew-margin when renewals"
                    + " fail.")
    String leaseTtl;

    @Option(names = "--lease-skew-margin", paramLabel = "DURATION", defaultValue = "1s",
            description = "The largest clock difference between nodes that the lease tolerates: the holder stops"
                    + " acknowledging this long before expiry, others take it this long after (default"
                    + " ${DEFAULT-VALUE}; under a third of --lease-ttl).")
    String leaseSkewMargin;

    @Option(names = "--no-lease",
            description = "With --archive, do not take the leader lease: nothing then stops a second leader on the"
                    + " same archive (docs/OPERATIONS.md, \"The leader lease\").")
    boolean noLease;

    @Mixin
    TlsServerOptions tls = new TlsServerOptions();

    @Override
    public Integer call() throws Exception {
        InetSocketAddress address = HostPort.parse(http).resolve();
        HostPort replAddress = repl == null || repl.isBlank() ? null : HostPort.parse(repl);
        AuthToken token = authTokenFile == null ? null : AuthToken.read(authTokenFile);
        requireTokenOffLoopback("--http", HostPort.parse(http), token);
        if (replAddress != null) {
            requireTokenOffLoopback("--repl", replAddress, token);
        }
        SSLContext ssl = tls.context();
        TlsServerOptions.warnCleartextToken(token, ssl, "--http", HostPort.parse(http), "--repl", replAddress);
        SyncOptions sync = this.sync.checked(replAddress != null, replMaxFollowers,
                "--repl-max-followers " + replMaxFollowers);
        ReplicationOptions replOptions = ReplicationOptions.defaults()
                .withAuthToken(token)
                .withMaxSlotWalKeep(Flags.bytes("--max-slot-wal-keep", maxSlotWalKeep))
                .withTimeouts(Flags.positiveDuration("--repl-keepalive", replKeepalive),
                        Flags.positiveDuration("--repl-timeout", replTimeout))
                .withMaxSessions(replMaxFollowers);
        Duration every = Flags.positiveDuration("--ship-interval", shipInterval);
        WalShipper.Options shipOptions = pacing.apply(WalShipper.Options.defaults());
        io.walship.archive.UploadLimit uploadLimit = uploadRate.limit();
        if (archives.any()) {
            archives.checked(); // exit 2 before opening anything: the same archive twice, only optional ones
        }
        if (uploadLimit.limited() && !archives.any()) {
            throw new BadInputException("--max-upload-rate limits the uploads to --archive, which is not given");
        }
        StoreOptions.ArchiveLagPolicy policy = switch (onArchiveLag) {
            case "keep-going" -> StoreOptions.ArchiveLagPolicy.KEEP_GOING;
            case "refuse-writes" -> StoreOptions.ArchiveLagPolicy.REFUSE_WRITES;
            default -> throw new BadInputException("--on-archive-lag must be keep-going or refuse-writes");
        };
        // closed in reverse order: the server, then the ship loop (it ships a last time), its archive, the store
        Deque<AutoCloseable> opened = new ArrayDeque<>();
        StoreOptions options = StoreOptions.defaults().withCacheSize(Flags.cacheSize("--cache-size", cacheSize))
                .withArchiveLag(Flags.bytes("--max-archive-lag", maxArchiveLag), policy)
                .withWalCompression(walCompression.get());
        Duration ttl = Flags.positiveDuration("--lease-ttl", leaseTtl);
        Duration skew = Flags.duration("--lease-skew-margin", leaseSkewMargin);
        try {
            LeaderLease.checkTimes(ttl, skew);
        } catch (IllegalArgumentException e) {
            throw new CliException(ExitCodes.USAGE, "--lease-ttl/--lease-skew-margin: " + e.getMessage());
        }
        // a port in use fails here, before the data directory is created or opened (and the archive)
        requireListenable(http, address, repl, replAddress == null ? null : replAddress.resolve());
        Shutdown shutdown = Shutdown.onSignals(); // a signal while opening ends the wait at once
        Store store = Store.open(data, options);
        opened.push(store);
        LeaderServer server;
        java.util.concurrent.atomic.AtomicReference<ShipLoop> loopRef = new java.util.concurrent.atomic.AtomicReference<>();
        ReplicationServer replication = null;
        LeaseKeeper lease = null;
        ObjectStore archiveStore = null;
        ShipLoops loops = null;
        try {
            ShipLoop shipping = null;
            if (archives.any()) {
                java.util.List<ShipLoops.Target> targets = archives.open(uploadLimit, encryption.keys());
                for (ShipLoops.Target t : targets) {
                    opened.push(t.store());
                }
                archiveStore = targets.get(0).store(); // the primary: the lease lives there
                ShipLoop.Gate gate = ShipLoop.Gate.OPEN;
                if (!noLease && !store.standby()) {
                    // closed after the ship loops (their last shipment still under the lease): pushed before them
                    lease = LeaseKeeper.unstarted(archiveStore, new LeaseRecord.Holder(nodeId(), "", ""),
                            store.timeline(), ttl, skew, LeaseClock.SYSTEM)
                            // its ancestry as its data directory keeps it: a copy restored from another archive has
                            // its claim only there until its ship loops (under the lease) copy it to the primary
                            .ownHistories(t -> io.walship.shipper.LocalHistories.read(store.dir(), t));
                    opened.push(lease);
                    gate = lease::refusal;
                }
                java.util.Map<ShipLoops.Target, ShipLoop> byTarget = new java.util.concurrent.ConcurrentHashMap<>();
                loops = ShipLoops.open(store.dir(), targets, shipOptions, every, t -> !t.required()
                        ? ShipLoop.Listener.NONE // an optional archive's failures are shown, never fatal
                        : stopOnKeyError(() -> byTarget.get(t), k -> shutdown.request()), gate);
                for (int i = 0; i < targets.size(); i++) {
                    byTarget.put(targets.get(i), loops.loops().get(i));
                }
                shipping = loops.primary();
                loopRef.set(shipping);
                loops.start();
                opened.push(loops);
            }
            if (replAddress != null) {
                replOptions = replOptions.withIdentity("leader " + http, TlsServerOptions.scheme(ssl) + "://" + http);
                if (ssl != null) {
                    replOptions = replOptions.withSockets(Tls.serverSockets(ssl));
                }
                try {
                    replication = new ReplicationServer(store, replAddress.resolve(), replOptions, sync);
                    if (lease != null) {
                        replication.withGate(leaseGate(lease));
                    }
                    replication.start();
                } catch (IOException e) {
                    CliException bind = bindFailure(e, "--repl", repl);
                    if (bind != null) {
                        throw bind;
                    }
                    throw e;
                }
                opened.push(replication);
                if (archiveStore != null && store.timeline() != 1) {
                    // a promoted leader (restarted): its parent timelines' followers may still switch to it
                    try {
                        replication.withAncestors(LiveFollower.ancestors(archiveStore, store.timeline()));
                    } catch (io.walship.archive.EncryptionKeyException e) {
                        throw e; // a missing key is not an outage: exit 2 at the start, as for the mode check
                    } catch (RuntimeException e) {
                        LOG.warn("the archive's timeline histories cannot be read ({}); followers on older timelines"
                                + " will be refused UNKNOWN_TIMELINE", Errors.oneLine(e));
                    }
                }
            }
            server = new LeaderServer(store, address, shipping, replication, token, ssl, lease);
            if (loops != null) {
                server.archives(loops.loops());
            }
            opened.push(server);
            if (lease != null) {
                InetSocketAddress bound = server.address();
                String replUrl = replication == null ? "" : new HostPort(replication.address().getHostString(), replication.address().getPort()).toString();
                lease.start(new LeaseRecord.Holder(nodeId(), TlsServerOptions.scheme(ssl) + "://"
                        + new HostPort(bound.getHostString(), bound.getPort()), replUrl));
                LeaseKeeper.Status ls = lease.status();
                if (ls.writable()) {
                    LOG.info("holding the leader lease in {} (term {}, TTL {}, skew margin {})", archives.primary(), ls.term(),
                            ttl, skew);
                } else {
                    LOG.error("not taking writes: {}", ls.reason());
                }
            }
            server.start();
        } catch (CliException e) {
            closeAll(opened);
            throw e;
        } catch (RuntimeException | IOException e) {
            closeAll(opened);
            CliException bind = bindFailure(e, "--http", http); // --repl's is turned into a CliException above
            if (bind != null) {
                throw bind;
            }
            throw e;
        }
        InetSocketAddress a = server.address();
        LOG.info("leader of {} serving {}://{}:{} (system id {}, timeline {}, last LSN {}, cache {})", data,
                TlsServerOptions.scheme(ssl), a.getHostString(), a.getPort(), Long.toHexString(store.systemId()), store.timeline(),
                Lsn.format(store.lastLsn()), cacheSize);
        if (replication != null) {
            InetSocketAddress r = replication.address();
            LOG.info("serving followers on {}:{}{}{}; commit mode {}", r.getHostString(), r.getPort(),
                    ssl == null ? "" : " over TLS", token == null ? "" : " (token required)", sync);
        }
        if (portFile != null) {
            AtomicFiles.write(portFile, (a.getPort() + "\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        }
        try {
            shutdown.await();
        } finally {
            LOG.info("shutting down: finishing requests, checkpointing");
            closeAll(opened);
        }
        if (loops != null) {
            for (ShipLoop l : loops.loops()) {
                if (l.required() && l.fatal() instanceof io.walship.archive.EncryptionKeyException k) {
                    throw k;
                }
            }
        }
        return ExitCodes.OK;
    }

    /**
     * Fails (exit 1, "cannot listen on …") if {@code --http} or {@code --repl} ({@code repl} null: none) cannot be
     * listened on now — a port in use, the same address given to both — before anything is created, opened or
     * downloaded. Both are bound at once, as the node will hold them, then closed; port 0 (any) always can. Another
     * process may still take a port before the real bind, which then fails with the same line ({@link #bindFailure})
     * after the store was opened.
     */
    static void requireListenable(String http, InetSocketAddress httpAddress, String repl, InetSocketAddress replAddress) {
        java.util.List<java.net.ServerSocket> held = new java.util.ArrayList<>();
        try {
            probe(held, "--http", http, httpAddress);
            if (replAddress != null) {
                probe(held, "--repl", repl, replAddress);
            }
        } finally {
            for (java.net.ServerSocket s : held) {
                try {
                    s.close();
                } catch (IOException ignored) {
                    // a probe's socket: nothing was accepted on it
                }
            }
        }
    }

    private static void probe(java.util.List<java.net.ServerSocket> held, String flag, String given,
                              InetSocketAddress address) {
        if (address.getPort() == 0) {
            return;
        }
        try {
            java.net.ServerSocket probe = new java.net.ServerSocket();
            held.add(probe);
            probe.setReuseAddress(true); // as the real listeners: a port in TIME_WAIT only can be listened on
            probe.bind(address, 1);
        } catch (BindException e) {
            throw new CliException(ExitCodes.FAILURE, "cannot listen on " + given + ": " + e.getMessage(),
                    "pick another " + flag + " HOST:PORT" + (held.size() > 1 ? " (--http and --repl need two)" : ""));
        } catch (IOException e) {
            // anything else shows at the real bind, as before
        }
    }

    /**
     * The "cannot listen on" failure for a listener that could not bind, or null if {@code e} is not one: the JDK
     * server throws {@link BindException}, Jetty an IOException around one.
     */
    static CliException bindFailure(Throwable e, String flag, String given) {
        for (Throwable c = e; c != null; c = c.getCause()) {
            if (c instanceof BindException b) {
                return new CliException(ExitCodes.FAILURE, "cannot listen on " + given + ": " + b.getMessage(),
                        "pick another " + flag + " HOST:PORT");
            }
        }
        return null;
    }

    /**
     * A ship loop listener that hands {@code stop} the key error that ended the loop's shipping: a
     * leader with a missing or wrong archive key stops (exit 2), as it cannot archive and retrying
     * cannot help. Used by {@code walship leader} and by a follower promoted under
     * {@code --failover auto}. {@code loop} may give null until the loop is built.
     */
    static ShipLoop.Listener stopOnKeyError(java.util.function.Supplier<ShipLoop> loop,
                                            java.util.function.Consumer<io.walship.archive.EncryptionKeyException> stop) {
        return new ShipLoop.Listener() {
            @Override
            public void finished(ShipLoop.Tick tick) {
                ShipLoop l = loop.get();
                if (!tick.ok() && l != null && l.fatal() instanceof io.walship.archive.EncryptionKeyException k) {
                    stop.accept(k);
                }
            }
        };
    }

    /** {@code --node-id}, or HOST:DATA_DIR. */
    String nodeId() {
        if (nodeId != null && !nodeId.isBlank()) {
            return nodeId.trim();
        }
        String host;
        try {
            host = java.net.InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            host = System.getenv().getOrDefault("HOSTNAME", "localhost");
        }
        return host + ":" + data.toAbsolutePath().normalize();
    }

    /**
     * The replication gate of a leader with a lease: new followers are refused (NOT_A_LEADER, they
     * retry) while it is superseded, lost the lease, or is fenced (its lease lapsed — a leader woken
     * from a pause longer than its lease is FENCED until its next renewal finds the lease taken):
     * another node may lead, and WAL this one committed but never had acknowledged must not reach
     * that node's followers (they would be past its fork). Before it first holds the lease (WAITING)
     * it serves, as it always did.
     */
    static java.util.function.Supplier<String> leaseGate(LeaseKeeper keeper) {
        return () -> {
            LeaseKeeper.Status ls = keeper.status();
            return switch (ls.state()) {
                case SUPERSEDED, LOST, FENCED -> ls.reason();
                default -> null;
            };
        };
    }

    /**
     * A listener reachable from other machines needs a token (exit 2 otherwise): an open replication
     * port hands out the whole WAL, an open HTTP port takes writes.
     */
    static void requireTokenOffLoopback(String flag, HostPort where, AuthToken token) {
        if (token == null && !AuthToken.isLoopback(where.host())) {
            throw new CliException(ExitCodes.USAGE, flag + " " + where + " listens on a non-loopback address;"
                    + " that requires --auth-token-file FILE");
        }
    }

    /** Closes everything, most recently opened first; a failure is logged and the rest still closed. */
    private static void closeAll(Deque<AutoCloseable> opened) {
        while (!opened.isEmpty()) {
            AutoCloseable c = opened.pop();
            try {
                c.close();
            } catch (Exception e) {
                LOG.error("closing {}: {}", c.getClass().getSimpleName(), Errors.oneLine(e));
            }
        }
    }
}
