package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;

import io.walship.archive.ArchiveListing;
import io.walship.archive.ArchiveUri;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.TestS3Server;
import io.walship.shipper.WalShipper;
import io.walship.wal.WalMarks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code walship ship} to several archives at once, a local one and an S3 one (S3Proxy; MinIO when
 * WALSHIP_S3_* is set): each restores to the leader's state on its own, each keeps its own mark
 * whatever the order, a failing optional archive does not fail the run, a failing required one
 * does, the same archive twice is a usage error and a second shipper of one archive is refused.
 */
class MultiArchiveCommandTest {
    @RegisterExtension
    static final TestS3Server.Shared s3 = TestS3Server.shared();

    @TempDir
    Path tmp;

    private static CliRunner.Result ok(String... args) {
        CliRunner.Result r = CliRunner.run(args);
        assertEquals(0, r.exit(), String.join(" ", args) + ": " + r.err());
        return r;
    }

    private static String id(String uri) {
        return ArchiveUri.parse(uri).id();
    }

    /** An S3 URI whose endpoint refuses connections: a port bound and closed again. */
    private static String downS3() throws Exception {
        int port;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        return "s3://walship-down/p?endpoint=http://127.0.0.1:" + port + "&region=us-east-1";
    }

    @Test
    void shipsToALocalAndAnS3ArchiveEachRestoresAndEachKeepsItsOwnMark() throws Exception {
        String data = tmp.resolve("d").toString();
        String local = "file://" + tmp.resolve("local");
        String remote = s3.newArchiveUri("walship-multi", "m-" + UUID.randomUUID());
        for (int i = 0; i < 30; i++) {
            ok("kv", "put", "--data", data, "k" + (i % 7), "v" + i);
        }
        ok("ship", "--data", data, "--archive", local, "--archive", remote, "--once", "--segment-size", "4096");
        ok("backup", "--data", data, "--archive", local);
        ok("backup", "--data", data, "--archive", remote);
        WalMarks marks = new WalMarks(Path.of(data));
        long first = marks.archived(id(local)).getAsLong();
        assertEquals(first, marks.archived(id(remote)).getAsLong());

        // only the remote one now, then both in the other order: each mark stays its archive's own
        for (int i = 0; i < 10; i++) {
            ok("kv", "put", "--data", data, "late" + i, "x" + i);
        }
        ok("ship", "--data", data, "--archive", remote, "--once");
        long remoteEnd = marks.archived(id(remote)).getAsLong();
        assertTrue(remoteEnd > first);
        assertEquals(first, marks.archived(id(local)).getAsLong(), "the local archive's mark did not move");
        assertEquals(first, marks.archived().getAsLong(), "the WAL is kept for the local archive");
        ok("ship", "--data", data, "--archive", remote, "--archive", local, "--once");
        assertEquals(remoteEnd, marks.archived(id(local)).getAsLong());
        assertEquals(remoteEnd, marks.archived(id(remote)).getAsLong());

        String digest = ok("kv", "digest", "--data", data).out().trim();
        ok("restore", "--archive", local, "--target", tmp.resolve("r-local").toString());
        assertEquals(digest, ok("kv", "digest", "--data", tmp.resolve("r-local").toString()).out().trim());
        ok("restore", "--archive", remote, "--target", tmp.resolve("r-remote").toString());
        assertEquals(digest, ok("kv", "digest", "--data", tmp.resolve("r-remote").toString()).out().trim());
    }

