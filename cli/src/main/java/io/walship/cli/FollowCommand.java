package io.walship.cli;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.Callable;

import javax.net.ssl.SSLContext;

import io.walship.archive.ArchiveConfigException;
import io.walship.archive.LeaderLease;
import io.walship.archive.LeaseClock;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.protocol.AuthToken;
import io.walship.protocol.HostPort;
import io.walship.protocol.tls.Tls;
import io.walship.restorer.follow.Bootstrap;
import io.walship.restorer.follow.FollowerLoop;
import io.walship.restorer.follow.Rejoin;
import io.walship.server.HttpApi;
import io.walship.server.SwitchingNode;
import io.walship.shipper.ShipLoops;
import io.walship.wal.AtomicFiles;
import io.walship.shipper.repl.ReplicationOptions;
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

/** {@code walship follow}: a read-only follower that catches up from the archive and streams from the leader. */
@Command(name = "follow", mixinStandardHelpOptions = true,
        description = {"Run a read-only follower of a leader and serve its reads over HTTP.",
                "%nAn empty --data is first filled from the newest base backup in --archive and the archive's WAL"
                        + " after it, or without --archive from the leader's snapshot at --leader-url. A --data that"
                        + " already holds the follower resumes from its own state and downloads nothing again.",
                "%nThe follower then catches up from the archive, connects to the leader's replication port"
                        + " (--leader), writes each streamed entry to its own WAL, applies it, and reports its"
                        + " position. A lost connection is retried with backoff; if the leader no longer has the WAL"
                        + " it needs, the follower catches up from the archive again and then streams again.",
                "%nReads answer with the applied LSN in Walship-LSN. A read with min_lsn=N waits up to --read-wait"
                        + " until the follower has applied N, and gets 503 if it has not. Writes get 421 with the"
                        + " leader's URL. With --repl it serves its own WAL to followers further down. Exit code 7"
                        + " means the leader refused this follower for good (see OPERATIONS.md).",
                "%nPOST /promote (walship promote --url) makes it the leader of a new timeline on the same"
                        + " --http and --repl (OPERATIONS.md, \"Failover\"), in the commit mode of --sync-mode"
                        + " (README, \"Commit modes\").",
                "%nA --data that holds a former leader (or a follower whose WAL went past a newer timeline's fork in"
                        + " --archive) rejoins first: with nothing past the fork it becomes a standby on the new"
                        + " timeline; past it, it is re-cloned beside itself, the old directory kept aside, and the"
                        + " discarded LSN range logged and written to DIR/rewind-report.json (OPERATIONS.md, \"Rejoin\")."})
