package io.walship.cli;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;

import io.walship.archive.ArchiveUri;
import io.walship.archive.CountingObjectStore;
import io.walship.archive.LeaseClock;
import io.walship.archive.LeaseKeeper;
import io.walship.archive.LeaseRecord;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.shipper.WalShipper;
import io.walship.wal.FileTrees;
import io.walship.wal.Store;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code walship bench requests}: the archive requests a continuous shipper makes, counted
 * ({@link CountingObjectStore}) over simulated time (a hand-moved clock: a simulated hour takes
 * seconds), for an idle leader and one committing once a second, under the old behaviour (a
 * listing before every run) and the current settings; and those of the leader lease's renewals.
 * Priced at S3 Standard's list prices ({@link #PUT_PER_1000}, {@link #GET_PER_1000}).
 */
@Command(name = "requests", mixinStandardHelpOptions = true, resourceBundle = "io.walship.cli.RequestsBench$Text",
        description = {"Count the archive requests (and their S3 price) of an idle and of a trickling shipper.",
                "%nTime is simulated: one ship run per --interval for --minutes, against the real --archive"
                        + " (file:// or s3://). Rows: the old behaviour (a listing before every run, as"
                        + " --archive-recheck 0s), the default (--archive-recheck 1m) and --segment-max-age 1m; and"
                        + " the leader lease's renewals (--lease-ttl 10s). Per month and in US$ per month at S3"
                        + " Standard's list prices (docs/BENCHMARKS.md)."})
final class RequestsBench implements Callable<Integer> {
    /** S3 Standard, US East (N. Virginia): PUT, COPY, POST, LIST requests, US$ per 1,000. */
    static final double PUT_PER_1000 = 0.005;
    /** S3 Standard, US East (N. Virginia): GET, SELECT and all other requests, US$ per 1,000. */
    static final double GET_PER_1000 = 0.0004;
    private static final double MONTH_SECONDS = 30 * 86400.0;

    @Mixin
    BenchCommand.ScratchAndArchive o;
    @Option(names = "--minutes", paramLabel = "N", defaultValue = "10", description = "Simulated minutes per row (default ${DEFAULT-VALUE}).")
    int minutes;
    @Option(names = "--interval", paramLabel = "DURATION", defaultValue = "1s",
            description = "Between ship runs, as walship ship --interval (default ${DEFAULT-VALUE}).")
    String interval;
    @Spec
    CommandSpec spec;

    /** This command's help for {@code --archive}, which takes file:// too (see {@link BenchCommand.ScratchAndArchive}). */
    public static final class Text extends java.util.ListResourceBundle {
        @Override
        protected Object[][] getContents() {
            return new Object[][] {{"archive",
                    "Where to ship: file:///path or s3://bucket/prefix?endpoint=... (a new prefix per row under it)."}};
        }
    }

    private record Setting(String name, Duration recheck, Duration maxAge) {
    }

    @Override
    public Integer call() throws java.io.IOException {
        Duration every = Flags.positiveDuration("--interval", interval);
        if (minutes < 1) {
            throw new io.walship.protocol.BadInputException("--minutes must be at least 1, not " + minutes);
        }
        ArchiveUri base = Flags.parse("--archive", o.archive, ArchiveUri::parse);
        FileTrees.deleteTree(o.data);
        PrintWriter out = spec.commandLine().getOut();
        out.printf("walship bench requests: %d simulated minutes per row, a ship run every %s, archive %s%n", minutes,
                interval, base);
        out.printf("%-32s %-22s %7s %7s %7s | %11s %11s %9s%n", "workload", "setting", "PUT", "LIST", "GET+HEAD",
                "PUT+LIST/mo", "GET/mo", "US$/mo");
        Setting[] settings = {
            new Setting("before (list every run)", Duration.ZERO, Duration.ZERO),
            new Setting("default", WalShipper.DEFAULT_ARCHIVE_RECHECK, Duration.ZERO),
            new Setting("--segment-max-age 1m", WalShipper.DEFAULT_ARCHIVE_RECHECK, Duration.ofMinutes(1)),
        };
        int row = 0;
        for (boolean trickle : new boolean[] {false, true}) {
            for (Setting s : settings) {
                row++;
                CountingObjectStore.Counts c = ship(base, row, s, every, trickle);
                print(out, trickle ? "1 commit/s" : "idle", s.name(), c);
            }
        }
        print(out, "leader lease renewals", "--lease-ttl 10s", lease(base, ++row, Duration.ofSeconds(10)));
        out.flush();
        return ExitCodes.OK;
    }

