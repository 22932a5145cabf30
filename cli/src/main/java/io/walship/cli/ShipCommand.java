package io.walship.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.protocol.Json;
import io.walship.shipper.ArchiveSpliceException;
import io.walship.shipper.ShipLoop;
import io.walship.shipper.ShipLoops;
import io.walship.shipper.WalShipper;
import io.walship.wal.Lsn;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code walship ship}: archive the WAL of a data directory, once or every interval (the {@link ShipLoop}). */
@Command(name = "ship", mixinStandardHelpOptions = true,
        description = {"Ship the WAL of --data to --archive as compressed, immutable segment objects.",
                "%nRepeat --archive (and add --optional-archive) to ship to several archives at once, each at its"
                        + " own pace (docs/OPERATIONS.md, \"Several archives\").",
                "%nIt runs beside a running leader (it reads the WAL read-only) and resumes from what the archive"
                        + " holds. With --once it ships what is there and exits. Otherwise it ships every --interval"
                        + " until SIGTERM: a failed run is logged and tried again at the next interval, and the last"
                        + " WAL is shipped on the way out."})
final class ShipCommand implements Callable<Integer> {
    @Option(names = "--data", paramLabel = "DIR", required = true, defaultValue = "${env:WALSHIP_DATA}",
            description = "Data directory of the leader. Env: WALSHIP_DATA.")
    Path data;
    @picocli.CommandLine.Mixin
    ArchivesOption archives = new ArchivesOption();
    @picocli.CommandLine.Mixin
    EncryptionOption encryption = new EncryptionOption();
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
        if (!archives.any()) {
            throw new CliException(ExitCodes.USAGE, "Missing required option: '--archive=URI'");
        }
        if (once) {
            refuseStandby(data);
        }
        List<ShipLoops.Target> targets = archives.open(limit, encryption.keys());
        try {
            if (once) {
                return shipOnce(out, targets, opts);
            }
            // SIGTERM/SIGINT (or a fatal refusal of a required archive) end the wait; closing ships a last time
            Shutdown shutdown = Shutdown.onSignals();
            ShipLoops loops = ShipLoops.open(data, targets, opts, every, t -> new ShipLoop.Listener() {
                @Override
                public void finished(ShipLoop.Tick tick) {
                    if (tick.ok() && tick.result().segments() > 0) {
                        report(out, tick.result(), targets.size() > 1 ? t.store().describe() : null);
                    }
                    if (!tick.ok() && tick.error().startsWith(ShipLoop.STOPPED_PREFIX) && t.required()) {
                        shutdown.request(); // fatal: a required archive gets no more, so this command stops
                    }
                }
            }, ShipLoop.Gate.OPEN);
            runUntilShutdown(loops, shutdown);
            return ExitCodes.OK;
        } finally {
            ArchivesOption.close(targets);
        }
    }

    /**
     * A standby (a follower's data directory, or a restored copy not yet promoted) has no WAL of its
     * own to ship: a run would ship nothing and leave a retention mark at 0 that holds the WAL once
     * the node is promoted and no run of this command ever moves. Refused before anything is
     * created (the archive directory, the lock, the mark). A directory without a store goes on to
     * the usual error.
     */
    static void refuseStandby(Path data) {
        if (!io.walship.wal.ControlFile.exists(data)) {
            return;
        }
        io.walship.wal.ControlFile c = io.walship.wal.ControlFile.read(data);
        if (c.standby()) {
            throw new CliException(ExitCodes.UNAVAILABLE, data + " is a standby (a follower's data directory or a restored"
                    + " copy, timeline " + c.timeline() + "): it has no WAL of its own to ship until it is promoted;"
                    + " ship the leader's data directory (a promoted follower ships itself with --archive)");
        }
    }

    /**
     * One run per archive, the primary first. A failed required archive fails the command (its
     * error's exit code, after the others were shipped); a failed optional one is one line on
     * stderr and exit 0.
     */
    private int shipOnce(PrintWriter out, List<ShipLoops.Target> targets, WalShipper.Options opts) {
        List<WalShipper> shippers = new ArrayList<>();
        try {
            java.util.Set<String> required = new java.util.TreeSet<>();
            List<ShipLoops.Target> shipping = new ArrayList<>();
            for (ShipLoops.Target t : targets) {
                WalShipper s;
                try {
                    s = new WalShipper(data, t.store(), opts, t.required());
                } catch (io.walship.wal.StoreLockedException e) {
                    if (t.required()) {
                        throw e;
                    }
                    optionalFailed(t, e); // another process ships it
                    continue;
                }
                shippers.add(s);
                shipping.add(t);
                if (t.required()) {
                    required.add(s.archiveId());
                }
            }
            ShipLoops.settleMarks(data, required);
            RuntimeException firstRequired = null;
            for (int i = 0; i < shippers.size(); i++) {
                ShipLoops.Target t = shipping.get(i);
                try {
                    report(out, shippers.get(i).shipOnce(), targets.size() > 1 ? t.store().describe() : null);
                } catch (RuntimeException e) {
                    if (t.required()) {
                        if (firstRequired == null) {
                            firstRequired = e;
                        } else {
                            // the first one is the error line; the others are said once each
                            spec.commandLine().getErr().println("walship: warning: required archive "
                                    + t.store().describe() + " failed too: " + io.walship.wal.Errors.oneLine(e));
                        }
                    } else {
                        optionalFailed(t, e);
                    }
                }
            }
            spec.commandLine().getErr().flush();
            if (firstRequired != null) {
                throw firstRequired;
            }
            return ExitCodes.OK;
        } finally {
            shippers.forEach(WalShipper::close);
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
        throwIfFatal(loop);
    }

    private void optionalFailed(ShipLoops.Target t, RuntimeException e) {
        spec.commandLine().getErr().println("walship: warning: optional archive " + t.store().describe() + " failed: "
                + io.walship.wal.Errors.oneLine(e));
    }

    /** As above for several archives: only a required archive's fatal error ends the command. */
    static void runUntilShutdown(ShipLoops loops, Shutdown shutdown) throws InterruptedException {
        try (loops) {
            loops.start();
            shutdown.await();
        }
        for (ShipLoop l : loops.loops()) {
            if (l.required()) {
                throwIfFatal(l);
            }
        }
    }

    private static void throwIfFatal(ShipLoop loop) {
        if (loop.fatal() instanceof io.walship.archive.EncryptionKeyException k) {
            throw k;
        }
        if (loop.stopped()) {
            throw new ArchiveSpliceException(loop.status().lastError().substring(ShipLoop.STOPPED_PREFIX.length()));
        }
    }

    private void report(PrintWriter out, WalShipper.Result r, String archive) {
        if (json) {
            Map<String, Object> m = new LinkedHashMap<>();
            if (archive != null) {
                m.put("archive", archive);
            }
            m.put("segments", r.segments());
            m.put("entries", r.entries());
            m.put("walBytes", r.walBytes());
            m.put("objectBytes", r.objectBytes());
            m.put("archivedUpTo", Lsn.format(r.archivedUpTo()));
            out.println(Json.write(m));
        } else {
            if (archive != null) {
                out.print(archive + ": ");
            }
            out.printf("shipped %d segment(s), %d entries, %d WAL bytes -> %d archived bytes; archived up to LSN %s%n",
                    r.segments(), r.entries(), r.walBytes(), r.objectBytes(), Lsn.format(r.archivedUpTo()));
        }
        out.flush();
    }
}
