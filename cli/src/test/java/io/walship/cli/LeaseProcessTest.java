package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import io.walship.archive.ArchiveListing;
import io.walship.archive.LeaderLease;
import io.walship.archive.LeaseRecord;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.protocol.Json;
import io.walship.protocol.StatusResponse;
import io.walship.wal.ChildJvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The leader lease between real {@code walship leader} processes on one {@code file://} archive:
 * a killed leader's lease blocks a promoted copy until it expires, then the copy leads timeline 2;
 * the old leader, started again, refuses writes (503, SUPERSEDED in /status) and ships nothing of
 * the WAL it never archived.
 */
class LeaseProcessTest {
    @TempDir
    Path tmp;
    private final HttpClient http = HttpClient.newHttpClient();

    /** A leader process named {@code run} (its port file and log) with node id {@code nodeId}. */
    private Process leader(Path data, Path archive, String nodeId, String run) throws Exception {
        return leader(data, List.of(archive), nodeId, run);
    }

    /** The same with several archives, the first the primary (where the lease lives). */
    private Process leader(Path data, List<Path> archives, String nodeId, String run) throws Exception {
        List<String> args = new java.util.ArrayList<>(List.of("leader", "--data", data.toString(), "--http",
                "127.0.0.1:0", "--port-file", tmp.resolve(run + ".port").toString(), "--cache-size", "1MiB",
                "--ship-interval", "100ms", "--node-id", nodeId, "--lease-ttl", "3s", "--lease-skew-margin", "500ms"));
        for (Path a : archives) {
            args.add("--archive");
            args.add("file://" + a);
        }
        return ChildJvm.start(Main.class, args, tmp.resolve(run + ".log"));
    }

    private String url(Process p, String run) throws Exception {
        return "http://127.0.0.1:" + LeaderProcessTest.awaitPort(p, tmp.resolve(run + ".port"), tmp.resolve(run + ".log"));
    }

    private int put(String url, String key) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url + "/kv/" + key))
                .PUT(HttpRequest.BodyPublishers.ofString("v")).build(), HttpResponse.BodyHandlers.ofString()).statusCode();
    }

    private StatusResponse status(String url) throws Exception {
        String body = http.send(HttpRequest.newBuilder(URI.create(url + "/status")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        return Json.read(body.getBytes(), StatusResponse.class);
    }

    private StatusResponse awaitStatus(String url, Predicate<StatusResponse> done) {
        return Poll.until(java.time.Duration.ofSeconds(60), () -> {
            try {
                return status(url);
            } catch (Exception e) {
                throw new AssertionError("GET " + url + "/status: " + e, e);
            }
        }, done);
    }

    /**
     * Leader node-a on {@code tmp/a} holding the lease, {@code puts} writes, a base backup, everything shipped, then
     * kill -9: its lease stays in the archive, unexpired and unreleased. Returns its data directory.
     */
    private Path killedAfterShipping(Path archive, int puts) throws Exception {
        Path a = tmp.resolve("a");
        Process pa = leader(a, archive, "node-a", "a1");
        String ua = url(pa, "a1");
        for (int i = 0; i < puts; i++) {
            assertEquals(200, put(ua, "k" + i));
        }
        assertEquals("HELD", status(ua).lease().state());
        CliRunner.Result backup = CliRunner.run("backup", "--url", ua, "--archive", "file://" + archive);
        assertEquals(0, backup.exit(), backup.err());
        awaitStatus(ua, s -> s.archiveLag().lsns() == 0); // everything shipped
        pa.destroyForcibly();
        assertTrue(pa.waitFor(30, TimeUnit.SECONDS));
        return a;
    }

    @Test
    void aPromotedCopyWaitsForTheKilledLeadersLeaseAndTheOldLeaderComesBackFenced() throws Exception {
        Path archive = tmp.resolve("archive");
        Path a = killedAfterShipping(archive, 10);
        long shippedByA;
        try (ObjectStore store = ObjectStores.open("file://" + archive)) {
            shippedByA = ArchiveListing.of(store).lastArchivedLsn(1);
            assertEquals("node-a", LeaderLease.current(store).orElseThrow().nodeId());
        }
        // an acknowledged write the killed leader never archived (written here without the server)
        CliRunner.Result unshipped = CliRunner.run("kv", "put", "--data", a.toString(), "unshipped", "1");
        assertEquals(0, unshipped.exit(), unshipped.err());

        Path b = tmp.resolve("b");
        CliRunner.Result restore = CliRunner.run("restore", "--archive", "file://" + archive, "--target", b.toString(),
                "--promote");
        assertEquals(0, restore.exit(), restore.err());
        Process pb = leader(b, archive, "node-b", "b");
        try {
            String ub = url(pb, "b");
            StatusResponse held = awaitStatus(ub, s -> s.lease().writable()); // once node-a's lease expired
            assertEquals(2, held.timeline());
            assertEquals(2, held.lease().term());
            assertEquals(200, put(ub, "on-timeline-2"));
            String logB = Files.readString(tmp.resolve("b.log"));
            assertTrue(logB.contains("took the leader lease: node-b (timeline 2, term 2"), logB);

            Process pa2 = leader(a, archive, "node-a", "a2"); // the old leader resurrected, same node id
            try {
                String ua2 = url(pa2, "a2");
                StatusResponse fenced = awaitStatus(ua2, s -> "SUPERSEDED".equals(s.lease().state()));
                assertTrue(fenced.lease().reason().contains("timeline 2"), fenced.lease().reason());
                assertEquals(503, put(ua2, "split-brain"));
                assertEquals(200, put(ub, "still-b"));
                StatusResponse paused = awaitStatus(ua2, s -> s.archive().lastError() != null);
                assertTrue(paused.archive().lastError().startsWith("not shipping: "), paused.archive().lastError());
            } finally {
                pa2.destroy();
                pa2.waitFor(30, TimeUnit.SECONDS);
            }
            try (io.walship.wal.Store old = io.walship.wal.Store.open(a)) {
                assertTrue(old.lastLsn() > shippedByA, "the old leader had WAL to ship: " + old.lastLsn());
            }
            try (ObjectStore store = ObjectStores.open("file://" + archive)) {
                assertEquals(shippedByA, ArchiveListing.of(store).lastArchivedLsn(1),
                        "nothing more was shipped to the old timeline, not even on the old leader's stop");
                LeaseRecord lease = LeaderLease.current(store).orElseThrow();
                assertEquals("node-b", lease.nodeId());
                assertEquals(2, lease.timeline());
            }
        } finally {
            pb.destroy();
            assertTrue(pb.waitFor(30, TimeUnit.SECONDS));
        }
        try (ObjectStore store = ObjectStores.open("file://" + archive)) {
            assertTrue(LeaderLease.current(store).orElseThrow().released(), "a clean stop releases the lease");
        }
        CliRunner.Result list = CliRunner.run("archive", "list", "--archive", "file://" + archive);
        assertEquals(0, list.exit(), list.err());
        assertTrue(list.out().contains("leader lease: node-b (timeline 2, term 2, http://127.0.0.1:"), list.out());
        assertTrue(list.out().contains(") released at "), list.out());
    }

    /**
     * The old leader comes back before the offline-promoted copy is started: the lease in the archive is still its
     * own (nobody took it), but timeline 2 was claimed after its last renewal, so it refuses writes (SUPERSEDED)
     * instead of leading timeline 1 beside the copy that will lead timeline 2; the copy then leads.
     */
    @Test
    void anOldLeaderRestartedUnderItsOwnLeaseAfterAnOfflineFailoverRefusesWrites() throws Exception {
        Path archive = tmp.resolve("archive");
        Path a = killedAfterShipping(archive, 1);
        Path b = tmp.resolve("b");
        CliRunner.Result restore = CliRunner.run("restore", "--archive", "file://" + archive, "--target", b.toString(),
                "--promote");
        assertEquals(0, restore.exit(), restore.err());

        Process pa2 = leader(a, archive, "node-a", "a2"); // restarted (systemd) before node-b is up
        try {
            String ua2 = url(pa2, "a2");
            StatusResponse fenced = awaitStatus(ua2, s -> "SUPERSEDED".equals(s.lease().state()));
            assertTrue(fenced.lease().reason().contains("timeline 2 was claimed")
                    && fenced.lease().reason().contains("was down"), fenced.lease().reason());
            assertEquals(503, put(ua2, "split-brain"));
        } finally {
            pa2.destroy();
            pa2.waitFor(30, TimeUnit.SECONDS);
        }
        Process pb = leader(b, archive, "node-b", "b");
        try {
            String ub = url(pb, "b");
            StatusResponse held = awaitStatus(ub, s -> s.lease().writable());
            assertEquals(2, held.timeline());
            assertEquals(200, put(ub, "on-timeline-2"));
        } finally {
            pb.destroy();
            assertTrue(pb.waitFor(30, TimeUnit.SECONDS));
        }
    }

    /**
     * A copy restored to the end of the archive and promoted while the leader runs (a drill, or a failover done while
     * the old leader was not yet down), then started as a leader once the old one stopped cleanly: the old leader
     * acknowledged and shipped a write after the copy was restored, so the copy refuses writes (SUPERSEDED: "went on
     * past the fork") instead of leading a history without it; a copy restored again leads and holds the write.
     */
    @Test
    void aCopyWhoseParentShippedPastItsForkRefusesToLeadAndARestoreAgainLeadsWithTheWrite() throws Exception {
        copyWhoseParentShippedPastItsFork(List.of(tmp.resolve("archive")), tmp.resolve("archive"));
    }

    /**
     * Review rev36 D1: the same with two archives, the copy restored from the second ("a restore reads any one of
     * them"). Its claim is only in that archive and in its data directory, and its ship loops (which would copy it to
     * the primary, where the lease lives) run only under the lease: the leader uploads its timeline's history to the
     * primary before it takes the lease, or the take found no history there and let the copy lead.
     */
    @Test
    void aCopyRestoredFromTheSecondArchiveRefusesToLeadOnceItsParentShippedPastItsFork() throws Exception {
        copyWhoseParentShippedPastItsFork(List.of(tmp.resolve("archive-a"), tmp.resolve("archive-b")),
                tmp.resolve("archive-b"));
    }

    private void copyWhoseParentShippedPastItsFork(List<Path> archives, Path restoreFrom) throws Exception {
        Path a = tmp.resolve("a");
        Process pa = leader(a, archives, "node-a", "a1");
        String ua = url(pa, "a1");
        assertEquals(200, put(ua, "before-copy"));
        for (Path archive : archives) {
            CliRunner.Result backup = CliRunner.run("backup", "--url", ua, "--archive", "file://" + archive);
            assertEquals(0, backup.exit(), backup.err());
        }
        awaitStatus(ua, LeaseProcessTest::allShipped);
        Path b = tmp.resolve("b");
        CliRunner.Result restore = CliRunner.run("restore", "--archive", "file://" + restoreFrom, "--target",
                b.toString(), "--promote");
        assertEquals(0, restore.exit(), restore.err());
        assertEquals(200, put(ua, "after-copy")); // acknowledged on timeline 1 after the copy forked
        awaitStatus(ua, LeaseProcessTest::allShipped);
        pa.destroy(); // a clean stop: the lease is released
        assertTrue(pa.waitFor(30, TimeUnit.SECONDS));

        Process pb = leader(b, archives, "node-b", "b");
        try {
            String ub = url(pb, "b");
            StatusResponse s = awaitStatus(ub, x -> x.lease() != null
                    && ("SUPERSEDED".equals(x.lease().state()) || x.lease().writable()));
            assertEquals("SUPERSEDED", s.lease().state(), "the copy took the lease on timeline " + s.timeline()
                    + " without the write timeline 1 acknowledged and shipped past its fork: " + s.lease());
            assertTrue(s.lease().reason().contains("timeline 1 went on past the fork of timeline 2"),
                    s.lease().reason());
            assertEquals(503, put(ub, "lost-history"));
        } finally {
            pb.destroy();
            assertTrue(pb.waitFor(30, TimeUnit.SECONDS));
        }
        Path c = tmp.resolve("c");
        CliRunner.Result again = CliRunner.run("restore", "--archive", "file://" + restoreFrom, "--target",
                c.toString(), "--promote");
        assertEquals(0, again.exit(), again.err());
        Process pc = leader(c, archives, "node-c", "c");
        try {
            String uc = url(pc, "c");
            StatusResponse held = awaitStatus(uc, x -> x.lease().writable());
            assertEquals(3, held.timeline());
            assertEquals(200, http.send(HttpRequest.newBuilder(URI.create(uc + "/kv/after-copy")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode(), "the write acknowledged after the first copy");
            assertEquals(200, put(uc, "on-timeline-3"));
        } finally {
            pc.destroy();
            assertTrue(pc.waitFor(30, TimeUnit.SECONDS));
        }
    }

    /** Every archive the leader ships to has everything it wrote. */
    private static boolean allShipped(StatusResponse s) {
        return s.archives() != null && !s.archives().isEmpty() && s.archives().stream().allMatch(x -> x.lagLsns() == 0);
    }

    // reviews rev38 and rev39: copies restored from a second archive

    /**
     * (a) LeaderCommand swallows a failure of LocalHistories.ensure, and the take then reads whatever the primary holds
     * for the copy's timeline. A drill copy restored from the primary A to a chosen LSN and promoted claimed timeline 2
     * in A (no {@code fork}); A's claims never reach B (only a leader of timeline 2 would ship them there). The
     * failover copy restored from B to its end claims timeline 2 in B ({@code fork: end}). Started as a leader, its
     * ensure finds "another history record for timeline 2" in A (logged only), and its take reads the drill's record,
     * which has no {@code fork: end}: no past-fork check, the copy leads without the write timeline 1 acknowledged and
     * shipped after the copy forked (and its ship loops to A are refused for good: another history of timeline 2).
     */
    @Test
    void aCopyFromTheSecondArchiveWhoseTimelineThePrimaryHoldsForAnotherHistoryDoesNotLead() throws Exception {
        Path archA = tmp.resolve("archive-a");
        Path archB = tmp.resolve("archive-b");
        Path a = tmp.resolve("a");
        Process pa = leader(a, List.of(archA, archB), "node-a", "a1");
        String ua = url(pa, "a1");
        assertEquals(200, put(ua, "k1"));
        for (Path arch : List.of(archA, archB)) {
            CliRunner.Result backup = CliRunner.run("backup", "--url", ua, "--archive", "file://" + arch);
            assertEquals(0, backup.exit(), backup.err());
        }
        String l1 = awaitStatus(ua, LeaseProcessTest::allShipped).lastLsn();
        // a drill copy in the primary, forked on purpose at k1 (timeline 2 in A only)
        CliRunner.Result drill = CliRunner.run("restore", "--archive", "file://" + archA, "--target",
                tmp.resolve("drill").toString(), "--lsn", l1, "--promote");
        assertEquals(0, drill.exit(), drill.err());
        assertTrue(Files.exists(archA.resolve(io.walship.archive.ArchiveLayout.historyKey(2))));
        assertFalse(Files.exists(archB.resolve(io.walship.archive.ArchiveLayout.historyKey(2))));
        assertEquals(200, put(ua, "k2"));
        awaitStatus(ua, LeaseProcessTest::allShipped);
        // the failover copy, restored from the second archive to its end (timeline 2 in B)
        Path b = tmp.resolve("b");
        CliRunner.Result restore = CliRunner.run("restore", "--archive", "file://" + archB, "--target", b.toString(),
                "--promote");
        assertEquals(0, restore.exit(), restore.err());
        assertEquals(200, put(ua, "after-copy")); // acknowledged on timeline 1 after the copy forked
        awaitStatus(ua, LeaseProcessTest::allShipped);
        pa.destroy(); // a clean stop: the lease is released
        assertTrue(pa.waitFor(30, TimeUnit.SECONDS));

        Process pb = leader(b, List.of(archA, archB), "node-b", "b");
        try {
            String ub;
            try {
                ub = url(pb, "b");
            } catch (AssertionError died) {
                assertFalse(pb.isAlive(), died.getMessage());
                assertNotEquals(0, pb.exitValue(), "refused at start-up is fine");
                return;
            }
            StatusResponse s = awaitStatus(ub, x -> x.lease() != null
                    && ("SUPERSEDED".equals(x.lease().state()) || x.lease().writable()));
            assertEquals("SUPERSEDED", s.lease().state(), "the copy took the lease on timeline " + s.timeline()
                    + " though the primary holds another history of it, and without the write timeline 1 acknowledged"
                    + " and shipped past its fork: " + s.lease() + "; its log: " + Files.readAllLines(tmp.resolve("b.log")).stream()
                    .filter(l -> l.contains("history") || l.contains("leader lease")).toList());
        } finally {
            pb.destroy();
            assertTrue(pb.waitFor(30, TimeUnit.SECONDS));
        }
    }

    /**
     * The refusal tells the operator to fork on purpose with a restore to the fork LSN: the command it names must be
     * one restore takes (it named {@code --to-lsn}, which restore does not have: a usage error). The command is taken
     * from a real refusal's text.
     */
    @Test
    void theRefusalsSuggestedRestoreCommandIsAValidCommand() throws Exception {
        Path arch = tmp.resolve("archive");
        String refusal;
        try (io.walship.archive.ObjectStore s = new io.walship.archive.LocalObjectStore(arch)) {
            io.walship.archive.ManualLeaseClock clock = new io.walship.archive.ManualLeaseClock(1_780_000_000_000_000L);
            java.time.Duration ttl = java.time.Duration.ofSeconds(10);
            java.time.Duration margin = java.time.Duration.ofSeconds(1);
            io.walship.archive.LeaderLease.acquire(s, new io.walship.archive.LeaseRecord.Holder("l", "http://l:1", "l:2"),
                    1, ttl, margin, clock).release();
            s.create(new io.walship.archive.ArchiveLayout.SegmentName(1, 1, 0x48).key(),
                    new java.io.ByteArrayInputStream(new byte[]{1}));
            s.create(io.walship.archive.ArchiveLayout.historyKey(2), new java.io.ByteArrayInputStream(
                    new io.walship.archive.TimelineHistory(1, 2, 1, "0000000000000040", "2026-01-01T00:00:00Z",
                            "2026-01-01T00:00:01Z", "restore --promote to the end of the archive",
                            io.walship.archive.TimelineHistory.OFFLINE, io.walship.archive.TimelineHistory.FORK_END)
                            .toJson()));
            refusal = org.junit.jupiter.api.Assertions.assertThrows(io.walship.archive.LeaseException.Superseded.class,
                    () -> io.walship.archive.LeaderLease.acquire(s, new io.walship.archive.LeaseRecord.Holder("n",
                            "http://n:1", "n:2"), 2, ttl, margin, clock)).getMessage();
        }
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("restore (--\\S+) ([0-9A-F]{16}) --promote").matcher(refusal);
        assertTrue(m.find(), refusal);
        CliRunner.Result r = CliRunner.run("restore", "--archive", "file://" + arch, "--target",
                tmp.resolve("x").toString(), m.group(1), m.group(2), "--promote");
        assertNotEquals(2, r.exit(), "restore " + m.group(1) + " " + m.group(2) + " --promote, as the refusal says: "
                + r.err());
    }

    /**
     * Review rev39 D1 (liveness): a copy restored and promoted from the second archive B onto timeline 3 keeps only
     * 3.history in its data directory (a restore saves no ancestor's record). Started as a leader with a new, empty
     * primary A in front of B, its pre-take ensure(A) fails on timeline 2 ("neither in DATA/timelines nor in A") on
     * every tick. The record would come from B's ship loop (it saves B's 2.history into the data directory, and A's
     * loop then uploads it) — but the ship loops are gated by the very lease that is never taken. The node waits
     * forever. Before the branch it took the lease on A (no lease there) and its ship loops fixed the records.
     */
    @Test
    void aCopyOnTimeline3FromTheSecondArchiveLeadsWithAFreshPrimary() throws Exception {
        Path archA = tmp.resolve("archive-a"); // the new primary, added at the failover
        Path archB = tmp.resolve("archive-b");
        Path one = tmp.resolve("one");
        Process p1 = leader(one, List.of(archB), "node-1", "one");
        String u1 = url(p1, "one");
        assertEquals(200, put(u1, "k1"));
        CliRunner.Result backup = CliRunner.run("backup", "--url", u1, "--archive", "file://" + archB);
        assertEquals(0, backup.exit(), backup.err());
        awaitStatus(u1, LeaseProcessTest::allShipped);
        stop(p1);
        // failover 1: timeline 2 leads and ships to B
        Path two = tmp.resolve("two");
        CliRunner.Result r2 = CliRunner.run("restore", "--archive", "file://" + archB, "--target", two.toString(),
                "--promote");
        assertEquals(0, r2.exit(), r2.err());
        Process p2 = leader(two, List.of(archB), "node-2", "two");
        String u2 = url(p2, "two");
        awaitStatus(u2, s -> s.lease() != null && s.lease().writable());
        assertEquals(200, put(u2, "k2"));
        awaitStatus(u2, LeaseProcessTest::allShipped);
        stop(p2);
        // failover 2: timeline 3 from B, now with a new primary A in front of B
        Path three = tmp.resolve("three");
        CliRunner.Result r3 = CliRunner.run("restore", "--archive", "file://" + archB, "--target", three.toString(),
                "--promote");
        assertEquals(0, r3.exit(), r3.err());
        assertTrue(Files.exists(three.resolve("timelines").resolve("3.history")));
        assertFalse(Files.exists(three.resolve("timelines").resolve("2.history")), "precondition: a restore keeps"
                + " only the new timeline's record");
        Process p3 = leader(three, List.of(archA, archB), "node-3", "three");
        try {
            String u3 = url(p3, "three");
            StatusResponse s = awaitStatus(u3,
                    x -> x.lease() != null && (x.lease().writable() || "SUPERSEDED".equals(x.lease().state())));
            assertEquals(3, s.timeline());
            assertTrue(s.lease() != null && s.lease().writable(), "the copy on timeline 3 never takes the lease on its"
                    + " fresh primary: " + (s.lease() == null ? null : s.lease().state() + ": " + s.lease().reason()));
        } finally {
            stop(p3);
        }
    }

    /** A clean stop: the lease is released. */
    private static void stop(Process p) throws Exception {
        p.destroy();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    }
}