    @Test
    void aFailingOptionalArchiveIsOneLineAndExitZeroARequiredOneFailsTheRun() throws Exception {
        String data = tmp.resolve("d").toString();
        String local = "file://" + tmp.resolve("local");
        String down = downS3();
        for (int i = 0; i < 5; i++) {
            ok("kv", "put", "--data", data, "k" + i, "v" + i);
        }
        CliRunner.Result r = ok("ship", "--data", data, "--archive", local, "--optional-archive", down, "--once");
        assertEquals(1, r.err().lines().filter(l -> l.contains("optional archive") && l.contains("walship-down")).count(),
                r.err());
        try (ObjectStore a = ObjectStores.open(local)) {
            assertEquals(6, ArchiveListing.of(a).lastArchivedLsn(1), "the local archive got everything");
        }
        assertTrue(new WalMarks(Path.of(data)).archived(id(down)).isEmpty(), "no mark for an optional archive");

        ok("kv", "put", "--data", data, "more", "x");
        CliRunner.Result failed = CliRunner.run("ship", "--data", data, "--archive", local, "--archive", down, "--once");
        assertTrue(failed.exit() != 0, failed.err());
        assertTrue(failed.err().startsWith("walship: error: "), failed.err());
        try (ObjectStore a = ObjectStores.open(local)) {
            assertEquals(7, ArchiveListing.of(a).lastArchivedLsn(1), "the local archive shipped although the other failed");
        }
        WalMarks marks = new WalMarks(Path.of(data));
        assertEquals(0, marks.archived(id(down)).getAsLong(), "the down required archive holds the WAL");
        assertEquals(0, marks.archived().getAsLong());
    }

    @Test
    void theSameArchiveTwiceIsAUsageError() {
        String data = tmp.resolve("d").toString();
        ok("kv", "put", "--data", data, "k", "v");
        String a = "file://" + tmp.resolve("a");
        CliRunner.Result r = CliRunner.run("ship", "--data", data, "--archive", a, "--optional-archive", a + "/", "--once");
        assertEquals(ExitCodes.USAGE, r.exit(), r.err());
        assertTrue(r.err().contains("the same archive is given twice"), r.err());
        String s = s3.newArchiveUri("walship-multi", "dup");
        CliRunner.Result r2 = CliRunner.run("leader", "--data", data, "--archive", s, "--archive", s + "&region=eu-west-1");
        assertEquals(ExitCodes.USAGE, r2.exit(), r2.err());
        CliRunner.Result r3 = CliRunner.run("ship", "--data", data, "--optional-archive", a, "--once");
        assertEquals(ExitCodes.USAGE, r3.exit(), r3.err());
    }

