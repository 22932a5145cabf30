package io.walship.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.ToDoubleFunction;

import io.walship.protocol.BadInputException;
import io.walship.protocol.Json;
import io.walship.wal.Durability;
import io.walship.wal.FileTrees;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code walship bench}: measurements, each beside its baseline from the same run. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Run a benchmark beside its baseline, measured in the same run.",
                "%nTheir figures, with the command that produced them, go to docs/BENCHMARKS.md."},
        subcommands = {BenchCommand.Write.class, BenchCommand.Sync.class, BenchCommand.Ship.class,
                BenchCommand.Backup.class, BenchCommand.RestoreBench.class, BenchCommand.Repl.class,
                BenchCommand.FollowerStart.class, BenchCommand.Fill.class, BenchCommand.RestoreMemory.class,
                BenchCommand.Dataset.class, RequestsBench.class, IncrementalBench.class})
final class BenchCommand {

    @Command(name = "sync", mixinStandardHelpOptions = true,
            description = {"Measure durable commits in each commit mode (async, semi-sync, sync quorum K) on a leader"
                    + " with followers in this process, streaming over loopback TCP, async being the baseline.",
                    "%nEach follower copies the leader's snapshot into its own store, applies every entry and acks it"
                            + " after its own WAL sync. A commit is timed until the answer the HTTP API would give."
                            + " Each run uses fresh directories under --data; run i measures the modes in an order"
                            + " rotated by i; medians are reported."})
    static final class Sync implements Callable<Integer> {
        @Option(names = "--data", paramLabel = "DIR", required = true, description = "Scratch directory (its runs are deleted).")
        Path data;
        @Option(names = "--threads", paramLabel = "N,...", defaultValue = "1,16", split = ",",
                description = "Writer counts to measure (default ${DEFAULT-VALUE}).")
        List<Integer> threads;
        @Option(names = "--count", paramLabel = "N", defaultValue = "20000", description = "Commits per run (default ${DEFAULT-VALUE}).")
        long count;
        @Option(names = "--followers", paramLabel = "N", defaultValue = "2", description = "Followers (default ${DEFAULT-VALUE}).")
        int followers;
        @Option(names = "--quorum", paramLabel = "K", defaultValue = "2", description = "--sync-quorum of the sync mode (default ${DEFAULT-VALUE}).")
        int quorum;
        @Option(names = "--value-size", paramLabel = "B", defaultValue = "100", description = "Value bytes (default ${DEFAULT-VALUE}).")
        int valueSize;
        @Option(names = "--key-size", paramLabel = "B", defaultValue = "16", description = "Key bytes (default ${DEFAULT-VALUE}).")
        int keySize;
        @Option(names = "--runs", paramLabel = "N", defaultValue = "1", description = "Runs; medians are reported (default ${DEFAULT-VALUE}).")
        int runs;
        @Option(names = "--follower-data", paramLabel = "DIR",
                description = "Scratch directory for the followers' stores (its runs are deleted), e.g. on tmpfs,"
                        + " standing in for followers on other machines (default: beside the leader's, under --data).")
        Path followerData;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            if (threads.isEmpty() || threads.stream().anyMatch(t -> t < 1 || count < t) || followers < 1
                    || quorum < 1 || quorum > followers || runs < 1 || keySize < 1 || valueSize < 0) {
                throw new BadInputException("need --threads >= 1 each, --count >= threads, --followers >= 1,"
                        + " 1 <= --quorum <= --followers, --runs >= 1");
            }
            Files.createDirectories(data);
            if (followerData != null) {
                Files.createDirectories(followerData);
            }
            PrintWriter out = spec.commandLine().getOut();
            out.printf("walship bench sync: %d follower(s) on loopback, %d commits/run, %d-byte keys, %d-byte values,"
                    + " durable, median of %d run(s)%n", followers, count, keySize, valueSize, runs);
            out.printf("leader's store under %s, followers' stores under %s%n", data,
                    followerData == null ? data : followerData);
            out.printf("%-16s %8s %12s %9s %9s %10s %9s %9s%n", "mode", "writers", "commits/s", "p50 µs", "p99 µs",
                    "max µs", "/ async", "degraded");
            List<io.walship.shipper.repl.SyncOptions> modes = SyncBench.modes(quorum);
            for (int t : threads) {
                // run i measures the modes in an order rotated by i, so that no mode always runs first
                // (coldest JIT, the previous run's files still being dropped) or last
                List<List<SyncBench.Result>> byMode = new ArrayList<>();
                for (int j = 0; j < modes.size(); j++) {
                    byMode.add(new ArrayList<>());
                }
                for (int i = 0; i < runs; i++) {
                    for (int k = 0; k < modes.size(); k++) {
                        int j = (k + i) % modes.size();
                        io.walship.shipper.repl.SyncOptions mode = modes.get(j);
                        Path d = data.resolve("repl-run");
                        Path fd = followerData == null ? d : followerData.resolve("repl-run");
                        FileTrees.deleteTree(d);
                        FileTrees.deleteTree(fd);
                        byMode.get(j).add(SyncBench.run(d, fd, label(mode), mode, followers, t, count,
                                Math.min(5_000, count / 5), keySize, valueSize));
                        FileTrees.deleteTree(d);
                        FileTrees.deleteTree(fd);
                    }
                }
                double asyncRate = 0;
                for (int j = 0; j < modes.size(); j++) {
                    List<SyncBench.Result> rs = byMode.get(j);
                    rs.sort(java.util.Comparator.comparingDouble(SyncBench.Result::commitsPerSec));
                    SyncBench.Result m = rs.get(rs.size() / 2);
                    if (j == 0) {
                        asyncRate = m.commitsPerSec();
                    }
                    out.printf("%-16s %8d %12.0f %9.1f %9.1f %10.1f %9.2f %9d%n", m.mode(), t, m.commitsPerSec(),
                            m.p50Micros(), m.p99Micros(), m.maxMicros(), m.commitsPerSec() / asyncRate, m.degraded());
                    out.flush();
                }
            }
            return ExitCodes.OK;
        }

