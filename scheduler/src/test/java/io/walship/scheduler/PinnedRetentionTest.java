package io.walship.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ArchiveListing;
import io.walship.archive.BackupManifest;
import io.walship.archive.BackupPin;
import io.walship.archive.Codec;
import io.walship.archive.ForwardingObjectStore;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.RetentionWatermark;
import io.walship.archive.S3ObjectStore;
import io.walship.archive.TestS3Server;
import io.walship.restorer.ArchiveVerifier;
import io.walship.restorer.Restore;
import io.walship.restorer.RestorePlan;
import io.walship.restorer.RestoreTarget;
import io.walship.shipper.BaseBackup;
import io.walship.shipper.WalShipper;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Pinned backups under retention, on a local archive and on S3 (S3Proxy, MinIO in CI): a pinned old
 * backup outlives a policy that would delete it, stays restorable to its LSN and keeps verify clean;
 * unpinned, the next prune deletes it; and a pin made while a prune is deleting that very backup
 * wins (the manifest is put back), while a pin of a backup already gone fails and leaves no pin.
 */
class PinnedRetentionTest {
    private static TestS3Server s3;

    @TempDir
    Path tmp;

    @BeforeAll
    static void startS3() throws Exception {
        s3 = TestS3Server.start();
    }

    @AfterAll
    static void stopS3() throws Exception {
        s3.close();
    }

    static Stream<String> stores() {
        return Stream.of("file", "s3");
    }

    private ObjectStore open(String kind) {
        return kind.equals("file") ? ObjectStores.open("file://" + tmp.resolve("archive"))
                : new S3ObjectStore(s3.newArchive("walship-pins", "p-" + UUID.randomUUID()));
    }

    static void writes(Store s, String tag, int n) {
        for (int i = 0; i < n; i++) {
            s.put(("k" + (i % 20)).getBytes(StandardCharsets.UTF_8), (tag + i).getBytes(StandardCharsets.UTF_8));
        }
    }