final class FollowCommand implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(FollowCommand.class);

    @Option(names = "--data", paramLabel = "DIR", required = true, defaultValue = "${env:WALSHIP_DATA}",
            description = "The follower's data directory: empty or missing to bootstrap, or one it created to resume."
                    + " Env: WALSHIP_DATA.")
    Path data;

    @Option(names = "--leader", paramLabel = "HOST:PORT[,HOST:PORT...]", required = true,
            description = "The leader's replication address, as given to its --repl. After a failover, a list: each is"
                    + " asked and the one on the newest timeline is followed (the follower switches timeline).")
    String leader;

    @Option(names = "--ship-interval", paramLabel = "DURATION", defaultValue = "1s",
            description = "Once promoted (POST /promote): how often to ship the new timeline's WAL to --archive"
                    + " (default ${DEFAULT-VALUE}).")
    String shipInterval;

    @Option(names = "--port-file", paramLabel = "FILE",
            description = "Once listening, write the HTTP port to FILE (with --http HOST:0, the port the system chose).")
    Path portFile;

    @Option(names = "--archive", paramLabel = "URI",
            description = "The leader's archive (file:///path or s3://bucket/prefix?...), used to bootstrap and to"
                    + " catch up when the leader no longer has the WAL the follower needs. Env: WALSHIP_ARCHIVE (one)."
                    + " Repeat it for the leader's further archives: the first is the primary (bootstrap, catch-up,"
                    + " the lease, timeline claims); once promoted, this node ships to every one, each required"
                    + " (docs/OPERATIONS.md, \"Several archives\").")
    List<String> archive = new ArrayList<>();

    @Option(names = "--optional-archive", paramLabel = "URI",
            description = "Once promoted, also ship to this archive without waiting for it (its failures are shown,"
                    + " never fatal), as walship leader --optional-archive. Repeatable; needs --archive.")
    List<String> optionalArchive = new ArrayList<>();

    @picocli.CommandLine.Mixin
    EncryptionOption encryption = new EncryptionOption();

    @Option(names = "--leader-url", paramLabel = "URL",
            description = "The leader's HTTP URL (http://HOST:PORT, or https:// verified as --leader-tls[-ca] says),"
                    + " used to copy its snapshot when --data is empty and there is no --archive.")
    String leaderUrl;

    @Option(names = "--http", paramLabel = "HOST:PORT", defaultValue = "${env:WALSHIP_HTTP:-127.0.0.1:7080}",
            description = "Where to serve the read-only HTTP API (default: ${DEFAULT-VALUE}). Env: WALSHIP_HTTP.")
    String http;

    @Option(names = "--slot", paramLabel = "NAME", defaultValue = "",
            description = "A replication slot on the leader that keeps the WAL this follower still needs.")
    String slot;

    @Option(names = "--auth-token-file", paramLabel = "FILE",
            description = "A file holding the leader's shared replication token.")
    Path authTokenFile;

    @Option(names = "--node-id", paramLabel = "ID",
            description = "This follower's name in the leader's /status and metrics and the one its acks count under"
                    + " (default: a random id made at the data directory's first start, kept in DIR/follower-node-id;"
                    + " an explicit one must not change across restarts),"
                    + " and, once promoted, in the leader lease (default there: HOST:DATA_DIR, as walship leader's, so"
                    + " that walship leader on the same data directory takes its lease back at once).")
    String nodeId;

    @Option(names = "--lease-ttl", paramLabel = "DURATION", defaultValue = "10s",
            description = "Once promoted: the leader lease's TTL, as walship leader's --lease-ttl (default"
                    + " ${DEFAULT-VALUE}). A promotion waits up to --lease-ttl plus twice --lease-skew-margin for"
                    + " another node's lease to expire; give every node the same values.")
    String leaseTtl;

    @Option(names = "--lease-skew-margin", paramLabel = "DURATION", defaultValue = "1s",
            description = "Once promoted: the largest clock difference between nodes that the lease tolerates, as"
                    + " walship leader's --lease-skew-margin (default ${DEFAULT-VALUE}; under a third of --lease-ttl).")
    String leaseSkewMargin;

    @Option(names = "--read-wait", paramLabel = "DURATION", defaultValue = "5s",
            description = "How long a read with min_lsn may wait for the follower to apply it (default ${DEFAULT-VALUE}).")
    String readWait;

    @Option(names = "--max-replay-lag", paramLabel = "DURATION",
            description = "Refuse reads without min_lsn (503) while the follower is further behind its leader than"
                    + " this; unset means no bound.")
    String maxReplayLag;

    @Option(names = "--repl-timeout", paramLabel = "DURATION", defaultValue = "10s",
            description = "How long the leader may stay silent before the follower reconnects (default ${DEFAULT-VALUE}).")
    String replTimeout;

    @Option(names = "--repl", paramLabel = "HOST:PORT",
            description = "Also serve this follower's WAL to followers further down (cascading), like a leader's --repl;"
                    + " off loopback it needs --auth-token-file, whose token they must then present.")
    String repl;

    @Option(names = "--backoff-seed", paramLabel = "N",
            description = "Seeds the reconnect backoff's jitter, so that a run can be replayed (default: random, logged).")
    Long backoffSeed;

    @Option(names = "--leader-tls",
            description = "The leader's --repl (and an https:// --leader-url) serve TLS: verify them with the JVM's"
                    + " default trust store, the name in --leader included.")
    boolean leaderTls;

    @Option(names = "--leader-tls-ca", paramLabel = "FILE", defaultValue = "${env:WALSHIP_LEADER_TLS_CA}",
            description = "Like --leader-tls, trusting the CA certificates in this PEM file instead (the CA that signed"
                    + " the leader's --tls-cert). Env: WALSHIP_LEADER_TLS_CA.")
    Path leaderTlsCa;

    @Option(names = "--no-rewind",
            description = "A --data whose WAL has diverged from the leader's timeline (a former leader with commits past"
                    + " the new timeline's fork) is an error (exit 3) instead of being re-cloned (OPERATIONS.md, \"Rejoin\").")
    boolean noRewind;

    @Option(names = "--force",
            description = "Rejoin even if the re-clone discards LSNs that the old leader recorded as acknowledged by"
                    + " followers in a sync commit mode (without it: exit 3).")
    boolean force;

    @Mixin
    TlsServerOptions tls = new TlsServerOptions();

    /** The commit mode once promoted, as {@code walship leader}'s. */
    @Mixin
    SyncModeOptions sync = new SyncModeOptions();

    /** For this follower's own WAL, and a leader's once promoted. */
    @Mixin
    WalCompressionOption walCompression = new WalCompressionOption();

    @Option(names = "--failover", paramLabel = "MODE", defaultValue = "manual",
            description = "manual (default): this follower is promoted only by POST /promote (with --archive it"
                    + " still writes its status there, so that an automatic promotion fetches WAL from it). auto: it"
                    + " writes its status to --archive, and when the leader stays silent past --heartbeat-timeout the most"
                    + " up-to-date follower waits for the leader lease to expire, takes it and promotes itself; the"
                    + " others follow it (OPERATIONS.md, \"Automatic failover\"). Needs --archive.")
    String failover;

    @Option(names = "--heartbeat-timeout", paramLabel = "DURATION", defaultValue = "5s",
            description = "With --failover auto: no WAL or KEEPALIVE frame from the leader for this long (5 times the"
                    + " leader's default --repl-keepalive) and it is presumed missing (default ${DEFAULT-VALUE}).")
    String heartbeatTimeout;

    @Option(names = "--status-interval", paramLabel = "DURATION", defaultValue = "1s",
            description = "With --archive: this follower's status object (followers/NODE.json) is written when"
                    + " its position changes, at most once per interval, and unchanged every max(interval,"
                    + " --heartbeat-timeout/2) (default ${DEFAULT-VALUE}).")
    String statusInterval;

    @Override
    public Integer call() throws Exception {
        List<HostPort> leaderAddresses = new ArrayList<>();
        for (String one : leader.split(",")) {
            if (!one.isBlank()) {
                leaderAddresses.add(HostPort.parse(one.strip()));
            }
        }
        if (leaderAddresses.isEmpty()) {
            throw new CliException(ExitCodes.USAGE, "--leader needs at least one HOST:PORT", null);
        }
        if (leaderAddresses.size() > 1 && slot != null && !slot.isEmpty()) {
            throw new CliException(ExitCodes.USAGE, "--slot works with one --leader address only: each address asked"
                    + " would keep a slot of its own", null);
        }
        HostPort leaderAddress = leaderAddresses.get(0);
        HostPort httpAddress = HostPort.parse(http);
        InetSocketAddress address = httpAddress.resolve();
        Duration wait = Flags.duration("--read-wait", readWait);
        Duration shipEvery = Flags.positiveDuration("--ship-interval", shipInterval);
        Duration maxLag = maxReplayLag == null ? null : Flags.positiveDuration("--max-replay-lag", maxReplayLag);
        AuthToken authToken = authTokenFile == null ? null : AuthToken.read(authTokenFile);
        String token = authToken == null ? "" : authToken.secret();
        HostPort replAddress = repl == null || repl.isBlank() ? null : HostPort.parse(repl);
        if (replAddress != null) {
            LeaderCommand.requireTokenOffLoopback("--repl", replAddress, authToken);
        }
        SSLContext ssl = tls.context();
        // a follower never falls back to plaintext: with --leader-tls[-ca] every connection is TLS or fails
        SSLContext leaderSsl = leaderTls || leaderTlsCa != null ? Tls.clientContext(leaderTlsCa) : null;
        TlsServerOptions.warnCleartextToken(authToken, ssl, "--http", httpAddress, "--repl", replAddress);
        if (authToken != null && leaderSsl == null && leaderAddresses.stream().anyMatch(h -> !AuthToken.isLoopback(h.host()))) {
            LOG.warn("--leader {} is off loopback without --leader-tls: the auth token and the WAL travel in clear",
                    leaderAddress);
        }
        int maxFollowers = ReplicationOptions.defaults().maxSessions();
        SyncOptions syncOptions = sync.checked(replAddress != null, maxFollowers,
                "the " + maxFollowers + " followers a promoted follower serves at once");
        Duration ttl = Flags.positiveDuration("--lease-ttl", leaseTtl);
        Duration skew = Flags.duration("--lease-skew-margin", leaseSkewMargin);
        try {
            LeaderLease.checkTimes(ttl, skew);
        } catch (IllegalArgumentException e) {
            throw new CliException(ExitCodes.USAGE, "--lease-ttl/--lease-skew-margin: " + e.getMessage());
        }
        boolean auto = switch (failover) {
            case "manual" -> false;
            case "auto" -> true;
            default -> throw new CliException(ExitCodes.USAGE, "--failover must be manual or auto, not " + failover);
        };
        // a blank --archive means none, as it always did for follow (--archive "$UNSET"), even with
        // WALSHIP_ARCHIVE set: the environment stands in only for an absent --archive
        ArchivesOption archives = ArchivesOption.of(
                new ArrayList<>(archive.stream().filter(u -> u != null && !u.isBlank()).toList()), optionalArchive,
                archive.isEmpty());
        if (archives.any()) {
            archives.checked(); // exit 2 before opening anything: the same archive twice, only optional ones
        }
        String primary = archives.primary();
        if (auto && primary == null) {
            throw new CliException(ExitCodes.USAGE, "--failover auto needs --archive: the followers find each other"
                    + " and take the leader lease there");
        }
        AutoFailover.Options failoverOptions = AutoFailover.Options.of(
                Flags.positiveDuration("--heartbeat-timeout", heartbeatTimeout),
                Flags.positiveDuration("--status-interval", statusInterval), ttl, skew);
        long seed = backoffSeed != null ? backoffSeed : System.nanoTime();
        FollowerLoop.Options options = FollowerLoop.Options.defaults(leaderAddresses)
                .withSlot(slot).withAuthToken(token)
                .withReplTimeout(Flags.positiveDuration("--repl-timeout", replTimeout)).withBackoff(Duration.ofMillis(100), Duration.ofSeconds(10), seed);

        // a port in use fails here, before the data directory is bootstrapped (a base backup downloaded) or opened
        LeaderCommand.requireListenable(http, address, repl, replAddress == null ? null : replAddress.resolve());
        // closed in reverse order: the HTTP API, the node (loop, replication, shipping, store), the archive
        Deque<AutoCloseable> opened = new ArrayDeque<>();
        LiveFollower live;
        SwitchingNode node;
        HttpApi api;
        try {
            ObjectStore archiveStore = null;
            if (primary != null) {
                if (Bootstrap.holdsStore(data)) {
                    // a restart must not depend on the archive: the leader may well have what it needs
                    archiveStore = ObjectStores.open(primary, encryption.keys());
                    opened.push(archiveStore);
                    try {
                        archiveStore.verifyAccess();
                    } catch (ArchiveConfigException | io.walship.archive.EncryptionKeyException e) {
                        throw e; // a wrong mode or key is not an outage: waiting cannot cure it
                    } catch (RuntimeException e) {
                        LOG.warn("the archive cannot be reached now ({}); streaming from the leader meanwhile, the"
                                + " archive is tried again when the leader lacks WAL", Errors.oneLine(e));
                    }
                } else {
                    archiveStore = ObjectStores.openVerified(primary, io.walship.archive.UploadLimit.NONE, encryption.keys());
                    opened.push(archiveStore);
                }
            }
            // the further archives, shipped to once promoted: opened without a request (a down one
            // delays nothing, and shows as failing in its own loop once promoted)
            List<ShipLoops.Target> others = List.of();
            if (primary != null) {
                others = archives.openOthers(io.walship.archive.UploadLimit.NONE, encryption.keys());
                for (ShipLoops.Target t : others) {
                    opened.push(t.store());
                }
            }
            // a former leader (or a store that diverged from the leader's timeline) rejoins first
            ObjectStore cloneFrom = archiveStore;
            Rejoin.Outcome rejoin = Rejoin.prepare(data, archiveStore, new Rejoin.Options(!noRewind, force),
                    (dir, timeline) -> Bootstrap.prepare(dir, cloneFrom, leaderUrl, leaderSsl, token, timeline));
            Bootstrap.Kind how = Bootstrap.prepare(data, archiveStore, leaderUrl, leaderSsl, token);
            // a follower's WAL is not archived by it: retention must not wait for an archive mark
            // its own WAL (and, once promoted, a leader's) compresses full-page images as asked
            Store store = Store.open(data, StoreOptions.defaults().withRetentionNeedsArchive(false)
                    .withWalCompression(walCompression.get()));
            opened.push(store); // until the LiveFollower owns it (it closes it again: closing twice is harmless)
            String followerId = nodeId != null ? nodeId : persistentNodeId(data);
            options = options.withNodeId(followerId);
            // cascading: the same server a leader runs, over this follower's own (durable) WAL
            ReplicationOptions cascade = ReplicationOptions.defaults().withAuthToken(authToken)
                    .withIdentity(FollowerLoop.FOLLOWER_IDENTITY + http, leaderUrl == null ? "" : leaderUrl);
            // after a promotion: the leader's server on the same port, in the commit mode of --sync-mode
            ReplicationOptions asLeader = ReplicationOptions.defaults().withAuthToken(authToken)
                    .withIdentity("leader " + http, TlsServerOptions.scheme(ssl) + "://" + http);
            if (ssl != null) {
                cascade = cascade.withSockets(Tls.serverSockets(ssl));
                asLeader = asLeader.withSockets(Tls.serverSockets(ssl));
            }
            LiveFollower.Config config = new LiveFollower.Config(data, archiveStore, options,
                    leaderSsl == null ? null : Tls.clientSockets(leaderSsl), leaderSsl,
                    replAddress == null ? null : replAddress.resolve(), cascade, asLeader,
                    shipEvery, wait, maxLag,
                    followerId,
                    authToken == null && !AuthToken.isLoopback(httpAddress.host())
                            ? "--http " + httpAddress + " listens on a non-loopback address without --auth-token-file;"
                            + " as a leader it would take anyone's writes (restart the follower with a token file)"
                            : null,
                    new LiveFollower.Lease(leaseNodeId(), ttl, skew, LeaseClock.SYSTEM, PromotionLease.maxWait(ttl, skew),
                            PromotionLease.REAL), syncOptions, others);
            live = new LiveFollower(config, store);
            if (auto) {
                live.leadersOnly(); // the heartbeat watched is the leader's, never a cascading follower's
            }
            opened.push(live);
            try {
                live.start();
            } catch (IOException e) {
                CliException bind = LeaderCommand.bindFailure(e, "--repl", repl);
                if (bind != null) {
                    throw bind;
                }
                throw e;
            }
            node = new SwitchingNode(live.followerNode(), live);
            // writes need the token once this node is promoted (a follower answers them 421 either way)
            api = new HttpApi(node, address, authToken, ssl);
            opened.push(api);
            api.start();
            InetSocketAddress a = api.address();
            live.httpUrl(TlsServerOptions.scheme(ssl) + "://" + new HostPort(a.getHostString(), a.getPort()));
            LOG.info("follower of {}{} in {} ({}) serving {}://{}:{} (system id {}, timeline {}, applied LSN {})",
                    String.join(",", leader.split(",")), leaderSsl == null ? "" : " over TLS", data,
                    rejoin.kind() == Rejoin.Kind.NONE ? how.name().toLowerCase().replace('_', ' ')
                            : "rejoined: " + rejoin.kind().name().toLowerCase(),
                    TlsServerOptions.scheme(ssl), a.getHostString(), a.getPort(),
                    Long.toHexString(store.systemId()), store.timeline(), Lsn.format(store.lastLsn()));
            if (live.replAddress() != null) {
                InetSocketAddress r = live.replAddress();
                LOG.info("serving followers on {}:{}", r.getHostString(), r.getPort());
            }
            if (archiveStore != null) {
                // manual followers publish their status too: an automatic promotion asks them for WAL
                LiveFollower lf = live;
                AutoFailover af = new AutoFailover(live, node, archiveStore, followerId, auto, lf::httpUrl,
                        lf::replUrl, failoverOptions, LeaseClock.SYSTEM);
                if (auto) {
                    node.showing(af::status, af::metrics);
                }
                opened.push(af);
                af.start();
            }
            if (portFile != null) {
                AtomicFiles.write(portFile, (a.getPort() + "\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            }
        } catch (CliException e) {
            closeAll(opened);
            throw e;
        } catch (RuntimeException | IOException e) {
            closeAll(opened);
            CliException bind = LeaderCommand.bindFailure(e, "--http", http); // --repl's is turned into one above
            if (bind != null) {
                throw bind;
            }
            throw e;
        }
        // runs until SIGTERM/SIGINT (then closes everything on this thread and exits 0, as the leader
        // does) or until the loop stops for good. A signal before this point (a long bootstrap) ends the
        // process at once, as kill does: safe, an unfinished bootstrap is redone and a store recovers.
        // A promotion (POST /promote) closes the loop on purpose: the node then runs as the leader.
        Shutdown shutdown = Shutdown.onSignals();
        Throwable f = null;
        while (true) {
            if (shutdown.await(Duration.ofMillis(200))) {
                break;
            }
            if (live.fatal() != null) {
                f = live.fatal();
                break;
            }
            FollowerLoop l = live.loop();
            if (!node.promoting() && !live.promoted() && l.awaitStopped(Duration.ZERO) && l.failure() != null
                    && live.loop() == l) {
                f = l.failure();
                break;
            }
        }
        LOG.info("shutting down: {}, checkpointing", live.promoted() ? "finishing requests" : "stopping replication");
        closeAll(opened);
        if (f == null) {
            return ExitCodes.OK;
        }
        if (f instanceof io.walship.restorer.follow.FollowerStoppedException s) {
            throw new CliException(ExitCodes.REPLICATION_REFUSED, s.getMessage(), null);
        }
        if (f instanceof Exception e) {
            throw e;
        }
        throw new IllegalStateException(Errors.oneLine(f), f);
    }

    /** Where a follower without {@code --node-id} keeps the node id it was given at its first start. */
    static final String NODE_ID_FILE = "follower-node-id";

    /**
     * This data directory's own follower node id: read from {@link #NODE_ID_FILE}, or made up (random)
     * and written there (atomically) at the first start. The leader counts acks once per node id, so
     * the id must not change across restarts: a default taken from a changing address (a pod IP)
     * would let one follower's disk count as two for {@code --sync-quorum} until the old session
     * times out, and a commit flushed only there could be acknowledged as held by two.
     */
    static String persistentNodeId(Path data) {
        Path f = data.resolve(NODE_ID_FILE);
        try {
            if (Files.exists(f)) {
                String id = Files.readString(f, StandardCharsets.UTF_8).trim();
                if (!id.isEmpty()) {
                    return id;
                }
            }
            byte[] random = new byte[6];
            new java.security.SecureRandom().nextBytes(random);
            String id = "follower-" + java.util.HexFormat.of().formatHex(random);
            AtomicFiles.write(f, (id + "\n").getBytes(StandardCharsets.UTF_8));
            return id;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot read or write the follower's node id in " + f, e);
        }
    }

    /** The name in the leader lease once promoted: {@code --node-id}, or HOST:DATA_DIR as {@code walship leader}'s. */
    String leaseNodeId() {
        LeaderCommand l = new LeaderCommand();
        l.nodeId = nodeId;
        l.data = data;
        return l.nodeId();
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
