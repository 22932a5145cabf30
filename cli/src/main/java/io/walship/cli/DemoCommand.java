package io.walship.cli;

import java.io.InputStream;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import io.walship.archive.ArchiveListing;
import io.walship.archive.BackupManifest;
import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.protocol.BadInputException;
import io.walship.server.LeaderServer;
import io.walship.shipper.BackupSource;
import io.walship.shipper.WalShipper;
import io.walship.wal.Durability;
import io.walship.wal.Lsn;
import io.walship.wal.Snapshot;
import io.walship.wal.SnapshotLoader;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import io.walship.wal.StoreStats;
import io.walship.wal.WalEntry;
import io.walship.wal.WalReader;
import io.walship.wal.WriteBatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code walship demo}: a guided tour on real files, with nothing to set up. Every step checks
 * what it shows; a failed check ends the demo with an error.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Take a guided tour of walship on real files, with nothing to set up.",
                "%nIt starts a leader, writes over HTTP, shows group commit, takes a snapshot while writers go on,"
                        + " restarts the leader, ships the WAL and a base backup to a file:// archive and restores to a"
                        + " point in time. Then a live follower (a child 'walship follow' process) bootstraps from the"
                        + " archive, streams from the leader, serves a read-your-writes read, refuses a write with 421"
                        + " naming the leader, is killed with kill -9 and restarted from its own state, and converges to"
                        + " the leader's digest. Every step checks what it prints; a failed check exits with code 1."})
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--dir", paramLabel = "DIR", description = "Where to put the demo's data (default: a new temp directory).")
    Path dir;
    @Option(names = "--scheduler", description = "Let the scheduler (Quartz jobs) do the shipping and the base backup.")
    boolean withScheduler;
    @Spec
    CommandSpec spec;
    private PrintWriter out;

    /** Whether the scheduler's backup job has run at least once and is not running now (its status). */
    private static boolean backupJobDone(io.walship.scheduler.JobScheduler scheduler) {
        for (Object db : (List<?>) scheduler.status().get("databases")) {
            for (Object j : (List<?>) ((java.util.Map<?, ?>) db).get("jobs")) {
                java.util.Map<?, ?> job = (java.util.Map<?, ?>) j;
                if ("backup".equals(job.get("job"))) {
                    return !Boolean.TRUE.equals(job.get("running")) && ((Number) job.get("runs")).longValue() > 0;
                }
            }
        }
        return false;
    }

    private void waitFor(java.util.function.BooleanSupplier done, String what) throws InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new CliException(ExitCodes.FAILURE, "demo check failed: waited 60 s for " + what);
            }
            Thread.sleep(100);
        }
    }

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private void step(String title) {
        out.println();
        out.println("== " + title);
        out.flush();
    }

    private void check(boolean ok, String what) {
        if (!ok) {
            throw new CliException(ExitCodes.FAILURE, "demo check failed: " + what);
        }
        out.println("   ok: " + what);
    }

    @Override
    public Integer call() throws Exception {
        out = spec.commandLine().getOut();
        Path root = dir != null ? dir : Files.createTempDirectory("walship-demo-");
        Files.createDirectories(root);
        if (dir != null) {
            try (var s = Files.list(root)) {
                if (s.findAny().isPresent()) {
                    throw new BadInputException("--dir " + root + " is not empty; the demo needs a fresh directory");
                }
            }
        }
        Path leaderDir = root.resolve("leader");
        Path copyDir = root.resolve("snapshot-copy");
        out.println("walship demo — data in " + root);

        StateDigest beforeRestart;
        try (Store store = Store.open(leaderDir);
             LeaderServer server = new LeaderServer(store, new InetSocketAddress("127.0.0.1", 0)).start()) {
            String url = "http://127.0.0.1:" + server.address().getPort();
            step("1. A leader: store in " + leaderDir + ", HTTP API on " + url);
            out.println("   system id " + Long.toHexString(store.systemId()) + ", timeline " + store.timeline()
                    + ", LSN " + Lsn.format(store.lastLsn()) + " (LSN 1 created the store)");

            HttpKv kv = new HttpKv(url);
            step("2. Writes over HTTP answer with their commit LSN (durable: fsynced before the answer)");
            out.println("   PUT /kv/alice = 100   -> LSN " + Lsn.format(kv.put(b("alice"), b("100"))));
            out.println("   PUT /kv/bob   = 50    -> LSN " + Lsn.format(kv.put(b("bob"), b("50"))));
            out.println("   PUT /kv/carol = 7     -> LSN " + Lsn.format(kv.put(b("carol"), b("7"))));
            long batchLsn = kv.write(new WriteBatch().put(b("alice"), b("60")).put(b("bob"), b("90")));
            out.println("   POST /batch (alice 60, bob 90, atomically) -> LSN " + Lsn.format(batchLsn));
            out.println("   DELETE /kv/carol      -> LSN " + Lsn.format(kv.delete(b("carol"))));
            Store.Read r = kv.get(b("bob"));
            out.println("   GET /kv/bob = " + new String(r.value(), StandardCharsets.UTF_8) + "   (Walship-LSN: "
                    + Lsn.format(r.lsn()) + ")");
            check("90".equals(new String(r.value(), StandardCharsets.UTF_8)), "the batch applied whole");
            check(kv.get(b("carol")).value() == null, "carol is gone");

            step("3. Group commit: 16 concurrent clients, 4,000 durable writes");
            StoreStats s0 = store.stats();
            long t0 = System.nanoTime();
            ExecutorService pool = Executors.newFixedThreadPool(16);
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < 16; t++) {
                int id = t;
                fs.add(pool.submit(() -> {
                    for (int i = 0; i < 250; i++) {
                        kv.put(b("user:" + id + ":" + i), b("profile " + i + " of client " + id));
                    }
                }));
            }
            for (Future<?> f : fs) {
                f.get();
            }
            pool.shutdown();
            double secs = (System.nanoTime() - t0) / 1e9;
            StoreStats s1 = store.stats();
            long commits = s1.commits() - s0.commits();
            long syncs = s1.walSyncs() - s0.walSyncs();
            out.printf("   %d commits in %.2f s over HTTP (%.0f/s), %d WAL syncs: %.1f commits share each sync%n",
                    commits, secs, commits / secs, syncs, commits / (double) Math.max(1, syncs));
            out.printf("   WAL: %.0f bytes per commit on average (physical page changes + full-page images)%n",
                    (s1.walBytes() - s0.walBytes()) / (double) commits);
            check(syncs < commits, "concurrent commits shared syncs");

            step("4. A point-in-time snapshot, taken while writers go on");
            SnapshotLoader.Info info;
            try (Snapshot snap = store.snapshot()) {
                for (int i = 0; i < 500; i++) {
                    store.put(b("after-snapshot:" + i), b("v" + i), Durability.ASYNC);
                }
                try (InputStream in = snap.openStream()) {
                    info = SnapshotLoader.load(in, copyDir);
                }
                out.printf("   snapshot at LSN %s: %d pages (%.1f MiB) copied to %s while 500 more commits landed%n",
                        Lsn.format(snap.lsn()), snap.pageCount(), snap.imageSize() / 1048576.0, copyDir);
            }
            try (Store copy = Store.open(copyDir); WalReader reader = store.walReader()) {
                reader.seek(info.lsn() + 1);
                long applied = 0;
                WalEntry e;
                while ((e = reader.poll(Duration.ofMillis(100))) != null) {
                    copy.apply(e, Durability.ASYNC);
                    applied++;
                }
                StateDigest leader = store.digest();
                StateDigest replica = copy.digest();
                out.println("   replayed " + applied + " WAL entries on the copy, up to LSN " + Lsn.format(copy.lastLsn()));
                out.println("   leader digest  " + leader.sha256() + " @ " + Lsn.format(leader.lsn()));
                out.println("   copy digest    " + replica.sha256() + " @ " + Lsn.format(replica.lsn()));
                check(leader.equals(replica), "snapshot + WAL replay reproduces the leader exactly");
            }
            beforeRestart = store.digest();
            step("5. /status of the leader");
            out.println("   " + new String(java.net.http.HttpClient.newHttpClient().send(
                    java.net.http.HttpRequest.newBuilder(java.net.URI.create(url + "/status")).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofByteArray()).body(), StandardCharsets.UTF_8).trim());
        }

        step("6. Restart: the leader stopped (final checkpoint); reopening it");
        try (Store store = Store.open(leaderDir)) {
            StateDigest after = store.digest();
            out.println("   digest " + after.sha256() + " @ " + Lsn.format(after.lsn()) + ", " + after.pairs() + " keys");
            check(after.equals(beforeRestart), "nothing lost or changed across the restart");
        }

        Path archiveDir = root.resolve("archive");
        io.walship.scheduler.JobScheduler scheduler = null;
        if (withScheduler) {
            step("7. The scheduler (Quartz) ships the WAL every 200 ms and, finding no base backup, takes one");
            var db = new io.walship.scheduler.SchedulerConfig.Database("demo", leaderDir.toString(), null,
                    "file://" + archiveDir, new io.walship.scheduler.SchedulerConfig.Jobs(
                    new io.walship.scheduler.SchedulerConfig.Ship("200ms", null, null),
                    new io.walship.scheduler.SchedulerConfig.Backup(null, null), null, null));
            scheduler = io.walship.scheduler.JobScheduler.start(
                    new io.walship.scheduler.SchedulerConfig(null, List.of(db)), root.resolve("drills"));
            try (ObjectStore archive = ObjectStores.open("file://" + archiveDir)) {
                long want = beforeRestart.lsn();
                io.walship.scheduler.JobScheduler jobs = scheduler;
                // the backup job done, not only its manifest visible: it reads the stopped data
                // directory under its lock until it closes it, and step 8 opens the store next
                waitFor(() -> {
                    ArchiveListing l = ArchiveListing.of(archive);
                    return l.lastArchivedLsn(1) >= want && !l.backups().isEmpty() && backupJobDone(jobs);
                }, "the scheduler to ship up to LSN " + Lsn.format(want) + " and take a base backup");
                ArchiveListing listing = ArchiveListing.of(archive);
                out.println("   archive covers LSN " + Lsn.format(listing.coverage(1).get(0).firstLsn()) + " to "
                        + Lsn.format(listing.lastArchivedLsn(1)) + "; base backup at LSN "
                        + Lsn.format(listing.backups().get(0).name().lsn()));
                check(listing.gaps(1).isEmpty(), "the archive holds the whole WAL without a gap");
            }
        } else {
            step("7. Ship the WAL and a base backup to an archive (here file://; s3://bucket/prefix?endpoint=... works the same)");
            try (ObjectStore archive = ObjectStores.open("file://" + archiveDir);
                 WalShipper shipper = new WalShipper(leaderDir, archive, WalShipper.Options.defaults())) {
                WalShipper.Result shipped = shipper.shipOnce();
                out.printf("   shipped %d segment(s): %d entries, %.2f MiB of WAL -> %.2f MiB compressed (zstd)%n",
                        shipped.segments(), shipped.entries(), shipped.walBytes() / 1048576.0,
                        shipped.objectBytes() / 1048576.0);
                ArchiveListing listing = ArchiveListing.of(archive);
                for (ArchiveListing.Range r : listing.coverage(1)) {
                    out.println("   archive covers LSN " + Lsn.format(r.firstLsn()) + " to " + Lsn.format(r.lastLsn())
                            + " (walship archive list --archive file://" + archiveDir + ")");
                }
                check(listing.gaps(1).isEmpty() && listing.lastArchivedLsn(1) == shipped.archivedUpTo(),
                        "the archive holds the whole WAL without a gap");
                check(shipper.shipOnce().segments() == 0, "a second run finds nothing new: the archive says where to resume");
                BackupManifest m = new BackupSource.StoppedStore(leaderDir).backup(archive, Codec.ZSTD, total -> done -> { });
                out.printf("   base backup at LSN %s: %d pages, %.2f MiB -> %.2f MiB, digest %s…%n", m.lsn(),
                        m.pageCount(), m.imageBytes() / 1048576.0, m.objectBytes() / 1048576.0,
                        m.digestSha256().substring(0, 16));
                try (Store store = Store.open(leaderDir)) {
                    check(m.digestSha256().equals(store.digest().sha256()), "the manifest records the leader's digest");
                }
                out.println("   " + ArchiveListing.of(archive).backups().size() + " base backup(s) in the archive");
            }
        }

        step("8. Life goes on: 300 more orders, then an accident deletes every user");
        StateDigest beforeAccident;
        java.time.Instant beforeAccidentTime;
        long accidentLsn;
        try (Store store = Store.open(leaderDir)) {
            for (int i = 0; i < 300; i++) {
                store.put(b("order:" + i), b("{\"item\": " + i + "}"), i % 50 == 49 ? Durability.DURABLE : Durability.ASYNC);
            }
            beforeAccident = store.digest();
            Thread.sleep(5);
            beforeAccidentTime = java.time.Instant.now();
            Thread.sleep(5);
            WriteBatch accident = new WriteBatch();
            store.scan(b("user:"), b("user;"), (k, v) -> {
                accident.delete(k);
                return true;
            });
            accidentLsn = store.write(accident);
            out.printf("   good state: LSN %s, %d keys, digest %s…%n", Lsn.format(beforeAccident.lsn()),
                    beforeAccident.pairs(), beforeAccident.sha256().substring(0, 16));
            out.printf("   at %s the accident (one batch deleting %d users) committed as LSN %s%n", beforeAccidentTime,
                    accident.size(), Lsn.format(accidentLsn));
        }
        if (scheduler != null) {
            try (ObjectStore archive = ObjectStores.open("file://" + archiveDir)) {
                waitFor(() -> ArchiveListing.of(archive).lastArchivedLsn(1) >= accidentLsn, "the scheduler to ship the accident");
                out.println("   the scheduler shipped it: the archive now ends at LSN " + Lsn.format(ArchiveListing.of(archive)
                        .lastArchivedLsn(1)) + " (walship scheduler status shows each job)");
            } finally {
                scheduler.close();
            }
        } else {
            try (ObjectStore archive = ObjectStores.open("file://" + archiveDir);
                 WalShipper shipper = new WalShipper(leaderDir, archive, WalShipper.Options.defaults())) {
                WalShipper.Result shipped = shipper.shipOnce();
                out.printf("   shipped %d more entries; the archive now ends at LSN %s%n", shipped.entries(),
                        Lsn.format(shipped.archivedUpTo()));
                check(shipped.archivedUpTo() == accidentLsn, "the accident is archived too");
            }
        }

        Path restoredDir = root.resolve("restored");
        step("9. Point-in-time restore to just before the accident");
        out.println("   walship restore --archive file://" + archiveDir + " --target " + restoredDir + " --time "
                + beforeAccidentTime);
        try (ObjectStore archive = ObjectStores.open("file://" + archiveDir)) {
            io.walship.restorer.Restore.Result r = io.walship.restorer.Restore.run(archive, restoredDir,
                    io.walship.restorer.Restore.Options.defaults()
                            .withTarget(io.walship.restorer.RestoreTarget.time(beforeAccidentTime, false)),
                    new io.walship.restorer.Restore.Listener() { });
            out.printf("   base backup %s (LSN %s) + %d WAL entries from %d segment(s) -> LSN %s, committed %s%n",
                    r.backupKey(), Lsn.format(r.backupLsn()), r.entries(), r.segments(), Lsn.format(r.lsn()),
                    r.commitTime());
            check(r.lsn() == accidentLsn - 1, "the restore stopped at the last commit before the accident");
        }
        try (Store restored = Store.open(restoredDir)) {
            StateDigest d = restored.digest();
            out.println("   leader digest at that LSN  " + beforeAccident.sha256() + " @ " + Lsn.format(beforeAccident.lsn()));
            out.println("   restored digest            " + d.sha256() + " @ " + Lsn.format(d.lsn()));
            check(d.equals(beforeAccident), "the restored store equals the leader's state at that LSN");
            check(restored.get(b("user:3:7")) != null, "the deleted users are back (in the restored copy)");
            out.println("   the copy is a standby (reads only); 'walship promote' would open it for writes on timeline 2");
        }

        step("10. The WAL, as `walship wal inspect --data " + leaderDir + "` shows it");
        long entries = 0;
        long bytes = 0;
        long fpi = 0;
        try (WalReader reader = WalReader.open(leaderDir)) {
            reader.seek(1);
            WalEntry e;
            while ((e = reader.next()) != null) {
                entries++;
                bytes += e.encodedSize();
                fpi += e.fullPageImages();
            }
        }
        out.printf("   %d entries, %.2f MiB, %d full-page images; every entry CRC-checked and LSN-contiguous%n",
                entries, bytes / 1048576.0, fpi);

        follower(root, leaderDir, archiveDir);

        out.println();
        out.println("Done. Try: ./walship kv dump --data " + leaderDir + " | head");
        out.println("      ./walship leader --data " + leaderDir + " --http 127.0.0.1:7070");
        out.println("      ./walship archive verify --archive file://" + archiveDir);
        out.flush();
        return ExitCodes.OK;
    }

    private static int freePort() throws java.io.IOException {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /**
     * The demo's HTTP client, made on first use: picocli builds every subcommand at start-up, and a
     * client built in a static field set up TLS (about a second of CPU) for every command run.
     */
    private static final class Http {
        static final java.net.http.HttpClient CLIENT = java.net.http.HttpClient.newBuilder()
                .connectTimeout(Duration.ofSeconds(5)).build();
    }

    private static java.net.http.HttpResponse<String> http(String method, String url, String body) throws Exception {
        var req = java.net.http.HttpRequest.newBuilder(java.net.URI.create(url)).timeout(Duration.ofSeconds(30));
        req.method(method, body == null ? java.net.http.HttpRequest.BodyPublishers.noBody()
                : java.net.http.HttpRequest.BodyPublishers.ofString(body));
        return Http.CLIENT.send(req.build(), java.net.http.HttpResponse.BodyHandlers.ofString());
    }

    /** The body of GET url, or "" while the node does not answer 200 (not listening yet, or lagging). */
    private static String getOrEmpty(String url) {
        try {
            var r = http("GET", url, null);
            return r.statusCode() == 200 ? r.body() : "";
        } catch (Exception e) {
            return "";
        }
    }

    private static String readLog(Path log) {
        try {
            return Files.exists(log) ? Files.readString(log) : "";
        } catch (java.io.IOException e) {
            return "";
        }
    }

    /**
     * {@code walship follow} as a child process of this one: the same java, JVM flags and class
     * path (so the same jar), its log in {@code log}. Returns once it serves HTTP.
     */
    private Process startFollower(List<String> args, Path log) throws Exception {
        Process p = SelfProcess.start(args, log);
        try {
            waitFor(() -> {
                if (!p.isAlive()) {
                    throw new CliException(ExitCodes.FAILURE, "demo check failed: the follower exited with code "
                            + p.exitValue() + "; its log " + log + ":\n" + readLog(log));
                }
                return readLog(log).contains("serving http://");
            }, "the follower to serve HTTP (its log: " + log + ")");
        } catch (RuntimeException | InterruptedException e) {
            p.destroyForcibly();
            throw e;
        }
        return p;
    }

    /**
     * Step 11: a live follower as its own process — bootstrap from the archive, streaming,
     * read-your-writes, 421 on a write, kill -9 and a restart from its own state.
     */
    private void follower(Path root, Path leaderDir, Path archiveDir) throws Exception {
        Path followerDir = root.resolve("follower");
        int httpPort = freePort();
        String url = "http://127.0.0.1:" + httpPort;
        Process follower = null;
        try (Store store = Store.open(leaderDir);
             io.walship.shipper.repl.ReplicationServer repl = new io.walship.shipper.repl.ReplicationServer(store,
                     new InetSocketAddress("127.0.0.1", 0), io.walship.shipper.repl.ReplicationOptions.defaults()
                     .withIdentity("demo leader", url)).start();
             LeaderServer server = new LeaderServer(store, new InetSocketAddress("127.0.0.1", httpPort), null, repl, null)
                     .start()) {
            String replAt = "127.0.0.1:" + repl.address().getPort();
            step("11. A live follower: the leader again, now with --repl " + replAt + "; 200 writes the archive has not seen");
            HttpKv kv = new HttpKv(url);
            for (int i = 0; i < 200; i++) {
                kv.put(b("stream:" + i), b("after the archive " + i));
            }
            try (ObjectStore archive = ObjectStores.open("file://" + archiveDir)) {
                out.println("   leader at LSN " + Lsn.format(store.lastLsn()) + "; the archive ends at LSN "
                        + Lsn.format(ArchiveListing.of(archive).lastArchivedLsn(store.timeline())));
            }
            int followerPort = freePort();
            String furl = "http://127.0.0.1:" + followerPort;
            List<String> args = List.of("follow", "--data", followerDir.toString(), "--leader", replAt,
                    "--archive", "file://" + archiveDir, "--http", "127.0.0.1:" + followerPort, "--node-id", "demo-follower");
            out.println("   walship follow --data " + followerDir + " --leader " + replAt + " --archive file://" + archiveDir
                    + " --http 127.0.0.1:" + followerPort);
            Path log1 = root.resolve("follower-1.log");
            follower = startFollower(args, log1);
            String startLog = readLog(log1);
            check(startLog.contains("bootstrapped") && startLog.contains("from base backup"),
                    "pid " + follower.pid() + " bootstrapped from the archive's base backup and WAL (log: " + log1 + ")");
            waitFor(() -> getOrEmpty(furl + "/status").contains("\"source\":\"stream\""), "the follower to stream");
            waitFor(() -> getOrEmpty(furl + "/digest").equals(getOrEmpty(url + "/digest")), "the follower to catch up");
            out.println("   follower /status: " + getOrEmpty(furl + "/status").trim());
            check(getOrEmpty(furl + "/kv/stream:199").equals("after the archive 199"),
                    "it streamed the writes the archive does not have");

            step("12. Read-your-writes: a write on the leader, then a read on the follower with min_lsn = its LSN");
            long lsn = kv.put(b("greeting"), b("hello from the leader"));
            out.println("   PUT " + url + "/kv/greeting -> LSN " + Lsn.format(lsn));
            var read = http("GET", furl + "/kv/greeting?min_lsn=" + Lsn.format(lsn), null);
            long readLsn = Lsn.parse(read.headers().firstValue(io.walship.protocol.Headers.LSN).orElse("0"));
            out.println("   GET " + furl + "/kv/greeting?min_lsn=" + Lsn.format(lsn) + " -> " + read.statusCode() + " \""
                    + read.body() + "\" (Walship-LSN: " + Lsn.format(readLsn) + ")");
            check(read.statusCode() == 200 && read.body().equals("hello from the leader") && readLsn >= lsn,
                    "the follower answered with the write, at an LSN at or past it");

            step("13. A write sent to the follower");
            var refused = http("PUT", furl + "/kv/greeting", "hello from the follower");
            String named = refused.headers().firstValue(io.walship.protocol.Headers.LEADER).orElse("");
            out.println("   PUT " + furl + "/kv/greeting -> " + refused.statusCode() + ", " + io.walship.protocol.Headers.LEADER
                    + ": " + named);
            check(refused.statusCode() == 421 && named.equals(url), "421 Misdirected Request, naming the leader " + url);

            step("14. kill -9 of the follower while a client keeps writing, then a restart from its own state");
            Path log2 = root.resolve("follower-2.log");
            java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            java.util.concurrent.atomic.AtomicLong written = new java.util.concurrent.atomic.AtomicLong();
            ExecutorService writer = Executors.newSingleThreadExecutor();
            Future<?> writes = writer.submit(() -> {
                while (!stop.get()) {
                    long i = written.getAndIncrement();
                    kv.put(b("live:" + i), b("written while the follower streams, dies and comes back " + i));
                }
                return null;
            });
            try {
                waitFor(() -> written.get() >= 200, "200 writes streaming to the follower");
                long pid = follower.pid();
                follower.destroyForcibly(); // SIGKILL: no shutdown hook, no checkpoint
                boolean died = follower.waitFor(30, java.util.concurrent.TimeUnit.SECONDS);
                check(died && follower.exitValue() == 137, "kill -9 " + pid + " (exit 137) after "
                        + written.get() + " writes; the writes go on");
                long atKill = written.get();
                waitFor(() -> written.get() >= atKill + 300, "300 writes while the follower is down");
                follower = startFollower(args, log2);
                String restartLog = readLog(log2);
                check(restartLog.contains("resuming from its own state") && !restartLog.contains("bootstrapped")
                        && !restartLog.contains("restoring"), "pid " + follower.pid()
                        + " resumed from its own state, downloading no base backup (log: " + log2 + ")");
                waitFor(() -> getOrEmpty(furl + "/status").contains("\"source\":\"stream\""), "the follower to stream again");
            } finally {
                stop.set(true);
                writer.shutdown();
            }
            writes.get();
            out.println("   " + written.get() + " writes in all; the leader is at LSN " + Lsn.format(store.lastLsn()));
            waitFor(() -> getOrEmpty(furl + "/digest").equals(getOrEmpty(url + "/digest")),
                    "the restarted follower to reach the leader's digest");
            String leaderDigest = getOrEmpty(url + "/digest").trim();
            String followerDigest = getOrEmpty(furl + "/digest").trim();
            out.println("   leader digest    " + leaderDigest);
            out.println("   follower digest  " + followerDigest);
            check(!leaderDigest.isEmpty() && leaderDigest.equals(followerDigest),
                    "the restarted follower converged to the leader's digest");
            follower.destroy(); // SIGTERM: an orderly stop this time (replication closed, a restartpoint)
            boolean stopped = follower.waitFor(60, java.util.concurrent.TimeUnit.SECONDS);
            check(stopped && follower.exitValue() == 0 && readLog(log2).contains("shutting down"),
                    "the follower stopped in order on SIGTERM (exit " + (stopped ? follower.exitValue() : "none yet") + ")");
            follower = null;
        } finally {
            if (follower != null) {
                follower.destroyForcibly();
                follower.waitFor(30, java.util.concurrent.TimeUnit.SECONDS);
            }
        }
    }
}
