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

    /** Builds the store under {@code dir}/source and its archive under {@code dir}/archive. */
    static DataSet build(Path dir, int rows, int valueSize, int updates, long seed, PrintWriter out) {
        FillBench.Workload w = new FillBench.Workload(rows, 10, valueSize, false, 0, seed);
        Path source = dir.resolve("source");
        String uri = "file://" + dir.toAbsolutePath().resolve("archive");
        long t0 = System.nanoTime();
        try (Store store = Store.open(source); ObjectStore archive = ObjectStores.open(uri)) {
            for (int i = 0; i < rows; i += 500) {
                WriteBatch b = new WriteBatch();
                for (int j = i; j < Math.min(rows, i + 500); j++) {
                    b.put(w.key(j), w.value(j).getBytes(StandardCharsets.US_ASCII));
                }
                store.write(b);
            }
            store.checkpoint();
            ArchiveBench.backup(store, archive, Codec.ZSTD, new long[1]);
            SplittableRandom r = new SplittableRandom(seed ^ 0x5eedL);
            FillBench.Workload next = new FillBench.Workload(rows, 10, valueSize, false, 0, seed + 1);
            for (int u = 1; u <= updates; u++) {
                int row = r.nextInt(rows);
                store.put(w.key(row), next.value(u).getBytes(StandardCharsets.US_ASCII),
                        u % 1000 == 0 || u == updates ? Durability.DURABLE : Durability.ASYNC);
            }
            ArchiveBench.ship(source, archive, Codec.ZSTD, new long[1]);
            DataSet d = new DataSet(uri, store.digest(), sizeOf(source.resolve("pages.dat")));
            out.printf("built %d rows of %d bytes, a base backup, %d random updates, shipped to %s, in %.0f s;"
                    + " pages.dat %.0f MB, WAL archived %.0f MB%n", rows, valueSize, updates, uri,
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
