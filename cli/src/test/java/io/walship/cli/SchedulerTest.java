package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import io.walship.archive.ArchiveListing;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.TestS3Server;
import io.walship.protocol.Json;
import io.walship.restorer.ArchiveVerifier;
import io.walship.restorer.Restore;
import io.walship.restorer.RestoreTarget;
import io.walship.scheduler.JobScheduler;
import io.walship.scheduler.SchedulerConfig;
import io.walship.server.LeaderServer;
import io.walship.wal.ChildJvm;
import io.walship.wal.Durability;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The scheduler against S3Proxy (MinIO in CI) with short intervals while a leader takes writes:
 * shipping goes on, backups appear, retention prunes without breaking PITR from the oldest
 * retained backup, the restore drill passes; and a scheduler killed with SIGKILL mid-job and
 * restarted leaves an archive that verifies and restores to the leader's state.
 */
class SchedulerTest {
    @RegisterExtension
    static final TestS3Server.Shared s3 = TestS3Server.shared();

    @TempDir
    Path tmp;

    private String config(String archive, Path data, String url, String http) {
        return """
                http: %s
                databases:
                  - name: orders
                    data: %s
                    url: %s
                    archive: "%s"
                    jobs:
                      ship: {interval: 200ms, segmentSize: 8KiB}
                      backup: {cron: "*/2 * * * * ?"}
                      retention: {cron: "1/3 * * * * ?", keepBackups: 2}
                      verify: {cron: "*/4 * * * * ?", quick: false}
                """.formatted(http, data, url, archive);
    }

