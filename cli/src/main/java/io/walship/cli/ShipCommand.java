package io.walship.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.protocol.Json;
import io.walship.shipper.ArchiveSpliceException;
import io.walship.shipper.ShipLoop;
import io.walship.shipper.WalShipper;
import io.walship.wal.Lsn;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code walship ship}: archive the WAL of a data directory, once or every interval (the {@link ShipLoop}). */
@Command(name = "ship", mixinStandardHelpOptions = true,
        description = {"Ship the WAL of --data to --archive as compressed, immutable segment objects.",
                "%nIt runs beside a running leader (it reads the WAL read-only) and resumes from what the archive"
                        + " holds. With --once it ships what is there and exits. Otherwise it ships every --interval"
                        + " until SIGTERM: a failed run is logged and tried again at the next interval, and the last"
                        + " WAL is shipped on the way out."})
final class ShipCommand implements Callable<Integer> {
    @Option(names = "--data", paramLabel = "DIR", required = true, defaultValue = "${env:WALSHIP_DATA}",
            description = "Data directory of the leader. Env: WALSHIP_DATA.")
    Path data;
    @picocli.CommandLine.Mixin
    ArchiveOption archive;
    @picocli.CommandLine.Mixin
    UploadRateOption uploadRate;
    @Option(names = "--once", description = "Ship what is there now and exit (for cron, systemd timers, CronJobs).")
    boolean once;
    @Option(names = "--interval", paramLabel = "DURATION", defaultValue = "1s",
            description = "Between runs when not --once (default ${DEFAULT-VALUE}); the RPO of the archive.")
    String interval;
    @Option(names = "--codec", paramLabel = "CODEC", defaultValue = "zstd",
            description = "zstd (default), lz4, gzip or none.")
    String codec;
    @Option(names = "--segment-size", paramLabel = "SIZE", defaultValue = "16MiB",
            description = "Cut a segment once it holds this much WAL (default ${DEFAULT-VALUE}).")
    String segmentSize;
    @picocli.CommandLine.Mixin
    ShipPacing pacing = new ShipPacing();
    @Option(names = "--json", description = "Print a JSON summary per run.")
    boolean json;
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        Duration every = Flags.positiveDuration("--interval", interval);
        Codec c = Flags.parse("--codec", codec, Codec::parse);
        long size = Flags.bytes("--segment-size", segmentSize);
        WalShipper.Options opts = pacing.apply(Flags.options(() -> new WalShipper.Options(c, size)));
        io.walship.archive.UploadLimit limit = uploadRate.limit();
        PrintWriter out = spec.commandLine().getOut();
        try (ObjectStore store = archive.open(limit)) {
            if (once) {
                try (WalShipper shipper = new WalShipper(data, store, opts)) {
                    report(out, shipper.shipOnce());
                }
                return ExitCodes.OK;
            }
            // SIGTERM/SIGINT (or a fatal refusal) end the wait; closing the loop ships a last time
            Shutdown shutdown = Shutdown.onSignals();
            ShipLoop.Listener printer = new ShipLoop.Listener() {
                @Override
                public void finished(ShipLoop.Tick tick) {
                    if (tick.ok() && tick.result().segments() > 0) {
                        report(out, tick.result());
                    }
                    if (!tick.ok() && tick.error().startsWith(ShipLoop.STOPPED_PREFIX)) {
                        shutdown.request(); // fatal: the loop ships no more, so neither does this command
                    }
                }
            };
            runUntilShutdown(new ShipLoop(data, store, opts, every, printer), shutdown);
            return ExitCodes.OK;
        }
    }

    /**
     * Starts {@code loop}, waits for the shutdown, then closes it (it ships a last time). A fatal
     * refusal ends the command with {@link ArchiveSpliceException} (exit 3), also when it is that
     * last run, on the way out, that meets it.
     */
    static void runUntilShutdown(ShipLoop loop, Shutdown shutdown) throws InterruptedException {
        try (loop) {
            loop.start();
            shutdown.await();
        }
        if (loop.fatal() instanceof io.walship.archive.EncryptionKeyException k) {
            throw k;
        }
        if (loop.stopped()) {
            throw new ArchiveSpliceException(loop.status().lastError().substring(ShipLoop.STOPPED_PREFIX.length()));
        }
    }

    private void report(PrintWriter out, WalShipper.Result r) {
        if (json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("segments", r.segments());
            m.put("entries", r.entries());
            m.put("walBytes", r.walBytes());
            m.put("objectBytes", r.objectBytes());
            m.put("archivedUpTo", Lsn.format(r.archivedUpTo()));
            out.println(Json.write(m));
        } else {
            out.printf("shipped %d segment(s), %d entries, %d WAL bytes -> %d archived bytes; archived up to LSN %s%n",
                    r.segments(), r.entries(), r.walBytes(), r.objectBytes(), Lsn.format(r.archivedUpTo()));
        }
        out.flush();
    }
}