    private void print(PrintWriter out, String workload, String setting, CountingObjectStore.Counts c) {
        double scale = MONTH_SECONDS / (minutes * 60.0);
        double putMonth = c.putPriced() * scale;
        double getMonth = c.getPriced() * scale;
        out.printf("%-32s %-22s %7d %7d %7d | %11.0f %11.0f %9.2f%n", workload, setting, c.puts(), c.lists(),
                c.getPriced(), putMonth, getMonth, putMonth / 1000 * PUT_PER_1000 + getMonth / 1000 * GET_PER_1000);
        out.flush();
    }

    /** A fresh store and prefix; one commit shipped, then {@code minutes} of runs; the requests of those runs. */
    private CountingObjectStore.Counts ship(ArchiveUri base, int row, Setting s, Duration every, boolean trickle) {
        Path dir = o.data.resolve("row-" + row);
        AtomicLong clock = new AtomicLong();
        WalShipper.Options options = WalShipper.Options.defaults().withArchiveRecheck(s.recheck())
                .withSegmentMaxAge(s.maxAge());
        try (Store store = Store.open(dir); CountingObjectStore archive = new CountingObjectStore(open(base, row));
             WalShipper shipper = new WalShipper(dir, archive, options, clock::get)) {
            commit(store, 0);
            shipper.shipAll(() -> null); // the archive as a leader left it at its last stop
            CountingObjectStore.Counts before = archive.counts();
            long runs = Duration.ofMinutes(minutes).toNanos() / every.toNanos();
            long nextCommit = 0;
            for (long i = 1; i <= runs; i++) {
                clock.addAndGet(every.toNanos());
                while (trickle && nextCommit <= clock.get()) {
                    commit(store, (int) i);
                    nextCommit += 1_000_000_000L;
                }
                shipper.shipOnce(() -> null);
            }
            return archive.counts().minus(before);
        }
    }

    /** The requests of the leader lease's keeper over {@code minutes}, one tick per TTL/3 as it runs. */
    private CountingObjectStore.Counts lease(ArchiveUri base, int row, Duration ttl) {
        AtomicLong nanos = new AtomicLong(System.nanoTime());
        long wall0 = System.currentTimeMillis() * 1000;
        long nanos0 = nanos.get();
        LeaseClock clock = new LeaseClock() {
            @Override
            public long wallMicros() {
                return wall0 + (nanos.get() - nanos0) / 1000;
            }

            @Override
            public long nanoTime() {
                return nanos.get();
            }
        };
        try (CountingObjectStore archive = new CountingObjectStore(open(base, row));
             LeaseKeeper keeper = LeaseKeeper.manual(archive, new LeaseRecord.Holder("bench", "", ""), 1, ttl,
                     Duration.ofSeconds(1), clock)) {
            keeper.tick();
            CountingObjectStore.Counts before = archive.counts();
            long period = ttl.toMillis() / 3 * 1_000_000L;
            for (long t = period; t <= Duration.ofMinutes(minutes).toNanos(); t += period) {
                nanos.set(nanos0 + t);
                keeper.tick();
            }
            return archive.counts().minus(before);
        }
    }

    private static void commit(Store store, int i) {
        store.put(("bench:" + i).getBytes(StandardCharsets.UTF_8), ("value " + i).getBytes(StandardCharsets.UTF_8));
    }

    /** A new prefix under the archive for one row. */
    private static ObjectStore open(ArchiveUri base, int row) {
        String sub = "bench-requests-" + java.util.UUID.randomUUID() + "-" + row;
        if (base instanceof ArchiveUri.Local l) {
            return ObjectStores.open(new ArchiveUri.Local(l.root().resolve(sub)));
        }
        ArchiveUri.S3 u = (ArchiveUri.S3) base;
        return ObjectStores.open(new ArchiveUri.S3(u.bucket(), (u.prefix().isEmpty() ? "" : u.prefix() + "/") + sub,
                u.endpoint(), u.region(), u.pathStyle(), u.accessKey(), u.secretKey()));
    }

}