    /** Writes until stopped; returns the thread. */
    private static Thread writer(Store store, AtomicBoolean stop) {
        Thread t = new Thread(() -> {
            int i = 0;
            while (!stop.get()) {
                store.put(("key-" + (i % 300)).getBytes(StandardCharsets.UTF_8),
                        ("value-" + i + "-" + "x".repeat(100)).getBytes(StandardCharsets.UTF_8),
                        i % 20 == 0 ? Durability.DURABLE : Durability.ASYNC);
                i++;
                if (i % 50 == 0) {
                    try {
                        Thread.sleep(5); // pacing the load, not waiting for anything
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }
        }, "test-writer");
        t.start();
        return t;
    }

    @Test
    void jobsRunOnScheduleWhileTheLeaderWrites() throws Exception {
        String archive = s3.newArchiveUri("walship-test", "sched-" + UUID.randomUUID());
        Path data = tmp.resolve("leader");
        AtomicBoolean stop = new AtomicBoolean();
        StateDigest finalDigest;
        try (Store store = Store.open(data);
             LeaderServer server = new LeaderServer(store, new InetSocketAddress("127.0.0.1", 0)).start()) {
            String url = "http://127.0.0.1:" + server.address().getPort();
            Thread w = writer(store, stop);
            SchedulerConfig cfg = SchedulerConfig.parse(config(archive, data, url, "127.0.0.1:0"), "test");
            try (JobScheduler sched = JobScheduler.start(cfg, tmp.resolve("scratch"))) {
                // poll (with a deadline) until every job has run and succeeded, retention deleting something
                java.util.regex.Pattern retentionBytes = java.util.regex.Pattern
                        .compile("walship_job_bytes_total\\{database=\"orders\",job=\"retention\"} ([0-9.E]+)");
                String metrics = Poll.until(Duration.ofSeconds(120), sched::metricsText, m -> {
                    java.util.regex.Matcher deleted = retentionBytes.matcher(m);
                    return m.contains("job=\"verify\",result=\"ok\"") && m.contains("job=\"backup\",result=\"ok\"")
                            && m.contains("job=\"ship\",result=\"ok\"") && m.contains("job=\"retention\",result=\"ok\"")
                            && deleted.find() && Double.parseDouble(deleted.group(1)) > 0;
                });
                var status = sched.status();
                String json = Json.write(status);
                assertTrue(json.contains("\"job\":\"ship\"") && json.contains("\"archiveLagLsns\""), json);
                assertTrue(metrics.contains("walship_job_runs_total{database=\"orders\",job=\"ship\",result=\"ok\"}"), metrics);
                assertTrue(metrics.contains("walship_archive_lag_lsns{database=\"orders\"}"), metrics);
                // the status endpoint answers over HTTP, as `walship scheduler status` reads it
                CliRunner.Result st = CliRunner.run("scheduler", "status", "--url",
                        "http://127.0.0.1:" + sched.httpAddress().getPort());
                assertEquals(0, st.exit(), st.err());
                assertTrue(st.out().contains("retention"), st.out());
                stop.set(true);
                w.join();
                for (String job : List.of("ship", "backup", "retention", "verify")) {
                    assertTrue(json.contains("\"job\":\"" + job + "\""), job + ": " + json);
                }
                assertTrue(metrics.contains("job=\"verify\",result=\"ok\""), "a restore drill passed:\n" + metrics);
                assertTrue(metrics.contains("job=\"retention\",result=\"ok\""), metrics);
                java.util.regex.Matcher deleted = java.util.regex.Pattern
                        .compile("walship_job_bytes_total\\{database=\"orders\",job=\"retention\"} ([0-9.E]+)").matcher(metrics);
                assertTrue(deleted.find() && Double.parseDouble(deleted.group(1)) > 0, "retention deleted something:\n" + metrics);
            }
            finalDigest = store.digest();
        }
        assertEquals(0, CliRunner.run("ship", "--data", data.toString(), "--archive", archive, "--once").exit());
        try (ObjectStore a = ObjectStores.open(archive)) {
            ArchiveListing l = ArchiveListing.of(a);
            // keep 2, plus the (at most 2) backups taken after the last retention run
            assertTrue(l.backups().size() >= 2 && l.backups().size() <= 4, "retention keeps 2: " + l.backups());
            assertTrue(ArchiveVerifier.verify(a, 2, false, m -> { }).ok());
            // PITR from the oldest retained backup, and everything to the end
            long oldest = l.backups().stream().mapToLong(b -> b.name().lsn()).min().orElseThrow();
            Restore.Result r = Restore.run(a, tmp.resolve("pitr"), Restore.Options.defaults()
                    .withTarget(RestoreTarget.lsn(oldest + 1, false)), new Restore.Listener() { });
            assertEquals(oldest, r.backupLsn());
            Restore.run(a, tmp.resolve("end"), Restore.Options.defaults(), new Restore.Listener() { });
            try (Store restored = Store.open(tmp.resolve("end"))) {
                assertEquals(finalDigest, restored.digest());
            }
        }
    }

    @Test
    void aSchedulerKilledMidJobAndRestartedLeavesAConsistentArchive() throws Exception {
        String archive = s3.newArchiveUri("walship-test", "kill-" + UUID.randomUUID());
        Path data = tmp.resolve("leader");
        Path cfgFile = tmp.resolve("walship.yaml");
        AtomicBoolean stop = new AtomicBoolean();
        StateDigest finalDigest;
        List<String> creds = List.of("-Daws.accessKeyId=" + s3.access(), "-Daws.secretAccessKey=" + s3.secret());
        try (Store store = Store.open(data);
             LeaderServer server = new LeaderServer(store, new InetSocketAddress("127.0.0.1", 0)).start()) {
            String url = "http://127.0.0.1:" + server.address().getPort();
            Files.writeString(cfgFile, config(archive, data, url, "127.0.0.1:0"));
            Thread w = writer(store, stop);
            long seed = Long.getLong("scheduler.kill.seed", System.nanoTime());
            System.out.println("SchedulerTest kill seed: " + seed + " (rerun with -Dscheduler.kill.seed=" + seed + ")");
            java.util.Random rnd = new java.util.Random(seed);
            for (int round = 0; round < 3; round++) {
                Path log = tmp.resolve("sched-" + round + ".err");
                Process p = ChildJvm.start(Main.class, creds, List.of("scheduler", "--config", cfgFile.toString(),
                        "--scratch", tmp.resolve("scratch").toString()), log);
                // once a job has run, the scheduler is busy: kill it a random moment later, mid-job or not
                awaitJobRun(p, log);
                p.waitFor(rnd.nextInt(1_500), TimeUnit.MILLISECONDS);
                p.destroyForcibly(); // SIGKILL, whatever job is running
                assertTrue(p.waitFor(20, TimeUnit.SECONDS));
            }
            stop.set(true);
            w.join();
            // a last, clean run: SIGTERM lets running jobs finish
            Path lastLog = tmp.resolve("sched-last.err");
            Process p = ChildJvm.start(Main.class, creds, List.of("scheduler", "--config", cfgFile.toString(),
                    "--scratch", tmp.resolve("scratch").toString()), lastLog);
            awaitJobRun(p, lastLog);
            p.destroy();
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), Files.readString(tmp.resolve("sched-last.err")));
            finalDigest = store.digest();
        }
        assertEquals(0, CliRunner.run("ship", "--data", data.toString(), "--archive", archive, "--once").exit());
        try (ObjectStore a = ObjectStores.open(archive)) {
            ArchiveVerifier.Report report = ArchiveVerifier.verify(a, 2, false, m -> { });
            assertTrue(report.ok(), report.problems().toString());
            Restore.run(a, tmp.resolve("end"), Restore.Options.defaults(), new Restore.Listener() { });
            try (Store restored = Store.open(tmp.resolve("end"))) {
                assertEquals(finalDigest, restored.digest());
            }
        }
    }

