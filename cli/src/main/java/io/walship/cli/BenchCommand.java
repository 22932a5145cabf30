package io.walship.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.ToDoubleFunction;
import java.util.stream.Stream;

import io.walship.wal.Durability;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code walship bench}: measurements, each beside its baseline from the same run. */
@Command(name = "bench", description = "Benchmarks (figures go to docs/BENCHMARKS.md).", mixinStandardHelpOptions = true,
        subcommands = BenchCommand.Write.class)
final class BenchCommand {

    @Command(name = "write", mixinStandardHelpOptions = true,
            description = {"Durable commit throughput and latency of the store, with the raw WAL limit",
                    "(plain Chronicle Queue append + msync every THREADS entries of the same size) measured",
                    "in the same run. Each run uses a fresh directory under --data; medians are reported."})
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
        @Option(names = "--runs", paramLabel = "N", defaultValue = "1", description = "Runs; medians are reported (default ${DEFAULT-VALUE}).")
        int runs;
        @Option(names = "--async", description = "Non-durable commits (for comparison; the default is durable).")
        boolean async;
        @Option(names = "--no-baseline", description = "Skip the raw Chronicle Queue baseline.")
        boolean noBaseline;
        @Option(names = "--json", description = "Print JSON.")
        boolean json;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws IOException {
            if (threads < 1 || count < threads || valueSize < 0 || keySize < 1 || runs < 1) {
                throw new IllegalArgumentException("need --threads >= 1, --count >= threads, --key-size >= 1, --runs >= 1");
            }
            Files.createDirectories(data);
            List<WriteBench.Result> store = new ArrayList<>();
            List<WriteBench.Result> raw = new ArrayList<>();
            for (int i = 0; i < runs; i++) {
                Path s = data.resolve("store-run" + i);
                deleteTree(s);
                long w = warmup >= 0 ? warmup : Math.min(20_000, count / 5);
                store.add(WriteBench.store(s, threads, count, w, keySize, valueSize,
                        async ? Durability.ASYNC : Durability.DURABLE));
                deleteTree(s);
                if (!noBaseline) {
                    Path r = data.resolve("raw-run" + i);
                    deleteTree(r);
                    int entrySize = (int) Math.round(store.get(i).walBytesPerCommit());
                    raw.add(WriteBench.raw(r, threads, count, entrySize));
                    deleteTree(r);
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
            out.printf("walship bench write: %d threads, %d commits/run, %d-byte keys, %d-byte values, %s, median of %d run(s)%n",
                    threads, count, keySize, valueSize, async ? "async" : "durable", runs);
            out.printf("%-6s %12s %9s %9s %9s %10s %11s %12s%n", "", "commits/s", "MB/s", "p50 µs", "p99 µs", "max µs",
                    "WAL B/cmt", "commits/sync");
            print(out, ms);
            if (mr != null) {
                print(out, mr);
                out.printf("store / raw = %.2f%n", ms.commitsPerSec() / mr.commitsPerSec());
            }
            return ExitCodes.OK;
        }

        private static void print(PrintWriter out, WriteBench.Result r) {
            out.printf("%-6s %12.0f %9.2f %9.1f %9.1f %10.1f %11.1f %12.1f%n", r.kind(), r.commitsPerSec(), r.mbPerSec(),
                    r.p50Micros(), r.p99Micros(), r.maxMicros(), r.walBytesPerCommit(), r.commitsPerSync());
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

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path x : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(x);
            }
        }
    }
}
