package io.walship.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.wal.Durability;
import io.walship.wal.FileTrees;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import io.walship.wal.WriteBatch;

/**
 * The restore of issue 13's data set, timed and weighed in child processes: {@code rows} rows of
 * {@code valueSize} random base64 bytes (the keys and values of {@code bench fill}), a base
 * backup, then {@code updates} single-row updates of random rows to new random values, the WAL
 * shipped in 16 MiB segments to a {@code file://} archive. Each restore runs as
 * {@code /usr/bin/time -f '%e %M' java ... -jar JAR restore}, so its peak RSS is the kernel's
 * (the maximum resident set of the child, as {@code time -v} reports it), and is checked against
 * the source's digest.
 */
final class RestoreMemoryBench {
    static final String TIME = "/usr/bin/time";

    private RestoreMemoryBench() {
    }

    /** The built archive and what a restore of it must give. */
    record DataSet(String archiveUri, StateDigest digest, long pageFileBytes) {
    }

    /**
     * One child restore: wall seconds and peak RSS in KiB, as GNU time measured them, and why it
     * failed (its exit code and the first line naming an error), null if it did not.
     */
    record Run(double seconds, long maxRssKib, String failure) {
    }

    /** Receives one operation of the data set: set {@code key} to {@code value}. */
    @FunctionalInterface
    interface OpSink {
        void accept(byte[] key, byte[] value) throws IOException;
    }

    /**
     * The operations of the data set, in order: the rows loaded before the base backup, then the
     * single-row updates after it. Replayable: each call goes through them from the start.
     */
    interface Ops {
        void forEachRow(OpSink sink) throws IOException;

        void forEachUpdate(OpSink sink) throws IOException;
    }

    /** File names of an exported data set (see {@link #export}). */
    static final String ROWS_FILE = "rows.tsv";
    static final String UPDATES_FILE = "updates.tsv";

    /**
     * The generated data set: {@code rows} rows of {@code valueSize} random base64 bytes (the keys
     * and values of {@code bench fill}), then {@code updates} updates of rows drawn at random to new
     * random values, all from {@code seed}.
     */
    static Ops generated(int rows, int valueSize, int updates, long seed) {
        FillBench.Workload w = new FillBench.Workload(rows, 10, valueSize, false, 0, seed);
        return new Ops() {
            @Override
            public void forEachRow(OpSink sink) throws IOException {
                for (int j = 0; j < rows; j++) {
                    sink.accept(w.key(j), w.value(j).getBytes(StandardCharsets.US_ASCII));
                }
            }

            @Override
            public void forEachUpdate(OpSink sink) throws IOException {
                SplittableRandom r = new SplittableRandom(seed ^ 0x5eedL);
                FillBench.Workload next = new FillBench.Workload(rows, 10, valueSize, false, 0, seed + 1);
                for (int u = 1; u <= updates; u++) {
                    sink.accept(w.key(r.nextInt(rows)), next.value(u).getBytes(StandardCharsets.US_ASCII));
                }
            }
        };
    }

    /**
     * A data set exported by {@link #export} into {@code dir}: {@value #ROWS_FILE} and
     * {@value #UPDATES_FILE}, one {@code key<TAB>value} line per operation, in order.
     */
    static Ops fromFiles(Path dir) {
        for (String f : List.of(ROWS_FILE, UPDATES_FILE)) {
            if (!Files.isRegularFile(dir.resolve(f))) {
                throw new io.walship.protocol.BadInputException("--dataset " + dir + ": no " + f
                        + " (write one with 'walship bench dataset --out " + dir + "')");
            }
        }
        return new Ops() {
            @Override
            public void forEachRow(OpSink sink) throws IOException {
                read(dir.resolve(ROWS_FILE), sink);
            }

            @Override
            public void forEachUpdate(OpSink sink) throws IOException {
                read(dir.resolve(UPDATES_FILE), sink);
            }
        };
    }