        private static String label(io.walship.shipper.repl.SyncOptions mode) {
            return mode.mode() == io.walship.shipper.repl.SyncOptions.Mode.SYNC ? "sync-quorum-" + mode.quorum()
                    : mode.mode().flag();
        }
    }

    @Command(name = "write", mixinStandardHelpOptions = true,
            description = {"Measure durable commit throughput and latency beside the raw WAL limit.",
                    "%nThe raw limit is a plain Chronicle Queue append with an msync every THREADS entries of the"
                            + " same size, measured in the same run. Each run uses a fresh directory under --data;"
                            + " medians are reported."})
    static final class Write implements Callable<Integer> {
        @Option(names = "--data", paramLabel = "DIR", required = true, description = "Scratch directory (its runs are deleted).")
        Path data;
        @Option(names = "--threads", paramLabel = "N", defaultValue = "16", description = "Writer threads (default ${DEFAULT-VALUE}).")
        int threads;
        @Option(names = "--count", paramLabel = "N", defaultValue = "200000", description = "Commits per run (default ${DEFAULT-VALUE}).")
        long count;
        @Option(names = "--value-size", paramLabel = "B", defaultValue = "100", description = "Value bytes (default ${DEFAULT-VALUE}).")
        int valueSize;
        @Option(names = "--key-size", paramLabel = "B", defaultValue = "16", description = "Key bytes (default ${DEFAULT-VALUE}).")
        int keySize;
        @Option(names = "--warmup", paramLabel = "N", defaultValue = "-1",
                description = "Unmeasured async commits first (default: count/5, at most 20000).")
        long warmup;
        @Option(names = "--warmup-run", paramLabel = "N", defaultValue = "0",
                description = {"Then N unmeasured commits of the measured kind (the same threads and durability), so"
                        + " the paths the measurement takes are compiled as in a long-running leader (default"
                        + " ${DEFAULT-VALUE})."})
        long warmupRun;
        @Option(names = "--runs", paramLabel = "N", defaultValue = "1", description = "Runs; medians are reported (default ${DEFAULT-VALUE}).")
        int runs;
        @Option(names = "--async", description = "Non-durable commits (for comparison; the default is durable).")
        boolean async;
        @Option(names = "--no-baseline", description = "Skip the raw Chronicle Queue baseline.")
        boolean noBaseline;
        @Option(names = "--update", paramLabel = "ROWS", defaultValue = "0",
                description = "Load ROWS rows first (unmeasured; keys k + a zero-padded number), then measure random"
                        + " updates of them. Default 0: random new keys.")
        long updateRows;
        @Option(names = "--keys", paramLabel = "N", defaultValue = "0",
                description = "Upsert keys k1..kN chosen at random (as scripts/bench-peers.sh's PUTs do) instead of"
                        + " inserting random new --key-size keys (default: new keys; not with --update).")
        long keys;
        @Option(names = "--values", paramLabel = "sparse|base64", defaultValue = "sparse",
                description = "sparse (default): one random byte in eight, the rest zero; base64: random base64, as"
                        + " bench fill's (what compresses least).")
        String values;
        @Mixin
        WalCompressionOption walCompression = new WalCompressionOption();
        @Option(names = "--json", description = "Print JSON.")
        boolean json;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws IOException {
            if (threads < 1 || count < threads || valueSize < 0 || keySize < 1 || runs < 1 || updateRows < 0
                    || updateRows > 0 && keySize < 2 || keys < 0 || keys > 0 && updateRows > 0 || warmupRun < 0) {
                throw new BadInputException("need --threads >= 1, --count >= threads, --key-size >= 1 (2 with --update),"
                        + " --runs >= 1, --update >= 0, --keys >= 0, --warmup-run >= 0, not both --keys and --update");
            }
            if (!values.equals("sparse") && !values.equals("base64")) {
                throw new BadInputException("--values must be sparse or base64");
            }
            WriteBench.Workload workload = new WriteBench.Workload(keySize, valueSize, updateRows, values.equals("base64"),
                    walCompression.get(), keys);
            Files.createDirectories(data);
            List<WriteBench.Result> store = new ArrayList<>();
            List<WriteBench.Result> raw = new ArrayList<>();
            for (int i = 0; i < runs; i++) {
                Path s = data.resolve("store-run" + i);
                FileTrees.deleteTree(s);
                long w = warmup >= 0 ? warmup : Math.min(20_000, count / 5);
                store.add(WriteBench.store(s, threads, count, w, warmupRun, workload, async ? Durability.ASYNC : Durability.DURABLE));
                FileTrees.deleteTree(s);
                if (!noBaseline) {
                    Path r = data.resolve("raw-run" + i);
                    FileTrees.deleteTree(r);
                    int entrySize = (int) Math.round(store.get(i).walBytesPerCommit());
                    raw.add(WriteBench.raw(r, threads, count, entrySize));
                    FileTrees.deleteTree(r);
                }
            }
            WriteBench.Result ms = median(store);
            WriteBench.Result mr = raw.isEmpty() ? null : median(raw);
            PrintWriter out = spec.commandLine().getOut();
            if (json) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("runs", runs);
                m.put("store", ms);
                m.put("raw", mr);
                m.put("storeToRaw", mr == null ? null : ms.commitsPerSec() / mr.commitsPerSec());
                out.println(Json.write(m));
                return ExitCodes.OK;
            }
            out.printf("walship bench write: %d threads, %d commits/run, %d-byte keys, %s-byte values, %s, %s, WAL"
                    + " compression %s, median of %d run(s)%n", threads, count, keySize, values + " " + valueSize,
                    keys > 0 ? "upserts of keys k1..k" + keys
                            : updateRows > 0 ? "random updates of " + updateRows + " rows" : "random new keys",
                    async ? "async" : "durable", workload.compression().flagValue(), runs);
            out.printf("%-6s %12s %9s %9s %9s %10s %11s %12s %8s%n", "", "commits/s", "MB/s", "p50 µs", "p99 µs", "max µs",
                    "WAL B/cmt", "commits/sync", "FPI/cmt");
            print(out, ms);
            if (mr != null) {
                print(out, mr);
                out.printf("store / raw = %.2f%n", ms.commitsPerSec() / mr.commitsPerSec());
            }
            return ExitCodes.OK;
        }

        private static void print(PrintWriter out, WriteBench.Result r) {
            out.printf("%-6s %12.0f %9.2f %9.1f %9.1f %10.1f %11.1f %12.1f %8.2f%n", r.kind(), r.commitsPerSec(), r.mbPerSec(),
                    r.p50Micros(), r.p99Micros(), r.maxMicros(), r.walBytesPerCommit(), r.commitsPerSync(),
                    r.fullPageImagesPerCommit());
        }

        /** Per-figure medians across runs. */
        static WriteBench.Result median(List<WriteBench.Result> rs) {
            WriteBench.Result f = rs.get(0);
            return new WriteBench.Result(f.kind(), f.threads(), f.commits(), med(rs, WriteBench.Result::seconds),
                    med(rs, WriteBench.Result::commitsPerSec), med(rs, WriteBench.Result::mbPerSec),
                    med(rs, WriteBench.Result::p50Micros), med(rs, WriteBench.Result::p99Micros),
                    med(rs, WriteBench.Result::maxMicros), med(rs, WriteBench.Result::walBytesPerCommit),
                    med(rs, WriteBench.Result::commitsPerSync), med(rs, WriteBench.Result::fullPageImagesPerCommit));
        }

        private static double med(List<WriteBench.Result> rs, ToDoubleFunction<WriteBench.Result> f) {
            double[] v = rs.stream().mapToDouble(f).sorted().toArray();
            return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
        }
    }

    @Command(name = "repl", mixinStandardHelpOptions = true,
            description = {"Measure streaming lag and the follower's apply rate beside the leader's own figures.",
                    "%nA leader store with its replication endpoint and a follower bootstrapped from it run in this"
                            + " process over loopback TCP, so one clock times both. Lag is the time from the leader's"
                            + " acknowledgement of a durable commit to the follower having applied it, shown beside the"
                            + " leader's commit latency: first with commits paced at --rate, then at the leader's maximum"
                            + " rate. Then the follower is stopped, the leader commits --count more at its maximum rate, and"
                            + " the follower's rate of catching up is set against the leader's rate writing them. Each run"
                            + " uses a fresh directory under --data; medians are reported."})
    static final class Repl implements Callable<Integer> {
        @Option(names = "--data", paramLabel = "DIR", required = true, description = "Scratch directory (its runs are deleted).")
        Path data;
        @Option(names = "--threads", paramLabel = "N", defaultValue = "16", description = "Writer threads (default ${DEFAULT-VALUE}).")
        int threads;
        @Option(names = "--count", paramLabel = "N", defaultValue = "100000", description = "Commits per phase (default ${DEFAULT-VALUE}).")
        long count;
        @Option(names = "--rate", paramLabel = "N", defaultValue = "10000",
                description = "Commits per second of the paced phase (default ${DEFAULT-VALUE}).")
        double rate;
        @Option(names = "--value-size", paramLabel = "B", defaultValue = "100", description = "Value bytes (default ${DEFAULT-VALUE}).")
        int valueSize;
        @Option(names = "--runs", paramLabel = "N", defaultValue = "1", description = "Runs; medians are reported (default ${DEFAULT-VALUE}).")
        int runs;
        @Option(names = "--json", description = "Print JSON.")
        boolean json;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            if (threads < 1 || count < threads || valueSize < 0 || runs < 1 || !(rate > 0)) {
                throw new BadInputException("need --threads >= 1, --count >= threads, --rate > 0, --runs >= 1");
            }
            Files.createDirectories(data);
            PrintWriter out = spec.commandLine().getOut();
            List<ReplBench.Result> rs = new ArrayList<>();
            for (int i = 0; i < runs; i++) {
                Path d = data.resolve("repl-run" + i);
                FileTrees.deleteTree(d);
                try {
                    ReplBench.Result r = ReplBench.run(d, threads, count, rate, valueSize);
                    rs.add(r);
                    if (!json) {
                        out.printf("run %d: %s%n       %s%n       %s%n", i + 1, r.paced(), r.max(), r.apply());
                        out.flush();
                    }
                } finally {
                    FileTrees.deleteTree(d);
                }
            }
            ReplBench.Lag paced = medianLag(rs.stream().map(ReplBench.Result::paced).toList());
            ReplBench.Lag max = medianLag(rs.stream().map(ReplBench.Result::max).toList());
            double leader = medD(rs.stream().mapToDouble(r -> r.apply().leaderCommitsPerSec()).toArray());
            double follower = medD(rs.stream().mapToDouble(r -> r.apply().followerAppliedPerSec()).toArray());
            double ratio = medD(rs.stream().mapToDouble(r -> r.apply().ratio()).toArray());
            if (json) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("runs", runs);
                m.put("paced", paced);
                m.put("max", max);
                m.put("leaderCommitsPerSec", leader);
                m.put("followerAppliedPerSec", follower);
                m.put("applyRatio", ratio);
                out.println(Json.write(m));
                return ExitCodes.OK;
            }
            out.printf("walship bench repl: %d threads, %d commits/phase, %d-byte values, paced at %.0f/s, median of %d run(s)%n",
                    threads, count, valueSize, rate, runs);
            out.printf("%-6s %11s %15s %15s %12s %12s %12s %14s%n", "phase", "commits/s", "commit p50 µs", "commit p99 µs",
                    "lag p50 µs", "lag p99 µs", "lag max µs", "applied<ack %");
            for (ReplBench.Lag l : List.of(paced, max)) {
                out.printf("%-6s %11.0f %15.1f %15.1f %12.0f %12.0f %12.0f %14.1f%n", l.phase(), l.commitsPerSec(), l.commitP50(),
                        l.commitP99(), l.lagP50(), l.lagP99(), l.lagMax(), 100.0 * l.appliedBeforeAck() / Math.max(1, l.commits()));
            }
            out.printf("backlog of %d commits: leader wrote %.0f commits/s (durable, max), follower applied %.0f/s:"
                    + " follower / leader = %.2f%n", count, leader, follower, ratio);
            return ExitCodes.OK;
        }

        private static ReplBench.Lag medianLag(List<ReplBench.Lag> ls) {
            ReplBench.Lag f = ls.get(0);
            return new ReplBench.Lag(f.phase(), f.threads(), (long) medD(ls.stream().mapToDouble(ReplBench.Lag::commits).toArray()),
                    medD(ls.stream().mapToDouble(ReplBench.Lag::seconds).toArray()),
                    medD(ls.stream().mapToDouble(ReplBench.Lag::commitsPerSec).toArray()),
                    medD(ls.stream().mapToDouble(ReplBench.Lag::commitP50).toArray()),
                    medD(ls.stream().mapToDouble(ReplBench.Lag::commitP99).toArray()),
                    medD(ls.stream().mapToDouble(ReplBench.Lag::lagP50).toArray()),
                    medD(ls.stream().mapToDouble(ReplBench.Lag::lagP99).toArray()),
                    medD(ls.stream().mapToDouble(ReplBench.Lag::lagMax).toArray()),
                    (long) medD(ls.stream().mapToDouble(ReplBench.Lag::appliedBeforeAck).toArray()),
                    (long) medD(ls.stream().mapToDouble(ReplBench.Lag::leaderCheckpoints).toArray()),
                    (long) medD(ls.stream().mapToDouble(ReplBench.Lag::followerRestartpoints).toArray()));
        }
    }

    @Command(name = "follower-start", mixinStandardHelpOptions = true,
            description = {"Measure the time until a new follower of a large store serves reads, beside restore alone.",
                    "%nBuilds a store of --size once under --data, ships its WAL and a base backup into a file:// archive"
                            + " there, and serves it as a leader with a replication endpoint in this process. Each run"
                            + " then times, as child processes, 'walship restore' of that archive into an empty directory"
                            + " (start to exit) and 'walship follow' with an empty --data and the same archive (start to"
                            + " the first 200 answer to a GET of a key). Medians are reported; everything under --data"
                            + " is deleted at the end."})
    static final class FollowerStart implements Callable<Integer> {
        @Option(names = "--data", paramLabel = "DIR", required = true, description = "Scratch directory (deleted at the end).")
        Path data;
        @Option(names = "--size", paramLabel = "SIZE", defaultValue = "1GiB", description = "Store size (default ${DEFAULT-VALUE}).")
        String size;
        @Option(names = "--runs", paramLabel = "N", defaultValue = "3", description = "Runs; medians are reported (default ${DEFAULT-VALUE}).")
        int runs;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            if (runs < 1) {
                throw new BadInputException("need --runs >= 1");
            }
            long want = Flags.bytes("--size", size);
            PrintWriter out = spec.commandLine().getOut();
            Files.createDirectories(data);
            try (var l = Files.list(data)) {
                if (l.findAny().isPresent()) {
                    throw new BadInputException("--data " + data + " is not empty; the benchmark needs a fresh directory");
                }
            }
            Path leaderDir = data.resolve("leader");
            String archiveUri = "file://" + data.toAbsolutePath().resolve("archive");
            try {
                long imageBytes;
                byte[] key;
                long t0 = System.nanoTime();
                try (io.walship.wal.Store store = io.walship.wal.Store.open(leaderDir);
                     io.walship.archive.ObjectStore archive = io.walship.archive.ObjectStores.open(archiveUri)) {
                    while (imageSize(store) < want) {
                        ArchiveBench.fill(store, 64L << 20, 900);
                    }
                    store.checkpoint();
                    ArchiveBench.ship(leaderDir, archive, io.walship.archive.Codec.ZSTD, new long[1]);
                    imageBytes = ArchiveBench.backup(store, archive, io.walship.archive.Codec.ZSTD, new long[1]).imageBytes();
                    byte[][] first = new byte[1][];
                    store.scan(null, null, (k, v) -> {
                        first[0] = k;
                        return false;
                    });
                    key = first[0];
                }
                out.printf("built a %.0f MB store, its WAL shipped and a base backup taken, in %.0f s (%s)%n", imageBytes / 1e6,
                        (System.nanoTime() - t0) / 1e9, archiveUri);
                out.flush();
                List<Double> restore = new ArrayList<>();
                List<Double> follow = new ArrayList<>();
                int httpPort;
                try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
                    httpPort = s.getLocalPort();
                }
                try (io.walship.wal.Store store = io.walship.wal.Store.open(leaderDir);
                     io.walship.shipper.repl.ReplicationServer repl = new io.walship.shipper.repl.ReplicationServer(store,
                             new java.net.InetSocketAddress("127.0.0.1", 0), io.walship.shipper.repl.ReplicationOptions.defaults()
                             .withIdentity("bench leader", "http://127.0.0.1:" + httpPort)).start();
                     io.walship.server.LeaderServer http = new io.walship.server.LeaderServer(store,
                             new java.net.InetSocketAddress("127.0.0.1", httpPort), null, repl, null).start()) {
                    String keyPath = io.walship.protocol.Endpoints.KV + io.walship.protocol.KeyPaths.encode(key);
                    for (int i = 0; i < runs; i++) {
                        Path target = data.resolve("restored-" + i);
                        long r0 = System.nanoTime();
                        Process p = SelfProcess.start(List.of("restore", "--archive", archiveUri, "--target", target.toString()),
                                data.resolve("restore-" + i + ".log"));
                        int rc = p.waitFor();
                        double rs = (System.nanoTime() - r0) / 1e9;
                        if (rc != 0) {
                            throw new CliException(ExitCodes.FAILURE, "walship restore exited " + rc + "; see "
                                    + data.resolve("restore-" + i + ".log"));
                        }
                        restore.add(rs);
                        FileTrees.deleteTree(target);

                        Path fdir = data.resolve("follower-" + i);
                        int fport;
                        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
                            fport = s.getLocalPort();
                        }
                        java.net.URI read = java.net.URI.create("http://127.0.0.1:" + fport + keyPath);
                        java.net.http.HttpClient client = java.net.http.HttpClient.newBuilder()
                                .connectTimeout(java.time.Duration.ofSeconds(1)).build();
                        long f0 = System.nanoTime();
                        Process f = SelfProcess.start(List.of("follow", "--data", fdir.toString(), "--leader",
                                "127.0.0.1:" + repl.address().getPort(), "--archive", archiveUri, "--http", "127.0.0.1:" + fport,
                                "--node-id", "bench-" + i), data.resolve("follower-" + i + ".log"));
                        try {
                            while (true) {
                                if (!f.isAlive()) {
                                    throw new CliException(ExitCodes.FAILURE, "walship follow exited " + f.exitValue() + "; see "
                                            + data.resolve("follower-" + i + ".log"));
                                }
                                if (System.nanoTime() - f0 > 600_000_000_000L) {
                                    throw new CliException(ExitCodes.FAILURE, "the follower served no read in 600 s");
                                }
                                try {
                                    if (client.send(java.net.http.HttpRequest.newBuilder(read).timeout(java.time.Duration.ofSeconds(5))
                                            .build(), java.net.http.HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                                        break;
                                    }
                                } catch (java.io.IOException notYet) {
                                    // not listening yet
                                }
                                Thread.sleep(10); // the resolution of this measurement
                            }
                            follow.add((System.nanoTime() - f0) / 1e9);
                        } finally {
                            f.destroy();
                            if (!f.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)) {
                                f.destroyForcibly();
                                f.waitFor();
                            }
                        }
                        FileTrees.deleteTree(fdir);
                        out.printf("run %d: walship restore %.2f s, walship follow to its first read %.2f s%n", i + 1, rs,
                                follow.get(i));
                        out.flush();
                    }
                }
                double mr = medianOf(restore);
                double mf = medianOf(follow);
                out.printf("walship bench follower-start: %.0f MB store, median of %d run(s): restore alone %.2f s,"
                        + " new follower serving reads %.2f s: follower / restore = %.2f%n", imageBytes / 1e6, runs, mr, mf, mf / mr);
                return ExitCodes.OK;
            } finally {
                FileTrees.deleteTree(data);
            }
        }
    }

    private static double medD(double[] v) {
        double[] s = v.clone();
        java.util.Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static io.walship.archive.ArchiveUri.S3 s3Uri(String archive) {
        io.walship.archive.ArchiveUri u = io.walship.archive.ArchiveUri.parse(archive);
        if (!(u instanceof io.walship.archive.ArchiveUri.S3 s3)) {
            throw new BadInputException("the archive benchmarks compare with plain S3 calls: give an s3:// --archive");
        }
        return s3;
    }

    private static io.walship.archive.ArchiveUri.S3 withPrefix(io.walship.archive.ArchiveUri.S3 u, String sub) {
        return new io.walship.archive.ArchiveUri.S3(u.bucket(), (u.prefix().isEmpty() ? "" : u.prefix() + "/") + sub,
                u.endpoint(), u.region(), u.pathStyle(), u.accessKey(), u.secretKey());
    }

    /**
     * {@code --data} and {@code --archive}, shared by every benchmark that uses an archive. Their help
     * says s3:// only; a command whose {@code --archive} means more gives its own text under the key
     * {@code archive} in its resource bundle ({@link RequestsBench.Text}), which picocli prefers.
     */
    static class ScratchAndArchive {
        @Option(names = "--data", paramLabel = "DIR", required = true, description = "Scratch directory (deleted first).")
        Path data;
        @Option(names = "--archive", paramLabel = "URI", required = true, descriptionKey = "archive",
                description = "An s3:// archive (s3://bucket/prefix?endpoint=...), compared with plain S3 calls.")
        String archive;
    }

    /** Options shared by the archive benchmarks that compare with plain S3 calls. */
    static final class ArchiveBenchOptions extends ScratchAndArchive {
        @Option(names = "--codec", paramLabel = "CODEC", defaultValue = "zstd", description = "Codec (default ${DEFAULT-VALUE}).")
        String codec;
        @Option(names = "--runs", paramLabel = "N", defaultValue = "3", description = "Runs (default ${DEFAULT-VALUE}).")
        int runs;
        @Mixin
        EncryptionOption encryption = new EncryptionOption();
    }

    @Command(name = "ship", mixinStandardHelpOptions = true,
            description = {"Measure shipping throughput beside plain SDK PutObject calls of the same WAL.",
                    "%nIt reports WAL MB/s in, MB/s out and the compression ratio; the baseline uploads the same"
                            + " uncompressed WAL bytes in 16 MiB objects to the same endpoint. Medians of --runs."})
    static final class Ship implements Callable<Integer> {
        @picocli.CommandLine.Mixin
        ArchiveBenchOptions o;
        @Option(names = "--wal-size", paramLabel = "SIZE", defaultValue = "256MiB", description = "WAL to ship (default ${DEFAULT-VALUE}).")
        String walSize;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws IOException {
            io.walship.archive.ArchiveUri.S3 uri = s3Uri(o.archive);
            FileTrees.deleteTree(o.data);
            PrintWriter out = spec.commandLine().getOut();
            try (io.walship.wal.Store store = io.walship.wal.Store.open(o.data)) {
                ArchiveBench.fill(store, Flags.bytes("--wal-size", walSize), 100);
            }
            List<byte[]> chunks = ArchiveBench.walChunks(o.data);
            long walBytes = chunks.stream().mapToLong(c -> c.length).sum();
            List<Double> ship = new ArrayList<>();
            List<Double> outRate = new ArrayList<>();
            List<Double> raw = new ArrayList<>();
            double ratio = 0;
            try (software.amazon.awssdk.services.s3.S3Client s3 = ArchiveBench.rawClient(uri)) {
                for (int i = 0; i < o.runs; i++) {
                    long[] ns = new long[1];
                    try (io.walship.archive.ObjectStore st = o.encryption.wrap(new io.walship.archive.S3ObjectStore(
                            withPrefix(uri, "bench-" + java.util.UUID.randomUUID())))) {
                        io.walship.shipper.WalShipper.Result r = ArchiveBench.ship(o.data, st, Flags.parse("--codec", o.codec, io.walship.archive.Codec::parse), ns);
                        ship.add(r.walBytes() / (ns[0] / 1e9) / 1e6);
                        outRate.add(r.objectBytes() / (ns[0] / 1e9) / 1e6);
                        ratio = (double) r.walBytes() / r.objectBytes();
                    }
                    raw.add(walBytes / (ArchiveBench.rawPut(s3, uri, chunks) / 1e9) / 1e6);
                }
            }
            double ms = medianOf(ship);
            double mr = medianOf(raw);
            out.printf("walship bench ship: %.0f MB of WAL, %s, endpoint %s, median of %d runs%n", walBytes / 1e6, o.codec,
                    uri.endpoint() == null ? "AWS" : uri.endpoint(), o.runs);
            out.printf("ship:  %.1f MB/s of WAL in, %.1f MB/s out, compression %.2fx%n", ms, medianOf(outRate), ratio);
            out.printf("raw PutObject of the same bytes: %.1f MB/s%n", mr);
            out.printf("ship / raw = %.2f%n", ms / mr);
            return ExitCodes.OK;
        }
    }

    @Command(name = "backup", mixinStandardHelpOptions = true,
            description = {"Measure base backup time beside a plain SDK multipart upload of the same size.",
                    "%nThe store is of --size; the baseline uploads a file of its image's size to the same endpoint."
                            + " Medians of --runs."})
    static final class Backup implements Callable<Integer> {
        @picocli.CommandLine.Mixin
        ArchiveBenchOptions o;
        @Option(names = "--size", paramLabel = "SIZE", defaultValue = "1GiB", description = "Store size (default ${DEFAULT-VALUE}).")
        String size;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws IOException {
            io.walship.archive.ArchiveUri.S3 uri = s3Uri(o.archive);
            FileTrees.deleteTree(o.data);
            PrintWriter out = spec.commandLine().getOut();
            Path image = o.data.resolveSibling(o.data.getFileName() + "-image.bin");
            List<Double> backup = new ArrayList<>();
            List<Double> raw = new ArrayList<>();
            long imageBytes;
            long objectBytes = 0;
            try (io.walship.wal.Store store = io.walship.wal.Store.open(o.data,
                    io.walship.wal.StoreOptions.defaults().withPoolPages(1 << 19));
                 software.amazon.awssdk.services.s3.S3Client s3 = ArchiveBench.rawClient(uri)) {
                // ~0.45 of a 4 KiB page per 900-byte value after splits: fill until the image is big enough
                long target = Flags.bytes("--size", size);
                while (imageSize(store) < target) {
                    ArchiveBench.fill(store, 64L << 20, 900);
                }
                store.checkpoint();
                imageBytes = ArchiveBench.imageToFile(store, image);
                for (int i = 0; i < o.runs; i++) {
                    long[] ns = new long[1];
                    try (io.walship.archive.ObjectStore st = o.encryption.wrap(new io.walship.archive.S3ObjectStore(
                            withPrefix(uri, "bench-" + java.util.UUID.randomUUID())))) {
                        objectBytes = ArchiveBench.backup(store, st, Flags.parse("--codec", o.codec, io.walship.archive.Codec::parse), ns).objectBytes();
                        backup.add(ns[0] / 1e9);
                    }
                    raw.add(ArchiveBench.rawMultipart(s3, uri, image) / 1e9);
                }
            } finally {
                java.nio.file.Files.deleteIfExists(image);
            }
            double mb = medianOf(backup);
            double mr = medianOf(raw);
            out.printf("walship bench backup: %.0f MB image -> %.0f MB (%s), endpoint %s, median of %d runs%n",
                    imageBytes / 1e6, objectBytes / 1e6, o.codec, uri.endpoint() == null ? "AWS" : uri.endpoint(), o.runs);
            out.printf("backup: %.1f s (%.1f MB/s of image)%n", mb, imageBytes / mb / 1e6);
            out.printf("raw multipart upload of the same size: %.1f s (%.1f MB/s)%n", mr, imageBytes / mr / 1e6);
            out.printf("backup rate / raw rate = %.2f%n", mr / mb);
            return ExitCodes.OK;
        }
    }

    @Command(name = "restore", mixinStandardHelpOptions = true,
            description = {"Measure restore time beside a plain SDK download and decompression of the same objects.",
                    "%nThe archive holds a base backup of --size and --wal-size of WAL after it; the baseline fetches"
                            + " its objects one by one from the same endpoint. It also reports the replay rate."
                            + " Medians of --runs."})
    static final class RestoreBench implements Callable<Integer> {
        @picocli.CommandLine.Mixin
        ArchiveBenchOptions o;
        @Option(names = "--size", paramLabel = "SIZE", defaultValue = "1GiB", description = "Store size (default ${DEFAULT-VALUE}).")
        String size;
        @Option(names = "--wal-size", paramLabel = "SIZE", defaultValue = "1GiB", description = "WAL after the backup (default ${DEFAULT-VALUE}).")
        String walSize;
        @Option(names = "--parallel", paramLabel = "N", defaultValue = "4", description = "Restore's concurrent downloads (default ${DEFAULT-VALUE}).")
        int parallel;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws IOException {
            io.walship.archive.ArchiveUri.S3 uri = withPrefix(s3Uri(o.archive), "bench-restore-" + java.util.UUID.randomUUID());
            FileTrees.deleteTree(o.data);
            PrintWriter out = spec.commandLine().getOut();
            Path leader = o.data.resolve("leader");
            Path target = o.data.resolve("restored");
            long imageBytes;
            try (io.walship.archive.ObjectStore st = o.encryption.wrap(new io.walship.archive.S3ObjectStore(uri))) {
                try (io.walship.wal.Store store = io.walship.wal.Store.open(leader,
                        io.walship.wal.StoreOptions.defaults().withPoolPages(1 << 19))) {
                    long want = Flags.bytes("--size", size);
                    while (imageSize(store) < want) {
                        ArchiveBench.fill(store, 64L << 20, 900);
                    }
                    store.checkpoint();
                    imageBytes = ArchiveBench.backup(store, st, Flags.parse("--codec", o.codec, io.walship.archive.Codec::parse), new long[1]).imageBytes();
                    ArchiveBench.fill(store, Flags.bytes("--wal-size", walSize), 100);
                }
                ArchiveBench.ship(leader, st, Flags.parse("--codec", o.codec, io.walship.archive.Codec::parse), new long[1]);
                List<Double> restore = new ArrayList<>();
                List<Double> replay = new ArrayList<>();
                List<Double> raw = new ArrayList<>();
                io.walship.restorer.Restore.Result last = null;
                try (software.amazon.awssdk.services.s3.S3Client s3 = ArchiveBench.rawClient(uri)) {
                    for (int i = 0; i < o.runs; i++) {
                        FileTrees.deleteTree(target);
                        io.walship.restorer.Restore.Options opts = io.walship.restorer.Restore.Options.defaults()
                                .withParallel(parallel);
                        last = io.walship.restorer.Restore.run(st, target, opts, new io.walship.restorer.Restore.Listener() { });
                        restore.add(last.seconds());
                        replay.add(last.replaySeconds());
                        raw.add(ArchiveBench.rawDownloadAndDecompress(s3, uri, st) / 1e9);
                    }
                }
                double mr = medianOf(restore);
                double mb = medianOf(raw);
                double rp = medianOf(replay);
                out.printf("walship bench restore: %.0f MB image + %.0f MB WAL (%d entries, %d segments), %s, endpoint %s,"
                                + " median of %d runs%n", imageBytes / 1e6, last.walBytes() / 1e6, last.entries(),
                        last.segments(), o.codec, uri.endpoint() == null ? "AWS" : uri.endpoint(), o.runs);
                out.printf("restore: %.1f s (base backup %.1f s, replay %.1f s: %.0f entries/s, %.1f MB/s of WAL)%n", mr,
                        mr - rp, rp, last.entries() / rp, last.walBytes() / rp / 1e6);
                out.printf("raw download + decompress of the same objects: %.1f s%n", mb);
                out.printf("restore / raw = %.2f%n", mr / mb);
            }
            FileTrees.deleteTree(o.data);
            return ExitCodes.OK;
        }
    }

    /** Issue 13's data set, as 'bench restore-memory' generates it and 'bench dataset' writes it. */
    static final class DataSetOptions {
        @Option(names = "--rows", paramLabel = "N", defaultValue = "200000", description = "Rows (default ${DEFAULT-VALUE}).")
        int rows;
        @Option(names = "--value-size", paramLabel = "B", defaultValue = "1000", description = "Value bytes (default ${DEFAULT-VALUE}).")
        int valueSize;
        @Option(names = "--updates", paramLabel = "N", defaultValue = "200000",
                description = "Single-row updates after the base backup (default ${DEFAULT-VALUE}).")
        int updates;
        @Option(names = "--seed", paramLabel = "N", defaultValue = "1", description = "Seed of the rows and updates (default ${DEFAULT-VALUE}).")
        long seed;

        /** The operations these options name; exit 2 if they name none (keys are 'k' + 9 digits). */
        RestoreMemoryBench.Ops generated() {
            if (rows < 1 || rows > 999_999_999 || valueSize < 1 || updates < 0) {
                throw new BadInputException("need 1 <= --rows <= 999999999, --value-size >= 1, --updates >= 0");
            }
            return RestoreMemoryBench.generated(rows, valueSize, updates, seed);
        }
    }

    @Command(name = "restore-memory", mixinStandardHelpOptions = true,
            description = {"Measure restore time and peak RSS on issue 13's data set, as child processes.",
                    "%nBuilds --rows rows of --value-size random base64 bytes under --data, takes a base backup, makes"
                            + " --updates single-row updates of random rows, and ships the WAL to a file:// archive there."
                            + " Then each run restores it with this build and with every --compare jar (in turn, in the"
                            + " same sitting), as 'java -jar JAR restore' under /usr/bin/time, and checks the restored"
                            + " digest against the source's. Medians of --runs; --data is deleted at the end.",
                    "%nWith --dataset the operations are read from the files 'walship bench dataset' wrote (so that"
                            + " another system can be loaded with the very same ones); --build-only builds the store and"
                            + " its archive under --data and keeps them, restoring nothing (scripts/bench-peers.sh times"
                            + " './walship restore' of that archive itself)."})
    static final class RestoreMemory implements Callable<Integer> {
        @Option(names = "--data", paramLabel = "DIR", required = true, description = "Scratch directory (deleted at the end).")
        Path data;
        @Mixin
        DataSetOptions set;
        @Option(names = "--runs", paramLabel = "N", defaultValue = "3", description = "Runs; medians are reported (default ${DEFAULT-VALUE}).")
        int runs;
        @Option(names = "--java-opts", paramLabel = "OPTS", defaultValue = "",
                description = "JVM options of this build's restore children, e.g. -Xmx320m as ./walship restore uses"
                        + " (default: none, the JVM's own heap sizing).")
        String javaOpts;
        @Option(names = "--compare-java-opts", paramLabel = "OPTS",
                description = "JVM options of the --compare jars' restore children (default: --java-opts).")
        String compareJavaOpts;
        @Option(names = "--compare", paramLabel = "JAR", description = "Another walship.jar to restore with in the same runs (repeatable).")
        List<String> compare = new ArrayList<>();
        @Option(names = "--keep", description = "Keep the source store and its archive under --data; a later run with the"
                + " same --data restores them again instead of building anew.")
        boolean keep;
        @Option(names = "--dataset", paramLabel = "DIR", description = "Read the rows and updates from DIR/"
                + RestoreMemoryBench.ROWS_FILE + " and DIR/" + RestoreMemoryBench.UPDATES_FILE + " ('walship bench dataset')"
                + " instead of generating them (--rows, --value-size, --updates and --seed are then unused).")
        Path dataset;
        @Option(names = "--build-only", description = "Build the store and its archive under --data, keep them, and stop"
                + " (no restore; --runs and the JVM options are unused).")
        boolean buildOnly;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            if (runs < 1) {
                throw new BadInputException("need --runs >= 1");
            }
            if (!buildOnly && !Files.isExecutable(Path.of(RestoreMemoryBench.TIME))) {
                throw new BadInputException("needs GNU time at " + RestoreMemoryBench.TIME + " (Debian package 'time')");
            }
            List<String> jars = new ArrayList<>();
            if (!buildOnly) {
                jars.add(RestoreMemoryBench.ownJar());
            }
            for (String j : compare) {
                if (!Files.isRegularFile(Path.of(j))) {
                    throw new BadInputException("--compare " + j + ": no such file");
                }
                jars.add(Path.of(j).toAbsolutePath().toString());
            }
            List<String> opts = javaOpts.isBlank() ? List.of() : List.of(javaOpts.trim().split("\\s+"));
            String other = compareJavaOpts == null ? javaOpts : compareJavaOpts;
            List<String> otherOpts = other.isBlank() ? List.of() : List.of(other.trim().split("\\s+"));
            Files.createDirectories(data);
            boolean reuse;
            try (var l = Files.list(data)) {
                List<String> names = l.map(p -> p.getFileName().toString()).sorted().toList();
                reuse = names.contains("archive") && names.contains("source");
                if (!names.isEmpty() && !reuse) {
                    throw new BadInputException("--data " + data + " is neither empty nor a data set kept by --keep");
                }
            }
            if (buildOnly && reuse) {
                throw new BadInputException("--build-only: --data " + data + " already holds a data set");
            }
            PrintWriter out = spec.commandLine().getOut();
            boolean built = false;
            try {
                RestoreMemoryBench.DataSet d = reuse ? RestoreMemoryBench.reuse(data, out)
                        : RestoreMemoryBench.build(data, dataset != null ? RestoreMemoryBench.fromFiles(dataset)
                                : set.generated(), out);
                if (buildOnly) {
                    out.printf("source %s (digest %s, %d pairs, LSN %s), archive %s%n", data.resolve("source"),
                            d.digest().sha256(), d.digest().pairs(), io.walship.wal.Lsn.format(d.digest().lsn()), d.archiveUri());
                    built = true;
                    return ExitCodes.OK;
                }
                List<List<RestoreMemoryBench.Run>> byJar = new ArrayList<>();
                for (int j = 0; j < jars.size(); j++) {
                    byJar.add(new ArrayList<>());
                }
                for (int i = 0; i < runs; i++) {
                    for (int k = 0; k < jars.size(); k++) {
                        int j = (k + i) % jars.size(); // rotated, so that no jar always runs first
                        RestoreMemoryBench.Run r = RestoreMemoryBench.restore(jars.get(j), j == 0 ? opts : otherOpts, d,
                                data.resolve("restored"), data.resolve("restore-" + i + "-" + j + ".log"));
                        byJar.get(j).add(r);
                        out.printf("run %d: %s: %.2f s, peak RSS %.0f MiB, %s%n", i + 1, jars.get(j), r.seconds(),
                                r.maxRssKib() / 1024.0, r.failure() == null ? "digest equal" : "FAILED, " + r.failure());
                        out.flush();
                    }
                }
                String what = reuse ? "the data set kept in " + data : dataset != null ? "the operations in " + dataset
                        : String.format("%d rows x %d B, %d updates", set.rows, set.valueSize, set.updates);
                out.printf("walship bench restore-memory: %s, pages.dat %.0f MB, JVM options '%s'"
                        + " (--compare jars: '%s'), median of %d run(s)%n", what, d.pageFileBytes() / 1e6,
                        String.join(" ", opts), String.join(" ", otherOpts), runs);
                boolean allMeasured = true;
                for (int j = 0; j < jars.size(); j++) {
                    List<RestoreMemoryBench.Run> rs = byJar.get(j).stream().filter(r -> r.failure() == null).toList();
                    if (rs.isEmpty()) {
                        out.printf("%s: every run failed: %s%n", jars.get(j), byJar.get(j).get(0).failure());
                        allMeasured = false;
                        continue;
                    }
                    out.printf("%s: %d of %d run(s) succeeded; restore %.2f s, peak RSS %.0f MiB (runs: %s)%n", jars.get(j),
                            rs.size(), byJar.get(j).size(),
                            medianOf(rs.stream().map(RestoreMemoryBench.Run::seconds).toList()),
                            medianOf(rs.stream().map(r -> r.maxRssKib() / 1024.0).toList()),
                            String.join(", ", rs.stream().map(r -> String.format("%.2f s %.0f MiB", r.seconds(),
                                    r.maxRssKib() / 1024.0)).toList()));
                }
                if (!allMeasured) {
                    throw new CliException(ExitCodes.FAILURE, "a build had no successful restore: nothing measured for it");
                }
                return ExitCodes.OK;
            } finally {
                if (!keep && !built) {
                    FileTrees.deleteTree(data);
                }
            }
        }
    }

    @Command(name = "dataset", mixinStandardHelpOptions = true,
            description = {"Write the operations of 'bench restore-memory' to files, for loading other systems with them.",
                    "%nWrites DIR/" + RestoreMemoryBench.ROWS_FILE + " (the --rows rows loaded before the base backup) and DIR/"
                            + RestoreMemoryBench.UPDATES_FILE + " (the --updates single-row updates after it, in order), one"
                            + " 'key<TAB>value' line per operation; keys 'k' + 9 digits, values --value-size random base64"
                            + " bytes, all drawn from --seed: the same seed gives the same files, and the same operations as"
                            + " 'bench restore-memory --seed'. 'bench restore-memory --dataset DIR' loads walship with them;"
                            + " scripts/bench-peers.sh loads SQLite under Litestream with them."})
    static final class Dataset implements Callable<Integer> {
        @Option(names = "--out", paramLabel = "DIR", required = true, description = "Directory to write the two files into.")
        Path outDir;
        @Mixin
        DataSetOptions set;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            long[] n = RestoreMemoryBench.export(set.generated(), outDir);
            spec.commandLine().getOut().printf("wrote %d rows and %d updates of %d-byte values (seed %d) to %s and %s%n",
                    n[0], n[1], set.valueSize, set.seed, outDir.resolve(RestoreMemoryBench.ROWS_FILE),
                    outDir.resolve(RestoreMemoryBench.UPDATES_FILE));
            return ExitCodes.OK;
        }
    }

    @Command(name = "fill", mixinStandardHelpOptions = true,
            description = {"Measure the on-disk size of the same rows in walship and in SQLite, in the same run.",
                    "%nLoads --rows rows (key: 'k' + zero-padded number, --key-size bytes; value: random base64 text of"
                            + " --value-size bytes), in key order or shuffled (--order), in batches of 500 rows;"
                            + " then deletes a random --delete-share of them; then inserts as many new rows. After each"
                            + " phase it prints walship's pages (in use and free), leaf fill and pages.dat size beside"
                            + " SQLite's (the sqlite3 shell: table kv(k TEXT PRIMARY KEY, v TEXT), 4 KiB pages, 500 rows"
                            + " per transaction) and the ratio of the file sizes. Medians of --runs."})
    static final class Fill implements Callable<Integer> {
        @Option(names = "--data", paramLabel = "DIR", required = true, description = "Scratch directory (its runs are deleted).")
        Path data;
        @Option(names = "--rows", paramLabel = "N", defaultValue = "200000", description = "Rows (default ${DEFAULT-VALUE}).")
        int rows;
        @Option(names = "--key-size", paramLabel = "B", defaultValue = "10", description = "Key bytes (default ${DEFAULT-VALUE}).")
        int keySize;
        @Option(names = "--value-size", paramLabel = "B", defaultValue = "1000", description = "Value bytes (default ${DEFAULT-VALUE}).")
        int valueSize;
        @Option(names = "--order", paramLabel = "seq|random", defaultValue = "seq",
                description = "Insert in key order or shuffled (default ${DEFAULT-VALUE}).")
        String order;
        @Option(names = "--delete-share", paramLabel = "F", defaultValue = "0.9",
                description = "Share of the rows the delete phase removes (default ${DEFAULT-VALUE}).")
        double deleteShare;
        @Option(names = "--runs", paramLabel = "N", defaultValue = "3", description = "Runs; medians are reported (default ${DEFAULT-VALUE}).")
        int runs;
        @Option(names = "--seed", paramLabel = "N", defaultValue = "1", description = "Seed of the rows (default ${DEFAULT-VALUE}).")
        long seed;
        @Option(names = "--sqlite", paramLabel = "PATH", defaultValue = "sqlite3", description = "The sqlite3 shell (default ${DEFAULT-VALUE}).")
        String sqlite;
        @Option(names = "--no-sqlite", description = "Measure walship only.")
        boolean noSqlite;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws IOException {
            int digits = Long.toString(Math.max(0, (long) (rows * (1 + deleteShare)) - 1)).length();
            if (rows < 1 || runs < 1 || valueSize < 0 || valueSize > io.walship.wal.BTree.MAX_VALUE
                    || keySize < 1 + digits || keySize > io.walship.wal.BTree.MAX_KEY
                    || !(deleteShare >= 0 && deleteShare <= 1) || !(order.equals("seq") || order.equals("random"))) {
                throw new BadInputException("need --rows >= 1, --runs >= 1, 0 <= --value-size <= " + io.walship.wal.BTree.MAX_VALUE
                        + ", " + (1 + digits) + " <= --key-size <= " + io.walship.wal.BTree.MAX_KEY
                        + ", 0 <= --delete-share <= 1, --order seq or random");
            }
            FillBench.Workload w = new FillBench.Workload(rows, keySize, valueSize, order.equals("random"), deleteShare, seed);
            List<List<FillBench.Phase>> all = new ArrayList<>();
            for (int i = 0; i < runs; i++) {
                try {
                    all.add(FillBench.run(data.resolve("run" + i), w, noSqlite ? null : sqlite));
                } catch (RuntimeException e) {
                    CliException c = FillBench.failure(e);
                    throw c != null ? c : e;
                }
            }
            PrintWriter out = spec.commandLine().getOut();
            out.printf("walship bench fill: %d rows, %d-byte keys, %d-byte base64 values, %s order, median of %d run(s)%n",
                    rows, keySize, valueSize, order, runs);
            out.printf("%-20s %8s | %9s %9s %9s %7s %9s | %9s %9s %9s | %6s%n", "phase", "rows", "pages", "free",
                    "internal", "fill", "MB", "sq pages", "sq free", "sq MB", "ratio");
            for (int p = 0; p < all.get(0).size(); p++) {
                int ph = p;
                double pages = med(all, ph, f -> f.walship().pages());
                double free = med(all, ph, f -> f.walship().freePages());
                double internal = med(all, ph, f -> f.walship().internalPages());
                double fill = med(all, ph, f -> f.walship().leafFill());
                double mb = med(all, ph, f -> f.walshipFileBytes() / 1e6);
                double sp = med(all, ph, FillBench.Phase::sqlitePages);
                double sf = med(all, ph, FillBench.Phase::sqliteFreePages);
                double smb = med(all, ph, f -> f.sqliteFileBytes() / 1e6);
                double ratio = med(all, ph, f -> f.sqliteFileBytes() <= 0 ? Double.NaN
                        : (double) f.walshipFileBytes() / f.sqliteFileBytes());
                FillBench.Phase f0 = all.get(0).get(p);
                if (noSqlite) {
                    out.printf("%-20s %8d | %9.0f %9.0f %9.0f %6.1f%% %9.1f | %9s %9s %9s | %6s%n", f0.name(), f0.rows(),
                            pages, free, internal, fill * 100, mb, "-", "-", "-", "-");
                } else {
                    out.printf("%-20s %8d | %9.0f %9.0f %9.0f %6.1f%% %9.1f | %9.0f %9.0f %9.1f | %6.2f%n", f0.name(),
                            f0.rows(), pages, free, internal, fill * 100, mb, sp, sf, smb, ratio);
                }
            }
            out.println("pages/free/internal/fill: walship's page file (pages in it, on its free list, internal nodes;"
                    + " leaf fill = cell bytes / leaf space); sq: SQLite page_count, freelist_count; ratio = file sizes");
            return ExitCodes.OK;
        }

        private static double med(List<List<FillBench.Phase>> all, int phase, ToDoubleFunction<FillBench.Phase> f) {
            List<Double> v = new ArrayList<>();
            for (List<FillBench.Phase> run : all) {
                v.add(f.applyAsDouble(run.get(phase)));
            }
            return medianOf(v);
        }
    }

    private static long imageSize(io.walship.wal.Store store) {
        try (io.walship.wal.Snapshot s = store.snapshot()) {
            return s.imageSize();
        }
    }

    static double medianOf(List<Double> v) {
        double[] a = v.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
    }
}