    @Test
    void configErrorsAreOneLineWithExitCode2() throws Exception {
        String base = """
                databases:
                  - name: db
                    data: /tmp/x
                    archive: file:///tmp/a
                """;
        Path f = tmp.resolve("c.yaml");
        Files.writeString(f, base + "    colour: blue\n");
        CliRunner.Result unknown = CliRunner.run("scheduler", "--config", f.toString(), "--check");
        assertEquals(ExitCodes.USAGE, unknown.exit(), unknown.err());
        assertTrue(unknown.err().contains("unknown key 'colour' at databases[0]"), unknown.err());
        Files.writeString(f, base + "    jobs:\n      backup: {cron: \"every day\"}\n");
        CliRunner.Result cron = CliRunner.run("scheduler", "--config", f.toString(), "--check");
        assertEquals(ExitCodes.USAGE, cron.exit(), cron.err());
        assertTrue(cron.err().contains("jobs.backup.cron 'every day' is not a cron expression"), cron.err());
        Files.writeString(f, "databases:\n  - name: db\n    data: /tmp/x\n");
        CliRunner.Result noArchive = CliRunner.run("scheduler", "--config", f.toString(), "--check");
        assertEquals(ExitCodes.USAGE, noArchive.exit(), noArchive.err());
        assertTrue(noArchive.err().contains("'archive' (the archive URI) is missing"), noArchive.err());
        Files.writeString(f, base + "    jobs:\n      retention: {cron: \"0 0 3 * * ?\"}\n");
        CliRunner.Result noPolicy = CliRunner.run("scheduler", "--config", f.toString(), "--check");
        assertEquals(ExitCodes.USAGE, noPolicy.exit(), noPolicy.err());
        CliRunner.Result missing = CliRunner.run("scheduler", "--config", tmp.resolve("nope.yaml").toString());
        assertEquals(ExitCodes.USAGE, missing.exit(), missing.err());
        Files.writeString(f, base);
        assertEquals(0, CliRunner.run("scheduler", "--config", f.toString(), "--check").exit());
    }

    /** Polls (deadline 60 s) until the child scheduler's log shows a finished job run. */
    private static void awaitJobRun(Process p, Path log) throws Exception {
        java.util.regex.Pattern done = java.util.regex.Pattern.compile("orders/(ship|backup|retention|verify): ");
        Poll.until(Duration.ofSeconds(60), () -> {
            assertTrue(p.isAlive(), () -> "scheduler died: " + readQuietly(log));
            return readQuietly(log);
        }, text -> done.matcher(text).find());
    }

    private static String readQuietly(Path f) {
        try {
            return Files.exists(f) ? Files.readString(f) : "";
        } catch (java.io.IOException e) {
            return "";
        }
    }
}