    private static void read(Path file, OpSink sink) throws IOException {
        try (var in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            long n = 0;
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                n++;
                int tab = line.indexOf('\t');
                if (tab <= 0 || line.indexOf('\t', tab + 1) >= 0) {
                    throw new io.walship.protocol.BadInputException(file + ":" + n
                            + ": expected one 'key<TAB>value' pair (a non-empty key, exactly one tab)");
                }
                byte[] k = line.substring(0, tab).getBytes(StandardCharsets.UTF_8);
                byte[] v = line.substring(tab + 1).getBytes(StandardCharsets.UTF_8);
                try {
                    io.walship.wal.BTree.checkKey(k);
                    io.walship.wal.BTree.checkValue(v);
                } catch (IllegalArgumentException e) {
                    throw new io.walship.protocol.BadInputException(file + ":" + n + ": " + e.getMessage());
                }
                sink.accept(k, v);
            }
        }
    }

    /**
     * Writes {@code ops} into {@code dir} as {@value #ROWS_FILE} and {@value #UPDATES_FILE}, the
     * same operations another system can load (keys and values are plain ASCII without tabs).
     * Returns the number of rows and of updates written.
     */
    static long[] export(Ops ops, Path dir) throws IOException {
        Files.createDirectories(dir);
        long[] counts = new long[2];
        for (int f = 0; f < 2; f++) {
            int which = f;
            try (var o = new java.io.BufferedOutputStream(Files.newOutputStream(dir.resolve(f == 0 ? ROWS_FILE : UPDATES_FILE)),
                    1 << 16)) {
                OpSink sink = (k, v) -> {
                    o.write(k);
                    o.write('\t');
                    o.write(v);
                    o.write('\n');
                    counts[which]++;
                };
                if (f == 0) {
                    ops.forEachRow(sink);
                } else {
                    ops.forEachUpdate(sink);
                }
            }
        }
        return counts;
    }

    /**
     * Builds the store under {@code dir}/source and its archive under {@code dir}/archive: the rows
     * in batches of 500, a checkpoint and a base backup, then each update as its own commit
     * (durable every 1,000th and the last), then the WAL shipped.
     */
    static DataSet build(Path dir, Ops ops, PrintWriter out) throws IOException {
        Path source = dir.resolve("source");
        String uri = "file://" + dir.toAbsolutePath().resolve("archive");
        long t0 = System.nanoTime();
        try (Store store = Store.open(source); ObjectStore archive = ObjectStores.open(uri)) {
            WriteBatch[] batch = {new WriteBatch()};
            long[] n = new long[2];
            ops.forEachRow((k, v) -> {
                batch[0].put(k, v);
                if (++n[0] % 500 == 0) {
                    store.write(batch[0]);
                    batch[0] = new WriteBatch();
                }
            });
            if (n[0] % 500 != 0) {
                store.write(batch[0]);
            }
            store.checkpoint();
            ArchiveBench.backup(store, archive, Codec.ZSTD, new long[1]);
            byte[][] pending = new byte[2][];
            ops.forEachUpdate((k, v) -> {
                if (pending[0] != null) { // one behind, so that the last update is known and made durable
                    store.put(pending[0], pending[1], ++n[1] % 1000 == 0 ? Durability.DURABLE : Durability.ASYNC);
                }
                pending[0] = k;
                pending[1] = v;
            });
            if (pending[0] != null) {
                store.put(pending[0], pending[1], Durability.DURABLE);
                n[1]++;
            }
            ArchiveBench.ship(source, archive, Codec.ZSTD, new long[1]);
            DataSet d = new DataSet(uri, store.digest(), sizeOf(source.resolve("pages.dat")));
            out.printf("built %d rows, a base backup, %d updates, shipped to %s, in %.0f s;"
                    + " pages.dat %.0f MB, WAL archived %.0f MB%n", n[0], n[1], uri,
                    (System.nanoTime() - t0) / 1e9, d.pageFileBytes() / 1e6, treeBytes(dir.resolve("archive")) / 1e6);
            out.flush();
            return d;
        }
    }

    /** A data set an earlier run kept under {@code dir}. */
    static DataSet reuse(Path dir, PrintWriter out) {
        Path source = dir.resolve("source");
        try (Store store = Store.open(source)) {
            DataSet d = new DataSet("file://" + dir.toAbsolutePath().resolve("archive"), store.digest(),
                    sizeOf(source.resolve("pages.dat")));
            out.printf("reusing the data set kept in %s: pages.dat %.0f MB, archive %.0f MB%n", dir, d.pageFileBytes() / 1e6,
                    treeBytes(dir.resolve("archive")) / 1e6);
            out.flush();
            return d;
        }
    }

    /**
     * Restores the archive with {@code jar} ({@code javaOpts} before it) into {@code target} as a
     * child process under GNU time, and checks its digest.
     */
    /** A restore still running after this is stuck: it is killed and counted as failed. */
    static final java.time.Duration RESTORE_DEADLINE = java.time.Duration.ofHours(1);

    static Run restore(String jar, List<String> javaOpts, DataSet d, Path target, Path log) throws IOException,
            InterruptedException {
        Path times = log.resolveSibling(log.getFileName() + ".time");
        List<String> cmd = new ArrayList<>(List.of(TIME, "-o", times.toString(), "-f", "%e %M",
                Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                .filter(a -> a.startsWith("--add-") || a.startsWith("-Dchronicle") || a.startsWith("-Djvm")).toList());
        cmd.addAll(javaOpts);
        cmd.addAll(List.of("-jar", jar, "restore", "--archive", d.archiveUri(), "--target", target.toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(RESTORE_DEADLINE.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)) {
            p.destroyForcibly();
            p.waitFor();
            FileTrees.deleteTree(target);
            return new Run(RESTORE_DEADLINE.toSeconds(), 0, "did not finish within " + RESTORE_DEADLINE.toMinutes()
                    + " min (killed; see " + log + ")");
        }
        int rc = p.exitValue();
        String[] f = Files.readString(times).trim().lines().reduce((a, b) -> b).orElse("").split("\\s+");
        double seconds = Double.parseDouble(f[f.length - 2]);
        long rss = Long.parseLong(f[f.length - 1]);
        if (rc != 0) {
            String why;
            try (var lines = Files.lines(log)) {
                why = lines.filter(l -> l.contains("Error") || l.contains("error")).findFirst().orElse("see " + log);
            }
            FileTrees.deleteTree(target);
            return new Run(seconds, rss, "exit " + rc + ": " + why);
        }
        Run run = new Run(seconds, rss, null);
        StateDigest got;
        try (Store s = Store.open(target)) {
            got = s.digest();
        }
        if (!got.sha256().equals(d.digest().sha256()) || got.lsn() != d.digest().lsn()) {
            throw new CliException(ExitCodes.INTEGRITY, "the restore with " + jar + " holds digest " + got.sha256()
                    + " at LSN " + got.lsn() + ", the source " + d.digest().sha256() + " at " + d.digest().lsn());
        }
        FileTrees.deleteTree(target);
        return run;
    }

    /** The jar this process runs from. */
    static String ownJar() {
        String cp = System.getProperty("java.class.path");
        if (!cp.endsWith(".jar") || cp.contains(java.io.File.pathSeparator)) {
            throw new io.walship.protocol.BadInputException("bench restore-memory runs restores from a jar; run it as 'walship bench ...' (class path: " + cp + ")");
        }
        return cp;
    }

    private static long sizeOf(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static long treeBytes(Path dir) {
        try (var s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).mapToLong(RestoreMemoryBench::sizeOf).sum();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
