package io.walship.cli;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.Callable;

import io.walship.archive.BackupManifest;
import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.shipper.BackupSource;
import io.walship.shipper.BackupType;
import io.walship.wal.FileTrees;
import io.walship.wal.Store;
import io.walship.wal.StoreOptions;
import io.walship.wal.WriteBatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code walship bench incremental}: an incremental base backup after about {@code --changed} of the
 * pages changed, beside a full backup of the same store state, in the same run. Each run updates random
 * rows (about one per page to change), then takes a full backup into one archive prefix and an
 * incremental one into another (whose chain's newest backup is the previous run's state), alternating
 * which goes first; both through {@link BackupSource.StoppedStore}, as {@code walship backup --data} does.
 */
@Command(name = "incremental", mixinStandardHelpOptions = true,
        description = {"Measure an incremental base backup after a share of the pages changed beside a full one.",
                "%nBuilds a store of --rows rows in --data (deleted first), then per run changes about --changed of"
                        + " its pages and backs it up full (one archive prefix) and incremental (another), alternating the"
                        + " order. Prints each run and the medians of time and object size."})
final class IncrementalBench implements Callable<Integer> {
    @Option(names = "--data", required = true, paramLabel = "SCRATCH", description = "Scratch directory (deleted first).")
    Path data;
    @Option(names = "--archive", required = true, paramLabel = "URI", description = "Archive URI; the bench uses two new"
            + " prefixes under it.")
    String archive;
    @Option(names = "--rows", defaultValue = "100000", description = "Rows in the store (default ${DEFAULT-VALUE}).")
    int rows;
    @Option(names = "--value-size", defaultValue = "1000", description = "Bytes per value (default ${DEFAULT-VALUE}).")
    int valueSize;
    @Option(names = "--changed", defaultValue = "0.01", description = "Share of pages to change per run (default"
            + " ${DEFAULT-VALUE}).")
    double changed;
    @Option(names = "--runs", defaultValue = "5", description = "Runs (default ${DEFAULT-VALUE}).")
    int runs;
    @Option(names = "--codec", defaultValue = "zstd", description = "Codec (default ${DEFAULT-VALUE}).")
    String codec;
    @Option(names = "--seed", defaultValue = "14", description = "Random seed (default ${DEFAULT-VALUE}).")
    long seed;
    @Spec
    CommandSpec spec;

    private static String sub(String uri, String prefix) {
        int q = uri.indexOf('?');
        String base = q < 0 ? uri : uri.substring(0, q);
        String query = q < 0 ? "" : uri.substring(q);
        return (base.endsWith("/") ? base : base + "/") + prefix + query;
    }

    private static byte[] key(long i) {
        return String.format("row:%012d", i).getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public Integer call() throws Exception {
        Codec c = Flags.parse("--codec", codec, Codec::parse);
        PrintWriter out = spec.commandLine().getOut();
        FileTrees.deleteTree(data);
        SplittableRandom rnd = new SplittableRandom(seed);
        byte[] v = new byte[valueSize];
        try (Store s = Store.open(data, StoreOptions.defaults().withCacheSize(BackupSource.StoppedStore.CACHE_BYTES))) {
            for (int i = 0; i < rows; i += 500) {
                WriteBatch b = new WriteBatch();
                for (int j = i; j < Math.min(rows, i + 500); j++) {
                    for (int k = 0; k < v.length; k += 8) {
                        v[k] = (byte) rnd.nextInt(); // half-random values: compressible, like real data
                    }
                    b.put(key(j), v.clone());
                }
                s.write(b);
            }
        }
        String run = UUID.randomUUID().toString().substring(0, 8);
        BackupSource src = new BackupSource.StoppedStore(data);
        List<Double> fullS = new ArrayList<>();
        List<Double> incrS = new ArrayList<>();
        List<Double> fullB = new ArrayList<>();
        List<Double> incrB = new ArrayList<>();
        try (ObjectStore fulls = ObjectStores.open(sub(archive, "bench-full-" + run));
             ObjectStore incrs = ObjectStores.open(sub(archive, "bench-incr-" + run))) {
            BackupManifest first = src.backup(incrs, c, total -> done -> { }, BackupType.FULL.policy());
            out.printf("seed %d; store: %d rows of %d bytes, %d pages (%.0f MB image); first full backup %d bytes%n",
                    seed, rows, valueSize, first.pageCount(), first.imageBytes() / 1e6, first.objectBytes());
            for (int r = 0; r < runs; r++) {
                int pages = first.pageCount();
                int updates = Math.max(1, (int) Math.round(pages * changed));
                try (Store s = Store.open(data, StoreOptions.defaults().withCacheSize(BackupSource.StoppedStore.CACHE_BYTES))) {
                    for (int u = 0; u < updates; u++) {
                        for (int k = 0; k < v.length; k += 8) {
                            v[k] = (byte) rnd.nextInt();
                        }
                        WriteBatch b = new WriteBatch();
                        b.put(key(rnd.nextInt(rows)), v.clone());
                        s.write(b);
                    }
                }
                double fs = 0;
                double is = 0;
                BackupManifest f = null;
                BackupManifest in = null;
                for (int order = 0; order < 2; order++) {
                    boolean doFull = (order == 0) == (r % 2 == 0);
                    long t0 = System.nanoTime();
                    if (doFull) {
                        f = src.backup(fulls, c, total -> done -> { }, BackupType.FULL.policy());
                        fs = (System.nanoTime() - t0) / 1e9;
                    } else {
                        in = src.backup(incrs, c, total -> done -> { }, BackupType.INCREMENTAL.policy());
                        is = (System.nanoTime() - t0) / 1e9;
                    }
                }
                if (!in.incremental() || !in.fullImageSha256().equals(f.imageSha256())) {
                    throw new CliException(ExitCodes.INTEGRITY, "run " + r + ": the incremental backup is not of the"
                            + " full one's image");
                }
                fullS.add(fs);
                incrS.add(is);
                fullB.add((double) f.objectBytes());
                incrB.add((double) in.objectBytes());
                out.printf("run %d (%s first): %d row updates, %d of %d pages in the incremental; full %.2f s %d bytes,"
                        + " incremental %.2f s %d bytes%n", r + 1, r % 2 == 0 ? "full" : "incremental", updates,
                        in.incrementalPages(), in.pageCount(), fs, f.objectBytes(), is, in.objectBytes());
            }
        }
        double mfs = BenchCommand.medianOf(fullS);
        double mis = BenchCommand.medianOf(incrS);
        double mfb = BenchCommand.medianOf(fullB);
        double mib = BenchCommand.medianOf(incrB);
        out.printf("median of %d runs: full %.2f s, %.0f bytes; incremental %.2f s, %.0f bytes (%.1f%% of the size,"
                + " %.0f%% of the time)%n", runs, mfs, mfb, mis, mib, 100 * mib / mfb, 100 * mis / mfs);
        return ExitCodes.OK;
    }
}