    static BackupManifest backup(Store s, ObjectStore a) {
        try (Snapshot snap = s.snapshot()) {
            return BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), a, Codec.ZSTD, x -> { });
        }
    }

    static void ship(Path data, ObjectStore a) {
        try (WalShipper w = new WalShipper(data, a, new WalShipper.Options(Codec.ZSTD, 4096))) {
            w.shipOnce();
        }
    }

    /** Three backups with WAL around them; returns their names, oldest first. */
    private List<ArchiveLayout.BackupName> threeBackups(ObjectStore a) {
        Path data = tmp.resolve("leader");
        try (Store s = Store.open(data)) {
            return backupRounds(s, a, "r", 3);
        }
    }

    /** {@code rounds} times 60 writes, shipped, then a backup; then 40 more writes, shipped. Names oldest first. */
    private static List<ArchiveLayout.BackupName> backupRounds(Store s, ObjectStore a, String tag, int rounds) {
        List<ArchiveLayout.BackupName> names = new ArrayList<>();
        for (int round = 0; round < rounds; round++) {
            writes(s, tag + round, 60);
            ship(s.dir(), a);
            names.add(name(backup(s, a)));
        }
        writes(s, tag + "-tail", 40);
        ship(s.dir(), a);
        return names;
    }

    private static ArchiveLayout.BackupName name(BackupManifest m) {
        return new ArchiveLayout.BackupName(m.timeline(), Long.parseUnsignedLong(m.lsn(), 16));
    }

    @ParameterizedTest
    @MethodSource("stores")
    void aPinnedBackupOutlivesThePolicyAndIsDeletedOnceUnpinned(String kind) {
        try (ObjectStore a = open(kind)) {
            List<ArchiveLayout.BackupName> b = threeBackups(a);
            ArchiveLayout.BackupName oldest = b.get(0);
            String digest = RestorePlan.readManifest(a, oldest).digestSha256();
            assertEquals(BackupPin.Outcome.PINNED, BackupPin.pin(a, oldest, Instant.now()));
            assertEquals(BackupPin.Outcome.ALREADY_PINNED, BackupPin.pin(a, oldest, Instant.now()));
            assertTrue(ArchiveListing.of(a).pinned(oldest));

            Retention.Plan plan = Retention.plan(a, new Retention.Policy(1, null), Instant.now());
            assertEquals(List.of(oldest.dir()), plan.pinnedBackups());
            assertTrue(plan.deletions().stream().noneMatch(d -> d.key().startsWith(oldest.dir())), plan.deletions().toString());
            assertTrue(plan.deletions().stream().anyMatch(d -> d.key().startsWith(b.get(1).dir())), "the middle one goes");
            assertTrue(plan.deletions().stream().anyMatch(d -> d.key().startsWith("wal/")),
                    "the WAL between the pinned backup and the kept one is not needed by either");
            Retention.apply(a, plan, d -> { });

            ArchiveListing l = ArchiveListing.of(a);
            assertEquals(List.of(oldest, b.get(2)), l.backups().stream().map(ArchiveListing.BackupInfo::name).toList());
            ArchiveVerifier.Report report = ArchiveVerifier.verify(a, 2, false, m -> { });
            assertTrue(report.ok(), "a pinned backup whose later WAL was pruned is no problem: " + report.problems());
            assertTrue(report.notes().stream().anyMatch(n -> n.startsWith("base backup " + oldest.dir() + " restores to LSN ")
                    && n.contains("was pruned by retention (below its window start")), report.notes().toString());
            assertEquals(List.of(new ArchiveLayout.WatermarkName(b.get(2).timeline(), b.get(2).lsn() + 1)),
                    RetentionWatermark.listNames(a), "one watermark: one past the oldest kept backup");
            // restorable to its own LSN, exactly the state its manifest records
            Restore.Result r = Restore.run(a, tmp.resolve("r-" + kind), Restore.Options.defaults()
                    .withTarget(RestoreTarget.lsn(oldest.lsn(), false)), new Restore.Listener() { });
            assertEquals(oldest.lsn(), r.lsn());
            try (Store s = Store.open(tmp.resolve("r-" + kind))) {
                assertEquals(digest, s.digest().sha256());
            }
            assertTrue(Retention.plan(a, new Retention.Policy(1, null), Instant.now()).deletions().isEmpty(),
                    "a second prune finds nothing more while it is pinned");

            assertTrue(BackupPin.unpin(a, oldest));
            assertFalse(BackupPin.unpin(a, oldest), "unpinning twice changes nothing");
            Retention.apply(a, Retention.plan(a, new Retention.Policy(1, null), Instant.now()), d -> { });
            assertEquals(List.of(b.get(2)), ArchiveListing.of(a).backups().stream().map(ArchiveListing.BackupInfo::name).toList());
            assertTrue(ArchiveVerifier.verify(a, 2, false, m -> { }).ok());
        }
    }

    @ParameterizedTest
    @MethodSource("stores")
    void pinningAMissingBackupFailsAndLeavesNoPin(String kind) {
        try (ObjectStore a = open(kind)) {
            threeBackups(a);
            ArchiveLayout.BackupName none = new ArchiveLayout.BackupName(1, 1);
            BackupPin.NoSuchBackupException e = assertThrows(BackupPin.NoSuchBackupException.class,
                    () -> BackupPin.pin(a, none, Instant.now()));
            assertTrue(e.getMessage().startsWith("no base backup backups/00000001-0000000000000001/ in "), e.getMessage());
            assertTrue(a.head(none.pinKey()).isEmpty());
        }
    }

    /**
     * The race: the prune looks for a pin (none), then someone pins the backup — and sees its manifest,
     * so the pin reports success — and only then does the prune delete the manifest. The prune looks
     * again after deleting it, finds the pin, and puts the manifest back; the image is never deleted.
     */
    @ParameterizedTest
    @MethodSource("stores")
    void aPinMadeWhileAPruneDeletesTheBackupWins(String kind) {
        try (ObjectStore real = open(kind)) {
            List<ArchiveLayout.BackupName> b = threeBackups(real);
            ArchiveLayout.BackupName victim = b.get(0);
            byte[] manifestBefore = bytes(real, victim.manifestKey());
            Retention.Plan plan = Retention.plan(real, new Retention.Policy(1, null), Instant.now());
            assertTrue(plan.deletions().stream().anyMatch(d -> d.key().equals(victim.manifestKey())));
            List<String> outcome = new ArrayList<>();
            ObjectStore racing = new ForwardingObjectStore(real) {
                @Override
                public void delete(String key) {
                    if (key.equals(victim.manifestKey())) {
                        outcome.add(BackupPin.pin(real, victim, Instant.now()).name()); // the manifest is still there
                    }
                    super.delete(key);
                }
            };
            List<String> spared = new ArrayList<>();
            Retention.apply(racing, plan, d -> { }, spared::add);
            assertEquals(List.of("PINNED"), outcome);
            assertEquals(List.of(victim.dir()), spared);
            assertTrue(ArchiveListing.of(real).pinned(victim));
            assertTrue(ArchiveListing.of(real).backups().stream().anyMatch(x -> x.name().equals(victim)),
                    "the pinned backup exists");
            assertTrue(java.util.Arrays.equals(manifestBefore, bytes(real, victim.manifestKey())), "the same manifest");
            assertTrue(ArchiveVerifier.verify(real, 2, false, m -> { }).ok(), "its image is whole");
        }
    }

    /**
     * The other order: the pin finds the manifest, but the whole prune of that backup runs before the
     * pin object is created; the pin then finds the manifest gone and fails, leaving its pin (another
     * pinner may have reported ALREADY_PINNED on it; unpin removes it).
     */
    @ParameterizedTest
    @MethodSource("stores")
    void aPinOfABackupThatAPruneDeletesMeanwhileFailsAndLeavesItsPin(String kind) {
        try (ObjectStore real = open(kind)) {
            List<ArchiveLayout.BackupName> b = threeBackups(real);
            ArchiveLayout.BackupName victim = b.get(0);
            Retention.Plan plan = Retention.plan(real, new Retention.Policy(1, null), Instant.now());
            ObjectStore pinning = new ForwardingObjectStore(real) {
                @Override
                public void create(String key, java.io.InputStream content) {
                    if (key.equals(victim.pinKey())) {
                        Retention.apply(real, plan, d -> { }, d -> { throw new AssertionError("not pinned yet: " + d); });
                    }
                    super.create(key, content);
                }
            };
            BackupPin.NoSuchBackupException e = assertThrows(BackupPin.NoSuchBackupException.class,
                    () -> BackupPin.pin(pinning, victim, Instant.now()));
            assertTrue(e.getMessage().contains("a retention run deleted it while it was being pinned"), e.getMessage());
            assertTrue(e.getMessage().contains("unpin"), e.getMessage());
            assertTrue(real.head(victim.pinKey()).isPresent(), "the failed pin leaves its pin object for unpin");
            assertTrue(real.list(victim.dir(), null).isEmpty(), "the backup is gone entirely");
            assertTrue(ArchiveVerifier.verify(real, 2, false, m -> { }).ok());
        }
    }

    private static byte[] bytes(ObjectStore a, String key) {
        try (var in = a.get(key)) {
            return in.readAllBytes();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * Verify's "pruned after a pinned backup" rule counts WAL older than the gap as evidence of a loss,
     * but not WAL that retention keeps anyway: here timeline 1 has no base backup left (its only one was
     * removed by hand after timeline 2 forked from it), so retention keeps all of its WAL, including the
     * segments before the fork that timeline 2's history reads. Pruning the WAL between timeline 2's
     * pinned backup and its newer one is then still a note, not a gap.
     */
    @org.junit.jupiter.api.Test
    void walKeptOnABackuplessParentTimelineDoesNotTurnAPrunedGapIntoALoss() {
        Path data = tmp.resolve("leader");
        Path promoted = tmp.resolve("promoted");
        try (ObjectStore a = open("file")) {
            ArchiveLayout.BackupName first;
            long mid;
            try (Store s = Store.open(data)) {
                writes(s, "a", 60);
                ship(data, a);
                writes(s, "b", 60);
                ship(data, a);
                first = name(backup(s, a));
                writes(s, "c", 60);
                ship(data, a);
                mid = s.lastLsn() - 10;
            }
            Restore.run(a, promoted, Restore.Options.defaults().withTarget(RestoreTarget.lsn(mid, false)).withPromote(true),
                    new Restore.Listener() { });
            List<ArchiveLayout.BackupName> onTl2;
            try (Store s = Store.open(promoted)) {
                onTl2 = backupRounds(s, a, "t", 2);
            }
            for (io.walship.archive.ObjectInfo o : a.list(first.dir(), null)) {
                a.delete(o.key());
            }
            ArchiveLayout.BackupName pinned = onTl2.get(0);
            assertEquals(2, pinned.timeline(), "setup: the backups after the fork are on timeline 2");
            List<ArchiveListing.SegmentInfo> tl1 = ArchiveListing.of(a).segments(1);
            long tl1Tail = tl1.stream().mapToLong(x -> x.name().lastLsn()).max().orElseThrow();
            assertTrue(tl1.stream().anyMatch(x -> x.name().lastLsn() <= mid && x.name().lastLsn() != tl1Tail),
                    "setup: timeline 1 has WAL before the fork besides its last segment");
            assertEquals(BackupPin.Outcome.PINNED, BackupPin.pin(a, pinned, Instant.now()));

            Retention.Plan plan = Retention.plan(a, new Retention.Policy(1, null), Instant.now());
            assertTrue(plan.deletions().stream().anyMatch(d -> d.key().startsWith("wal/00000002/")),
                    "the WAL between the pinned backup and the kept one goes: " + plan.deletions());
            assertTrue(plan.deletions().stream().noneMatch(d -> d.key().startsWith("wal/00000001/")),
                    "timeline 1 has no backup: all its WAL stays: " + plan.deletions());
            Retention.apply(a, plan, d -> { });

            ArchiveVerifier.Report report = ArchiveVerifier.verify(a, 2, false, m -> { });
            // the hand-made deletion leaves timeline 1 (WAL past the fork) without a backup; timeline 2 forks from it, so
            // that is a note (timeline 2, which the default restore follows, has its own backups), and nothing is wrong
            assertTrue(report.ok(), "pruned WAL after a pinned backup is no problem: " + report.problems());
            assertTrue(report.notes().stream().anyMatch(n -> n.startsWith("timeline 1 has no usable base backup")),
                    report.notes().toString());
            assertThrows(io.walship.restorer.RestoreException.class, () -> Restore.run(a, tmp.resolve("tl1"),
                    Restore.Options.defaults().withTimeline(1), new Restore.Listener() { }), "timeline 1 is unrestorable");
            assertTrue(report.notes().stream().anyMatch(n -> n.startsWith("base backup " + pinned.dir())
                    && n.contains("pruned by retention")), report.notes().toString());
        }
    }

    /**
     * Review: verify hides a lost segment right after a pinned backup that the policy keeps anyway.
     * After a normal prune (keep 2) the oldest kept backup has no WAL older than it left; pin it (e.g.
     * "keep this one past the policy") and lose the segment right after it. Retention with the same
     * policy never deletes that segment (its plan is empty), so this is a loss and must be exit 3; verify
     * calls it "pruned" because a pinned backup, a newer backup and no older WAL look like retention's
     * work. Unpinned, the same loss is a gap: the pin alone hides it.
     */
    @org.junit.jupiter.api.Test
    void aLostSegmentAfterAPinnedBackupThePolicyKeepsIsAGap() {
        try (ObjectStore a = open("file")) {
            List<ArchiveLayout.BackupName> b = threeBackups(a);
            Retention.Policy keep2 = new Retention.Policy(2, null);
            Retention.apply(a, Retention.plan(a, keep2, Instant.now()), d -> { });
            ArchiveLayout.BackupName kept = b.get(1);
            assertEquals(BackupPin.Outcome.PINNED, BackupPin.pin(a, kept, Instant.now()));
            assertTrue(ArchiveVerifier.verify(a, 2, false, m -> { }).ok(), "setup: a clean archive after the prune");
            assertTrue(Retention.plan(a, keep2, Instant.now()).deletions().isEmpty(),
                    "setup: the policy keeps every segment after the pinned backup");
            ArchiveListing.SegmentInfo lost = ArchiveListing.of(a).segments(kept.timeline()).stream()
                    .filter(x -> x.name().firstLsn() <= kept.lsn() + 1 && x.name().lastLsn() >= kept.lsn() + 1)
                    .findFirst().orElseThrow();
            a.delete(lost.name().key()); // lost: no retention run with this policy deletes it

            ArchiveVerifier.Report report = ArchiveVerifier.verify(a, 2, false, m -> { });
            assertFalse(report.ok(), "the lost segment " + lost.name().key() + " is passed off as pruned: " + report.notes());
            assertTrue(report.problems().stream().anyMatch(p -> p.kind().equals("gap")), report.problems().toString());
        }
    }

    /**
     * Review: a false exit 3 after a normal prune with a pin, several timelines. Timeline 1 goes on past
     * two forks: timeline 2 at LSN {@code a} (no base backup: retention keeps ALL of timeline 1's WAL for
     * it, {@link Retention#needed} ignores where timeline 2 left timeline 1), timeline 3 at LSN
     * {@code b > a} with a pinned backup and a newer one. The prune deletes timeline 3's WAL between the
     * two (a note), and keeps timeline 1's segments between {@code a} and {@code b}. Verify's
     * "kept anyway" rule only excuses segments within timeline 2's stretch of timeline 1 (up to
     * {@code a}), so those segments count as older WAL and the pruned range becomes a gap.
     */
    @org.junit.jupiter.api.Test
    void walKeptForABackuplessSiblingPastItsForkDoesNotTurnAPrunedGapIntoALoss() {
        Path data = tmp.resolve("leader");
        try (ObjectStore a = open("file")) {
            ArchiveLayout.BackupName first;
            long forkA;
            long forkB;
            try (Store s = Store.open(data)) {
                writes(s, "a", 60);
                ship(data, a);
                first = name(backup(s, a));
                writes(s, "b", 60);
                ship(data, a);
                forkA = s.lastLsn() - 10;
                writes(s, "c", 60);
                ship(data, a);
                writes(s, "d", 60);
                ship(data, a);
                forkB = s.lastLsn() - 10;
                writes(s, "e", 60);
                ship(data, a);
                backup(s, a); // timeline 1's own backup, after both forks
                writes(s, "f", 60);
                ship(data, a);
            }
            Path sibling = tmp.resolve("sibling");
            Restore.run(a, sibling, Restore.Options.defaults().withTimeline(1)
                    .withTarget(RestoreTarget.lsn(forkA, false)).withPromote(true), new Restore.Listener() { });
            try (Store s = Store.open(sibling)) {
                writes(s, "s", 60);
                ship(sibling, a);
            }
            Path promoted = tmp.resolve("promoted");
            Restore.run(a, promoted, Restore.Options.defaults().withTimeline(1)
                    .withTarget(RestoreTarget.lsn(forkB, false)).withPromote(true), new Restore.Listener() { });
            List<ArchiveLayout.BackupName> onTl3;
            try (Store s = Store.open(promoted)) {
                onTl3 = backupRounds(s, a, "t", 2);
            }
            for (io.walship.archive.ObjectInfo o : a.list(first.dir(), null)) {
                a.delete(o.key()); // timeline 2's history has no base backup left
            }
            ArchiveLayout.BackupName pinned = onTl3.get(0);
            assertEquals(3, pinned.timeline(), "setup: the pinned backup is on timeline 3");
            long fa = forkA;
            long fb = forkB;
            List<ArchiveListing.SegmentInfo> tl1 = ArchiveListing.of(a).segments(1);
            assertTrue(tl1.stream().anyMatch(x -> x.name().firstLsn() > fa && x.name().lastLsn() <= fb),
                    "setup: timeline 1 has a whole segment between the two forks");
            assertEquals(BackupPin.Outcome.PINNED, BackupPin.pin(a, pinned, Instant.now()));
            // the hand-made deletion leaves timeline 2 (the sibling, with WAL) without a backup: that, and nothing else
            List<String> onlyTl2 = List.of("unrestorable: timelines/00000002.history");
            assertEquals(onlyTl2, ArchiveVerifier.verify(a, 2, false, m -> { }).problems().stream()
                    .map(p -> p.kind() + ": " + p.object()).toList(), "setup: clean before the prune");

            Retention.Plan plan = Retention.plan(a, new Retention.Policy(1, null), Instant.now());
            assertTrue(plan.deletions().stream().anyMatch(d -> d.key().startsWith("wal/00000003/")),
                    "the WAL between the pinned backup and the kept one goes: " + plan.deletions());
            assertTrue(plan.deletions().stream().noneMatch(d -> d.key().startsWith("wal/00000001/")),
                    "timeline 2 has no backup: all of timeline 1's WAL stays: " + plan.deletions());
            Retention.apply(a, plan, d -> { });

            ArchiveVerifier.Report report = ArchiveVerifier.verify(a, 2, false, m -> { });
            assertEquals(onlyTl2, report.problems().stream().map(p -> p.kind() + ": " + p.object()).toList(),
                    "WAL pruned after a pinned backup by a normal prune is no loss");
            assertThrows(io.walship.restorer.RestoreException.class, () -> Restore.run(a, tmp.resolve("tl2"),
                    Restore.Options.defaults().withTimeline(2), new Restore.Listener() { }), "timeline 2 is unrestorable");
        }
    }

    /**
     * The watermark is made before any delete: a prune interrupted right after its first delete of WAL after
     * the pinned backup leaves a gap after it that verify knows as pruned; the same gap without the watermark
     * is a loss (exit 3). A rerun finds the watermark there and finishes. Unpinned, the backup goes at the
     * next prune and verify stays clean.
     */
    @org.junit.jupiter.api.Test
    void anInterruptedPruneLeavesItsWatermarkAndARerunFinishes() {
        try (ObjectStore a = open("file")) {
            List<ArchiveLayout.BackupName> b = threeBackups(a);
            ArchiveLayout.BackupName oldest = b.get(0);
            assertEquals(BackupPin.Outcome.PINNED, BackupPin.pin(a, oldest, Instant.now()));
            Retention.Policy keep1 = new Retention.Policy(1, null);
            Retention.Plan plan = Retention.plan(a, keep1, Instant.now());
            ArchiveLayout.WatermarkName mark = new ArchiveLayout.WatermarkName(1, b.get(2).lsn() + 1);
            assertEquals(List.of(mark), plan.watermarks());
            RuntimeException crash = new RuntimeException("crash after the first delete of WAL after the pinned backup");
            RuntimeException thrown = assertThrows(RuntimeException.class, () -> Retention.apply(a, plan, d -> {
                if (ArchiveLayout.parseSegment(d.key()).filter(w -> w.lastLsn() > oldest.lsn()).isPresent()) {
                    throw crash;
                }
            }));
            assertEquals(crash, thrown);
            ArchiveVerifier.Report report = ArchiveVerifier.verify(a, 2, false, m -> { });
            assertTrue(report.ok(), "an interrupted prune's gap is below its watermark: " + report.problems());
            assertTrue(report.notes().stream().anyMatch(n -> n.startsWith("base backup " + oldest.dir())), report.notes().toString());

            byte[] bytes = readAll(a, mark.key());
            a.delete(mark.key());
            ArchiveVerifier.Report unmarked = ArchiveVerifier.verify(a, 2, false, m -> { });
            assertTrue(unmarked.problems().stream().anyMatch(p -> p.kind().equals("gap")),
                    "without its watermark the same gap is a loss: " + unmarked.notes());
            a.create(mark.key(), new java.io.ByteArrayInputStream(bytes));

            Retention.Plan rerun = Retention.plan(a, keep1, Instant.now());
            assertTrue(rerun.watermarks().isEmpty(), "the watermark is there already: " + rerun.watermarks());
            Retention.apply(a, rerun, d -> { }); // the rerun finishes
            assertTrue(Retention.plan(a, keep1, Instant.now()).deletions().isEmpty());
            assertTrue(ArchiveVerifier.verify(a, 2, false, m -> { }).ok());
            assertTrue(BackupPin.unpin(a, oldest));
            Retention.apply(a, Retention.plan(a, keep1, Instant.now()), d -> { });
            assertFalse(ArchiveListing.of(a).backups().stream().anyMatch(x -> x.name().equals(oldest)), "unpinned, it goes");
            assertEquals(List.of(mark), RetentionWatermark.listNames(a));
            assertTrue(ArchiveVerifier.verify(a, 2, false, m -> { }).ok());
        }
    }

    private static byte[] readAll(ObjectStore a, String key) {
        try (java.io.InputStream in = a.get(key)) {
            return in.readAllBytes();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    // retention watermarks (issue 14): the cases reviews of the pruned-WAL records found, and the races of the new
    // scheme; each names what it shows

    /** Three backups, the oldest pinned, a prune keeping one (the WAL after the pinned one goes); verify is clean. */
    private ArchiveLayout.BackupName pinOldestAndPrune(ObjectStore a) {
        ArchiveLayout.BackupName oldest = threeBackups(a).get(0);
        assertEquals(BackupPin.Outcome.PINNED, BackupPin.pin(a, oldest, Instant.now()));
        Retention.apply(a, Retention.plan(a, new Retention.Policy(1, null), Instant.now()), d -> { });
        ArchiveVerifier.Report r = ArchiveVerifier.verify(a, 2, false, m -> { });
        assertTrue(r.ok(), "a prune past a pinned backup is clean: " + r.problems());
        return oldest;
    }

    private static ArchiveLayout.SegmentName firstSegmentAfter(ObjectStore a, ArchiveLayout.BackupName b) {
        return ArchiveListing.of(a).segments(b.timeline()).stream().map(ArchiveListing.SegmentInfo::name)
                .filter(s -> s.firstLsn() == b.lsn() + 1).findFirst()
                .orElseThrow(() -> new AssertionError("no segment starts right after " + b.dir()));
    }

    /** A point-in-time target inside WAL retention pruned fails saying so, not as WAL missing from the archive. */
    @org.junit.jupiter.api.Test
    void aTargetInWalPrunedByRetentionSaysSo() {
        try (ObjectStore a = open("file")) {
            ArchiveLayout.BackupName oldest = pinOldestAndPrune(a);
            io.walship.restorer.RestoreException e = assertThrows(io.walship.restorer.RestoreException.class,
                    () -> Restore.run(a, tmp.resolve("pitr"), Restore.Options.defaults()
                            .withTarget(RestoreTarget.lsn(oldest.lsn() + 5, false)), new Restore.Listener() { }));
            assertTrue(e.getMessage().contains("was pruned by retention (timeline 1 keeps WAL only from its window start"),
                    e.getMessage());
            assertTrue(e.getMessage().contains("restore to LSN " + io.walship.wal.Lsn.format(oldest.lsn()) + " at most"),
                    e.getMessage());
            // a target past the gap is not enough (one between the gap's end and the next backup fails the same
            // way): the way out is the first base backup after the gap
            ArchiveLayout.BackupName next = ArchiveListing.of(a).backups().stream().map(ArchiveListing.BackupInfo::name)
                    .filter(n -> n.lsn() > oldest.lsn()).min(java.util.Comparator.comparingLong(ArchiveLayout.BackupName::lsn))
                    .orElseThrow();
            assertTrue(e.getMessage().endsWith("or to LSN " + io.walship.wal.Lsn.format(next.lsn()) + " or later (base"
                    + " backup " + next.dir() + ", the first after the gap)"), e.getMessage());
        }
    }

    /**
     * A watermark whose content is not what its key says (here: unparseable) is reported as corrupt (exit 3) and
     * excuses nothing: the gap it would have excused is a problem too.
     */
    @ParameterizedTest
    @MethodSource("stores")
    void aCorruptWatermarkIsReportedAndExcusesNothing(String kind) {
        try (ObjectStore a = open(kind)) {
            pinOldestAndPrune(a);
            List<ArchiveLayout.WatermarkName> marks = RetentionWatermark.listNames(a);
            assertEquals(1, marks.size(), marks.toString());
            String victim = marks.get(0).key();
            a.delete(victim);
            a.create(victim, new java.io.ByteArrayInputStream("{ this is not a watermark".getBytes(StandardCharsets.UTF_8)));

            ArchiveVerifier.Report report = ArchiveVerifier.verify(a, 2, false, m -> { });
            assertFalse(report.ok(), "a corrupt watermark must be reported: notes " + report.notes());
            assertTrue(report.problems().stream().anyMatch(p -> p.kind().equals("corrupt") && p.object().equals(victim)),
                    report.problems().toString());
            assertTrue(report.problems().stream().anyMatch(p -> p.kind().equals("gap")),
                    "and it excuses no gap: " + report.problems());
        }
    }

    /**
     * Three backups, the oldest pinned, and a prune keeping one that fails before its first WAL delete: its
     * watermark is made, no WAL is deleted. Returns the backups, oldest first.
     */
    private List<ArchiveLayout.BackupName> pinOldestAndInterruptAPrune(ObjectStore a) {
        List<ArchiveLayout.BackupName> b = threeBackups(a);
        assertEquals(BackupPin.Outcome.PINNED, BackupPin.pin(a, b.get(0), Instant.now()));
        Retention.Plan plan = Retention.plan(a, new Retention.Policy(1, null), Instant.now());
        assertFalse(plan.watermarks().isEmpty(), plan.toString());
        io.walship.archive.StorageException outage = new io.walship.archive.StorageException("the store went away before the first WAL delete");
        ObjectStore failing = new ForwardingObjectStore(a) {
            @Override
            public void delete(String key) {
                if (key.startsWith(ArchiveLayout.WAL)) {
                    throw outage;
                }
                super.delete(key);
            }
        };
        assertEquals(outage, assertThrows(io.walship.archive.StorageException.class, () -> Retention.apply(failing, plan, d -> { })));
        assertEquals(plan.watermarks(), RetentionWatermark.listNames(a), "the interrupted prune made its watermark");
        firstSegmentAfter(a, b.get(0)); // and deleted no WAL
        return b;
    }

    /**
     * Review pr5 (a), the part a watermark can tell: a prune is interrupted after making its watermark, the
     * operator widens the policy (the next prune keeps everything), then a segment at or above the watermark is
     * lost by other means. No retention run ever deletes WAL there: it is a gap, exit 3.
     */
    @ParameterizedTest
    @MethodSource("stores")
    void aLossAboveTheWatermarkIsAGapEvenAfterAnInterruptedPrune(String kind) {
        try (ObjectStore a = open(kind)) {
            List<ArchiveLayout.BackupName> b = pinOldestAndInterruptAPrune(a);
            ArchiveLayout.BackupName newest = b.get(2);
            try (Store s = Store.open(tmp.resolve("leader"))) {
                writes(s, "later", 60);
                ship(s.dir(), a); // the segment right after the newest backup is not the last one any more
            }
            Retention.Plan wider = Retention.plan(a, new Retention.Policy(3, null), Instant.now());
            assertTrue(wider.keptBackups().contains(b.get(0).dir()), wider.keptBackups().toString());
            Retention.apply(a, wider, d -> { });
            assertEquals(newest.lsn() + 1, RetentionWatermark.scan(a).windowStart(1), "the highest watermark stays");
            assertTrue(ArchiveVerifier.verify(a, 2, false, m -> { }).ok());

            ArchiveLayout.SegmentName lost = firstSegmentAfter(a, newest);
            a.delete(lost.key()); // a real loss at the window start: no prune deletes it
            ArchiveVerifier.Report report = ArchiveVerifier.verify(a, 2, false, m -> { });
            assertFalse(report.ok(), "a segment lost at or above the watermark is a loss, not a prune: notes "
                    + report.notes());
            assertTrue(report.problems().stream().anyMatch(p -> p.kind().equals("gap")), report.problems().toString());
        }
    }

    /** An interrupted prune (watermark made, nothing deleted) leaves a clean archive; a rerun finishes the job. */
    @ParameterizedTest
    @MethodSource("stores")
    void anInterruptedPruneThenARerunFinishes(String kind) {
        try (ObjectStore a = open(kind)) {
            List<ArchiveLayout.BackupName> b = pinOldestAndInterruptAPrune(a);
            ArchiveVerifier.Report before = ArchiveVerifier.verify(a, 2, false, m -> { });
            assertTrue(before.ok(), before.problems().toString());
            Retention.Policy keep1 = new Retention.Policy(1, null);
            Retention.apply(a, Retention.plan(a, keep1, Instant.now()), d -> { });
            assertTrue(Retention.plan(a, keep1, Instant.now()).deletions().isEmpty(), "the rerun finished the job");
            assertTrue(ArchiveListing.of(a).segments(1).stream().noneMatch(s -> s.name().firstLsn() == b.get(0).lsn() + 1),
                    "the WAL after the pinned backup is gone");
            ArchiveVerifier.Report after = ArchiveVerifier.verify(a, 2, false, m -> { });
            assertTrue(after.ok(), after.problems().toString());
            assertTrue(after.notes().stream().anyMatch(n -> n.startsWith("base backup " + b.get(0).dir())), after.notes().toString());
        }
    }

    /**
     * Unpinning a backup whose WAL a prune deleted changes nothing for verify (the records scheme made it a
     * false exit 3 until its fix): the watermark does not depend on pins.
     */
    @ParameterizedTest
    @MethodSource("stores")
    void unpinningABackupWhoseWalWasPrunedIsNoIntegrityProblem(String kind) {
        try (ObjectStore a = open(kind)) {
            ArchiveLayout.BackupName oldest = pinOldestAndPrune(a);

            assertTrue(BackupPin.unpin(a, oldest));
            ArchiveVerifier.Report report = ArchiveVerifier.verify(a, 2, false, m -> { });
            assertTrue(report.ok(), "nothing was lost, retention's watermark covers what it pruned: " + report.problems());
            assertTrue(report.notes().stream().anyMatch(n -> n.startsWith("base backup " + oldest.dir() + " restores to LSN ")
                    && n.contains("was pruned by retention")), report.notes().toString());
        }
    }

    /**
     * Review pr5 (b), for watermarks: a prune runs between verify's listing of the WAL and its reading of the
     * watermarks, or right after that reading. Verify lists wal/ first and the watermarks last, so every deletion
     * it sees was made after a watermark it reads; read the other way round (or from one listing, where
     * retention/ sorts before wal/), the prune's deletions would show without its watermark: a false exit 3.
     */
    @ParameterizedTest
    @MethodSource("stores")
    void aPruneBetweenVerifysWalListingAndItsWatermarkReadIsNoFalseAlarm(String kind) {
        pruneAroundVerifysWatermarkRead(kind, false);
    }

    @ParameterizedTest
    @MethodSource("stores")
    void aPruneRightAfterVerifysWatermarkReadIsNoFalseAlarm(String kind) {
        pruneAroundVerifysWatermarkRead(kind, true);
    }

    private void pruneAroundVerifysWatermarkRead(String kind, boolean afterTheRead) {
        {
            try (ObjectStore a = open(kind)) {
                ArchiveLayout.BackupName oldest = threeBackups(a).get(0);
                assertEquals(BackupPin.Outcome.PINNED, BackupPin.pin(a, oldest, Instant.now()));
                java.util.concurrent.atomic.AtomicInteger lists = new java.util.concurrent.atomic.AtomicInteger();
                Runnable prune = () -> Retention.apply(a, Retention.plan(a, new Retention.Policy(1, null), Instant.now()), d -> { });
                ObjectStore racing = new ForwardingObjectStore(a) {
                    @Override
                    public List<io.walship.archive.ObjectInfo> list(String prefix, String startAfter) {
                        boolean first = prefix.equals(ArchiveLayout.RETENTION) && lists.getAndIncrement() == 0;
                        if (first && !afterTheRead) {
                            prune.run();
                        }
                        List<io.walship.archive.ObjectInfo> listed = super.list(prefix, startAfter);
                        if (first && afterTheRead) {
                            prune.run();
                        }
                        return listed;
                    }
                };
                ArchiveVerifier.Report report = ArchiveVerifier.verify(racing, 2, false, m -> { });
                assertTrue(lists.get() > 0, "setup: the prune ran inside verify");
                assertTrue(ArchiveListing.of(a).segments(1).stream().noneMatch(x -> x.name().firstLsn() == oldest.lsn() + 1),
                        "setup: the prune deleted the WAL after the pinned backup");
                assertTrue(report.ok(), "a prune while verify ran (" + (afterTheRead ? "after" : "before")
                        + " its watermark read) is no loss: " + report.problems());
                ArchiveVerifier.Report again = ArchiveVerifier.verify(a, 2, false, m -> { });
                assertTrue(again.ok() && again.notes().stream().anyMatch(n -> n.startsWith("base backup " + oldest.dir())),
                        "and the next verify sees the pruned gap as such: " + again.problems() + " " + again.notes());
            }
        }
    }

    /**
     * A prune deletes segments verify has listed but not read yet: each is gone below the watermark the prune
     * made first, so it is a note, not a missing or corrupt segment. A segment gone that no watermark covers
     * stays a problem (the next test).
     */
    @ParameterizedTest
    @MethodSource("stores")
    void aPruneDeletingSegmentsVerifyHasListedIsNoFalseAlarm(String kind) {
        try (ObjectStore a = open(kind)) {
            ArchiveLayout.BackupName oldest = threeBackups(a).get(0);
            assertEquals(BackupPin.Outcome.PINNED, BackupPin.pin(a, oldest, Instant.now()));
            ObjectStore racing = pruneAtFirstWalRead(a, () -> Retention.apply(a,
                    Retention.plan(a, new Retention.Policy(1, null), Instant.now()), d -> { }));
            ArchiveVerifier.Report report = ArchiveVerifier.verify(racing, 1, false, m -> { });
            assertTrue(report.ok(), "segments a prune deleted while verify ran are no loss: " + report.problems());
            assertTrue(report.notes().stream().anyMatch(n -> n.contains("was deleted by a prune while verify ran")),
                    report.notes().toString());
        }
    }

    /** The same race, but the segment is deleted by hand, above every watermark: a problem. */
    @ParameterizedTest
    @MethodSource("stores")
    void aSegmentDeletedByHandWhileVerifyRunsIsAProblem(String kind) {
        try (ObjectStore a = open(kind)) {
            List<ArchiveLayout.BackupName> b = pinOldestAndInterruptAPrune(a);
            ArchiveLayout.SegmentName lost = ArchiveListing.of(a).segments(1).stream().map(ArchiveListing.SegmentInfo::name)
                    .filter(s -> s.lastLsn() > b.get(2).lsn()).findFirst().orElseThrow();
            ObjectStore racing = pruneAtFirstWalRead(a, () -> a.delete(lost.key()));
            ArchiveVerifier.Report report = ArchiveVerifier.verify(racing, 1, false, m -> { });
            assertTrue(report.problems().stream().anyMatch(p -> p.kind().equals("missing") && p.object().equals(lost.key())),
                    report.problems().toString());
        }
    }

    /** A store that runs {@code action} once, at the first read of a WAL segment. */
    private static ObjectStore pruneAtFirstWalRead(ObjectStore a, Runnable action) {
        java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
        return new ForwardingObjectStore(a) {
            @Override
            public java.io.InputStream get(String key) {
                if (key.startsWith(ArchiveLayout.WAL) && done.compareAndSet(false, true)) {
                    action.run();
                }
                return super.get(key);
            }
        };
    }

    /**
     * An archive pruned by the previous walship (pruned-WAL records, no watermark) shows its pruned gap as a
     * loss, exit 3, with a note on the records; the next prune makes the watermark, deletes the records, and
     * verify is clean (docs/OPERATIONS.md, the upgrade note).
     */
    @ParameterizedTest
    @MethodSource("stores")
    void anArchivePrunedByThePreviousVersionIsCleanAfterTheNextPrune(String kind) {
        try (ObjectStore a = open(kind)) {
            ArchiveLayout.BackupName oldest = pinOldestAndPrune(a);
            RetentionWatermark.listNames(a).forEach(w -> a.delete(w.key())); // as the previous version left it
            String record = ArchiveLayout.LEGACY_PRUNED + ArchiveLayout.timelineHex(1) + "-" + ArchiveLayout.lsnHex(oldest.lsn())
                    + "/00000001-" + ArchiveLayout.lsnHex(oldest.lsn() + 1) + "-" + ArchiveLayout.lsnHex(oldest.lsn() + 9) + ".json";
            a.create(record, new java.io.ByteArrayInputStream("{\"formatVersion\":1}".getBytes(StandardCharsets.UTF_8)));

            ArchiveVerifier.Report old = ArchiveVerifier.verify(a, 2, false, m -> { });
            assertTrue(old.problems().stream().anyMatch(p -> p.kind().equals("gap")), old.problems().toString());
            assertTrue(old.notes().stream().anyMatch(n -> n.startsWith("1 pruned-WAL record(s) of an older walship")),
                    old.notes().toString());

            Retention.Plan plan = Retention.plan(a, new Retention.Policy(1, null), Instant.now());
            assertEquals(1, plan.watermarks().size(), plan.toString());
            assertEquals(List.of(record), plan.deletions().stream().map(Retention.Deletion::key).toList());
            Retention.apply(a, plan, d -> { });
            assertTrue(a.list(ArchiveLayout.LEGACY_PRUNED, null).isEmpty());
            ArchiveVerifier.Report now = ArchiveVerifier.verify(a, 2, false, m -> { });
            assertTrue(now.ok(), now.problems().toString());
            assertTrue(now.notes().stream().noneMatch(n -> n.contains("older walship")), now.notes().toString());
        }
    }

    /**
     * A backup the plan deletes that is pinned while the prune runs is kept; the WAL after it is deleted below
     * the watermark the prune made first, and verify is clean.
     */
    @ParameterizedTest
    @MethodSource("stores")
    void aBackupPinnedWhileAPruneRunsIsKeptAndTheWalAfterItIsANote(String kind) {
        try (ObjectStore a = open(kind)) {
            List<ArchiveLayout.BackupName> b = threeBackups(a);
            ArchiveLayout.BackupName oldest = b.get(0);
            ArchiveLayout.SegmentName after = firstSegmentAfter(a, oldest);
            Retention.Plan plan = Retention.plan(a, new Retention.Policy(1, null), Instant.now());
            assertTrue(plan.deletions().stream().anyMatch(d -> d.key().equals(after.key())), plan.deletions().toString());
            boolean[] pinned = {false};
            ObjectStore pinning = new ForwardingObjectStore(a) {
                @Override
                public java.util.Optional<io.walship.archive.ObjectInfo> head(String key) {
                    if (key.equals(oldest.pinKey()) && !pinned[0]) {
                        pinned[0] = true; // the operator pins it just before the prune looks
                        assertEquals(BackupPin.Outcome.PINNED, BackupPin.pin(a, oldest, Instant.now()));
                    }
                    return super.head(key);
                }
            };
            List<String> meanwhile = new ArrayList<>();
            Retention.apply(pinning, plan, d -> { }, meanwhile::add);
            assertEquals(List.of(oldest.dir()), meanwhile);
            assertTrue(ArchiveListing.of(a).backups().stream().anyMatch(x -> x.name().equals(oldest)), "kept");
            assertTrue(a.head(after.key()).isEmpty(), "the WAL after it went");
            ArchiveVerifier.Report report = ArchiveVerifier.verify(a, 2, false, m -> { });
            assertTrue(report.ok(), report.problems().toString());
            assertTrue(report.notes().stream().anyMatch(n -> n.startsWith("base backup " + oldest.dir())),
                    report.notes().toString());
        }
    }
}