    @Test
    void aSecondShipperOfAnArchiveIsRefusedWithTheHolderNamed() throws Exception {
        String data = tmp.resolve("d").toString();
        ok("kv", "put", "--data", data, "k", "v");
        String remote = s3.newArchiveUri("walship-multi", "lock-" + UUID.randomUUID());
        String local = "file://" + tmp.resolve("local");
        try (ObjectStore held = ObjectStores.open(remote);
             WalShipper running = new WalShipper(Path.of(data), held, WalShipper.Options.defaults())) {
            CliRunner.Result r = CliRunner.run("ship", "--data", data, "--archive", remote, "--once");
            assertEquals(ExitCodes.FAILURE, r.exit(), r.err());
            assertTrue(r.err().contains("another shipper is running") && r.err().contains("by process "
                    + ProcessHandle.current().pid()), r.err());
            assertTrue(r.err().contains("hint: that process already ships this archive"), r.err());
            ok("ship", "--data", data, "--archive", local, "--once"); // another archive is not held up
            assertEquals(running.archiveId(), id(remote));
        }
    }
    @Test
    void theSchedulerShipsEachArchiveOfItsYamlOnItsOwnJob() throws Exception {
        Path data = tmp.resolve("d");
        String remote = s3.newArchiveUri("walship-multi", "sched-" + UUID.randomUUID());
        String local = "file://" + tmp.resolve("local");
        String down = downS3();
        String yaml = """
                databases:
                  - name: orders
                    data: %s
                    archive: "%s"
                    archives: ["%s"]
                    optionalArchives: ["%s"]
                    jobs:
                      ship: {interval: 100ms}
                """.formatted(data, remote, local, down);
        long last;
        try (io.walship.wal.Store store = io.walship.wal.Store.open(data)) {
            for (int i = 0; i < 12; i++) {
                store.put(("k" + i).getBytes(java.nio.charset.StandardCharsets.UTF_8), new byte[10]);
            }
            last = store.lastLsn();
        }
        String lastText = io.walship.wal.Lsn.format(last);
        io.walship.scheduler.SchedulerConfig cfg = io.walship.scheduler.SchedulerConfig.parse(yaml, "test");
        try (io.walship.scheduler.JobScheduler sched = io.walship.scheduler.JobScheduler.start(cfg, tmp.resolve("s"))) {
            String json = Poll.until(Duration.ofSeconds(60), () -> io.walship.protocol.Json.write(sched.status()),
                    j -> j.contains("\"id\":\"" + id(remote) + "\",\"uri\"")
                            && j.split("\"shippedLsn\":\"" + lastText + "\"", -1).length == 3
                            && j.contains("\"id\":\"" + id(down) + "\"") && j.matches("(?s).*\"required\":false,"
                            + "\"shippedLsn\":null,\"lagLsns\":-1,[^}]*\"failing\":true.*"));
            assertTrue(json.contains("\"job\":\"ship-" + id(local) + "\""), json);
            assertTrue(json.contains("\"job\":\"ship-" + id(down) + "\""), json);
            String metrics = sched.metricsText();
            assertTrue(metrics.contains("walship_archive_shipping_failing{archive=\"" + id(down)
                    + "\",database=\"orders\",required=\"false\"} 1.0"), metrics);
            assertTrue(metrics.contains("walship_archive_shipped_lsn{archive=\"" + id(local)
                    + "\",database=\"orders\",required=\"true\"} " + (double) last), metrics);
        }
        WalMarks marks = new WalMarks(data);
        assertEquals(last, marks.archived(id(remote)).getAsLong());
        assertEquals(last, marks.archived(id(local)).getAsLong());
        assertTrue(marks.archived(id(down)).isEmpty());

        String dup = """
                databases:
                  - name: orders
                    data: %s
                    archive: "%s"
                    archives: ["%s/"]
                """.formatted(data, local, local);
        io.walship.scheduler.SchedulerConfig.ConfigException e = org.junit.jupiter.api.Assertions.assertThrows(
                io.walship.scheduler.SchedulerConfig.ConfigException.class,
                () -> io.walship.scheduler.SchedulerConfig.parse(dup, "test"));
        assertTrue(e.getMessage().contains("the same archive is given twice"), e.getMessage());
    }
    @Test
    void aPromotedStoreGivesItsTimelineHistoryToEveryArchiveFromItsDataDirectory() throws Exception {
        String data = tmp.resolve("d").toString();
        String a = "file://" + tmp.resolve("a");
        String b = s3.newArchiveUri("walship-multi", "hist-" + UUID.randomUUID());
        for (int i = 0; i < 10; i++) {
            ok("kv", "put", "--data", data, "k" + i, "v" + i);
        }
        ok("ship", "--data", data, "--archive", a, "--archive", b, "--once");
        ok("backup", "--data", data, "--archive", a);
        // promoted from A: timeline 2 is claimed in A only, and kept in the data directory
        String promoted = tmp.resolve("p").toString();
        ok("restore", "--archive", a, "--target", promoted, "--promote");
        assertTrue(java.nio.file.Files.exists(Path.of(promoted, "timelines", "2.history")));
        for (int i = 0; i < 5; i++) {
            ok("kv", "put", "--data", promoted, "after" + i, "x" + i);
        }
        // B is shipped to with A down: the history comes from the data directory, not from A
        ok("ship", "--data", promoted, "--archive", b, "--optional-archive", downS3(), "--once");
        ok("backup", "--data", promoted, "--archive", b);
        String digest = ok("kv", "digest", "--data", promoted).out().trim();
        ok("restore", "--archive", b, "--target", tmp.resolve("rb").toString());
        assertEquals(digest, ok("kv", "digest", "--data", tmp.resolve("rb").toString()).out().trim());
        ok("ship", "--data", promoted, "--archive", a, "--once");
        ok("restore", "--archive", a, "--target", tmp.resolve("ra").toString(), "--timeline", "2");
        assertEquals(digest, ok("kv", "digest", "--data", tmp.resolve("ra").toString()).out().trim());
    }
}
