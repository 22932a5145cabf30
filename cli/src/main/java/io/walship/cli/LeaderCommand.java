package io.walship.cli;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

import io.walship.protocol.HostPort;
import io.walship.wal.Lsn;
import io.walship.wal.Store;
import io.walship.wal.StoreOptions;
import io.walship.wal.Units;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code walship leader}: open the store and serve it over HTTP until SIGTERM/SIGINT. */
@Command(name = "leader", description = "Run the leader: open the store in --data and serve it over HTTP.",
        mixinStandardHelpOptions = true)
final class LeaderCommand implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(LeaderCommand.class);

    @Option(names = "--data", paramLabel = "DIR", required = true, defaultValue = "${env:WALSHIP_DATA}",
            description = "Data directory (created if missing). Env: WALSHIP_DATA.")
    Path data;

    @Option(names = "--http", paramLabel = "HOST:PORT", defaultValue = "${env:WALSHIP_HTTP:-127.0.0.1:7070}",
            description = "Where to serve the HTTP API (default: ${DEFAULT-VALUE}). Env: WALSHIP_HTTP.")
    String http;

    @Option(names = "--archive", paramLabel = "URI", defaultValue = "${env:WALSHIP_ARCHIVE}",
            description = "Also ship the WAL to this archive continuously (file:///path or s3://bucket/prefix?...).")
    String archive;

    @Option(names = "--ship-interval", paramLabel = "DURATION", defaultValue = "1s",
            description = "How often to ship with --archive (default ${DEFAULT-VALUE}): the archive's RPO.")
    String shipInterval;

    @Option(names = "--max-archive-lag", paramLabel = "SIZE", defaultValue = "1GiB",
            description = "WAL allowed to wait for the archive once archiving has started (default ${DEFAULT-VALUE}).")
    String maxArchiveLag;

    @Option(names = "--on-archive-lag", paramLabel = "POLICY", defaultValue = "keep-going",
            description = "Past --max-archive-lag: keep-going (log loudly, keep the WAL; default) or refuse-writes.")
    String onArchiveLag;

    @Override
    public Integer call() throws Exception {
        InetSocketAddress address = HostPort.parse(http).resolve();
        java.time.Duration every = Units.duration(shipInterval);
        StoreOptions.ArchiveLagPolicy policy = switch (onArchiveLag) {
            case "keep-going" -> StoreOptions.ArchiveLagPolicy.KEEP_GOING;
            case "refuse-writes" -> StoreOptions.ArchiveLagPolicy.REFUSE_WRITES;
            default -> throw new IllegalArgumentException("--on-archive-lag must be keep-going or refuse-writes");
        };
        Store store = Store.open(data, StoreOptions.defaults().withArchiveLag(Units.bytes(maxArchiveLag), policy));
        LeaderServer server;
        ArchiveShipping shipping = null;
        try {
            if (archive != null && !archive.isBlank()) {
                shipping = new ArchiveShipping(store.dir(), archive, every);
            }
            server = new LeaderServer(store, address, shipping).start();
        } catch (java.net.BindException e) {
            if (shipping != null) {
                shipping.close();
            }
            store.close();
            throw new CliException(ExitCodes.FAILURE, "cannot listen on " + http + ": " + e.getMessage(),
                    "pick another --http HOST:PORT");
        } catch (RuntimeException e) {
            if (shipping != null) {
                shipping.close();
            }
            store.close();
            throw e;
        }
        ArchiveShipping ship = shipping;
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            LOG.info("shutting down: finishing requests, checkpointing");
            server.close();
            if (ship != null) {
                ship.close();
            }
            store.close();
            stopped.countDown();
        }, "walship-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        InetSocketAddress a = server.address();
        LOG.info("leader of {} serving http://{}:{} (system id {}, timeline {}, last LSN {})", data,
                a.getHostString(), a.getPort(), Long.toHexString(store.systemId()), store.timeline(),
                Lsn.format(store.lastLsn()));
        stopped.await();
        return ExitCodes.OK;
    }
}
