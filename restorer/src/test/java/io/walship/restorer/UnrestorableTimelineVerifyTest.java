package io.walship.restorer;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ArchiveListing;
import io.walship.archive.Codec;
import io.walship.archive.ObjectInfo;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.RetentionWatermark;
import io.walship.shipper.BaseBackup;
import io.walship.shipper.WalShipper;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code archive verify} reports a timeline that no base backup on its path can restore (an adversarial review: a
 * prune that did not know timeline 2 deleted the backup it forked from and timeline 1's WAL after it; verify said
 * OK, {@code restore --timeline 2} failed). A timeline claimed but never written is only a note. The archives are
 * built as PromotionRetentionGuardTest builds them (real stores, backups, shipments and promotions); the prune is
 * what {@code Retention.apply} does when it knows timeline 1 only (the scheduler module, not a dependency here):
 * the watermark first, then the older backup, then timeline 1's WAL below the newer one.
 */
class UnrestorableTimelineVerifyTest {
    @TempDir
    Path tmp;

    private static void writes(Store s, String tag, int n) {
        for (int i = 0; i < n; i++) {
            s.put(("k" + (i % 20)).getBytes(StandardCharsets.UTF_8), (tag + i).getBytes(StandardCharsets.UTF_8));
        }
    }

    private static long backup(Store s, ObjectStore a) {
        try (Snapshot snap = s.snapshot()) {
            BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), a, Codec.ZSTD, x -> { });
            return snap.lsn();
        }
    }

    private static void ship(Path data, ObjectStore a) {
        try (WalShipper w = new WalShipper(data, a, new WalShipper.Options(Codec.ZSTD, 4096))) {
            w.shipOnce();
        }
    }

    /** Timeline 1: backup b1, WAL, backup b2, WAL past it, all shipped; returns {b1, b2}. */
    private long[] twoBackups(ObjectStore a) {
        Path data = tmp.resolve("leader");
        try (Store s = Store.open(data)) {
            writes(s, "a", 50);
            long b1 = backup(s, a);
            writes(s, "b", 50);
            ship(data, a);
            long b2 = backup(s, a);
            writes(s, "c", 50);
            ship(data, a);
            return new long[] {b1, b2};
        }
    }

    /**
     * {@code restore --timeline from --lsn lsn --promote} into {@code dir}; then, if {@code n > 0}, {@code n} writes on
     * the new timeline, shipped. Returns the new timeline.
     */
    private int promote(ObjectStore a, String dir, int from, long lsn, int n) {
        Restore.Result r = Restore.run(a, tmp.resolve(dir), Restore.Options.defaults().withTimeline(from)
                .withTarget(RestoreTarget.lsn(lsn, false)).withPromote(true), new Restore.Listener() { });
        assertTrue(r.promotedBackup() == null, "no watermark yet, the promotion takes no backup: " + r.promotedBackup());
        if (n > 0) {
            try (Store s = Store.open(tmp.resolve(dir))) {
                writes(s, dir, n);
            }
            ship(tmp.resolve(dir), a);
        }
        return r.promotedTimeline();
    }

    /** A prune with --keep-backups 1 that knows timeline 1 only: window start b2 + 1, b1 and the WAL below it deleted. */
    private static void pruneTimelineOne(ObjectStore a, long b1, long b2) {
        RetentionWatermark.create(a, new ArchiveLayout.WatermarkName(1, b2 + 1));
        ArchiveLayout.BackupName old = new ArchiveLayout.BackupName(1, b1);
        a.delete(old.manifestKey());
        for (ObjectInfo o : a.list(old.dir(), null)) {
            a.delete(o.key());
        }
        for (ArchiveListing.SegmentInfo s : ArchiveListing.of(a).segments(1)) {
            if (s.name().lastLsn() <= b2) {
                a.delete(s.name().key());
            }
        }
    }

    private static ArchiveVerifier.Report verify(ObjectStore a, boolean quick) {
        return ArchiveVerifier.verify(a, 2, quick, m -> { });
    }

    private static void assertOk(ArchiveVerifier.Report r) {
        assertTrue(r.ok(), "problems: " + r.problems() + " notes: " + r.notes());
    }

    private static void assertUnrestorable(ArchiveVerifier.Report r, int... timelines) {
        List<String> got = r.problems().stream().filter(p -> p.kind().equals("unrestorable")).map(p -> p.object()).toList();
        List<String> want = java.util.Arrays.stream(timelines).mapToObj(ArchiveLayout::historyKey).toList();
        assertEquals(want, got, "problems: " + r.problems());
        assertEquals(timelines.length, r.problems().size(), "nothing else is wrong: " + r.problems());
        for (int t : timelines) {
            String d = r.problems().stream().filter(p -> p.object().equals(ArchiveLayout.historyKey(t))).findFirst()
                    .orElseThrow().detail();
            assertTrue(d.contains("timeline " + t) && d.contains("walship backup") && !d.contains("\n"), d);
        }
    }

    /** The review's archive: timeline 2 forked between b1 and b2 and written; the prune deleted b1 and the WAL after it. */
    @Test
    void aWrittenTimelineWhoseForkLostItsBackupIsAProblem() {
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            long[] b = twoBackups(a);
            assertEquals(2, promote(a, "tl2", 1, b[0] + 5, 30));
            assertOk(verify(a, false));
            pruneTimelineOne(a, b[0], b[1]);

            RestoreException e = assertThrows(RestoreException.class, () -> Restore.run(a, tmp.resolve("r2"),
                    Restore.Options.defaults().withTimeline(2), new Restore.Listener() { }));
            assertTrue(e.getMessage().contains("no base backup on timeline 2"), e.getMessage());
            ArchiveVerifier.Report r = verify(a, false);
            assertUnrestorable(r, 2);
            String d = r.problems().get(0).detail();
            assertTrue(d.contains(io.walship.wal.Lsn.format(b[0] + 5)), "names the fork: " + d);
            assertUnrestorable(verify(a, true), 2); // --quick: from the listing alone
        }
    }

    /** The same prune, but timeline 2 holds a base backup of its own: it restores from that one. */
    @Test
    void aTimelineWithItsOwnBackupIsOk() {
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            long[] b = twoBackups(a);
            assertEquals(2, promote(a, "tl2", 1, b[0] + 5, 30));
            try (Store s = Store.open(tmp.resolve("tl2"))) {
                backup(s, a);
                writes(s, "more", 10);
            }
            ship(tmp.resolve("tl2"), a);
            pruneTimelineOne(a, b[0], b[1]);

            assertOk(verify(a, false));
            assertDoesNotThrow(() -> Restore.run(a, tmp.resolve("r2"), Restore.Options.defaults().withTimeline(2),
                    new Restore.Listener() { }));
        }
    }

    /** A fork past b2, which the prune kept: timeline 2 restores from b2 on timeline 1. */
    @Test
    void aForkAfterTheKeptBackupIsOk() {
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            long[] b = twoBackups(a);
            assertEquals(2, promote(a, "tl2", 1, b[1] + 5, 30));
            pruneTimelineOne(a, b[0], b[1]);

            assertOk(verify(a, false));
            assertDoesNotThrow(() -> Restore.run(a, tmp.resolve("r2"), Restore.Options.defaults().withTimeline(2),
                    new Restore.Listener() { }));
        }
    }

    /** A claimed timeline never written (restore --promote whose copy never ran, or a crash after the claim): a note. */
    @Test
    void aClaimedTimelineWithoutWalIsANoteNotAProblem() {
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            long[] b = twoBackups(a);
            assertEquals(2, promote(a, "tl2", 1, b[0] + 5, 0));
            pruneTimelineOne(a, b[0], b[1]);

            ArchiveVerifier.Report r = verify(a, false);
            assertOk(r);
            assertTrue(r.notes().stream().anyMatch(n -> n.contains("timeline 2") && n.contains("no WAL of its own")),
                    "notes: " + r.notes());
        }
    }

    /**
     * Timeline 3 forked from timeline 2, which forked from timeline 1 between b1 and b2: b1 restores both; once the
     * prune deleted it, neither can be restored. Timeline 3, the leaf, is the problem; timeline 2 is an ancestor (a
     * note: its WAL past timeline 3's fork cannot be restored, and timeline 3 is checked on its own).
     */
    @Test
    void aGrandchildRestoresFromTimelineOneUntilItsBackupIsPruned() {
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            long[] b = twoBackups(a);
            assertEquals(2, promote(a, "tl2", 1, b[0] + 5, 30));
            long end2 = ArchiveListing.of(a).lastArchivedLsn(2);
            assertEquals(3, promote(a, "tl3", 2, end2 - 3, 30));
            assertOk(verify(a, false));
            assertDoesNotThrow(() -> Restore.run(a, tmp.resolve("r3"), Restore.Options.defaults().withTimeline(3),
                    new Restore.Listener() { }));

            pruneTimelineOne(a, b[0], b[1]);
            ArchiveVerifier.Report r = verify(a, false);
            assertUnrestorable(r, 3);
            assertTrue(r.notes().stream().anyMatch(n -> n.startsWith("timeline 2 (forked from timeline 1")
                    && n.contains("its WAL past LSN " + io.walship.wal.Lsn.format(end2 - 3))
                    && n.contains("timeline 3 forks from it and is checked on its own")), "notes: " + r.notes());
            assertThrows(RestoreException.class, () -> Restore.run(a, tmp.resolve("r2"),
                    Restore.Options.defaults().withTimeline(2), new Restore.Listener() { }));
        }
    }

    /**
     * Timeline 1 with WAL past timeline 2's fork whose backups were all deleted by hand, while timeline 2 has its own:
     * timeline 1 is an ancestor, where no store writes any more (timeline 2 forks from it), so it is a note naming what
     * cannot be restored, not a problem nobody can fix; the default restore (timeline 2) runs.
     */
    @Test
    void timelineOneWithoutABackupOfItsOwnIsANoteOnceTimelineTwoForksFromIt() {
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            long[] b = twoBackups(a);
            assertEquals(2, promote(a, "tl2", 1, b[1] + 5, 30));
            try (Store s = Store.open(tmp.resolve("tl2"))) {
                backup(s, a);
            }
            for (long l : b) {
                for (ObjectInfo o : a.list(new ArchiveLayout.BackupName(1, l).dir(), null)) {
                    a.delete(o.key());
                }
            }
            ArchiveVerifier.Report r = verify(a, false);
            assertOk(r);
            assertTrue(r.notes().stream().anyMatch(n -> n.startsWith("timeline 1 has no usable base backup on it")
                    && n.contains("its WAL past LSN " + io.walship.wal.Lsn.format(b[1] + 5))
                    && n.contains("timeline 2 forks from it")), "notes: " + r.notes());
            assertThrows(RestoreException.class, () -> Restore.run(a, tmp.resolve("r1"),
                    Restore.Options.defaults().withTimeline(1), new Restore.Listener() { }));
            assertEquals(2, Restore.run(a, tmp.resolve("r2"), Restore.Options.defaults(), new Restore.Listener() { })
                    .timeline());
        }
    }

    /**
     * An ancestor without a backup is only a note, but not when the default restore follows it: timeline 2 is a
     * promoted copy never written (its backup taken, nothing shipped), timeline 1 goes on past its fork, so
     * {@code walship restore} follows timeline 1, and timeline 1's backups were deleted by hand. Verify plans the
     * default restore and reports that it cannot run, naming timeline 1 and what to do.
     */
    @Test
    void anAncestorTheDefaultRestoreFollowsIsAProblem() {
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            long[] b = twoBackups(a);
            assertEquals(2, promote(a, "tl2", 1, b[1] + 5, 0));
            try (Store s = Store.open(tmp.resolve("tl2"))) {
                backup(s, a);
            }
            for (long l : b) {
                for (ObjectInfo o : a.list(new ArchiveLayout.BackupName(1, l).dir(), null)) {
                    a.delete(o.key());
                }
            }
            RestoreException e = assertThrows(RestoreException.class, () -> Restore.run(a, tmp.resolve("r"),
                    Restore.Options.defaults(), new Restore.Listener() { }));
            assertTrue(e.getMessage().contains("no base backup on timeline 1"), "setup: " + e.getMessage());

            ArchiveVerifier.Report r = verify(a, true);
            assertEquals(List.of("unrestorable: wal/00000001/"), r.problems().stream()
                    .map(p -> p.kind() + ": " + p.object()).toList(), "" + r.problems());
            String d = r.problems().get(0).detail();
            assertTrue(d.startsWith("timeline 1, which walship restore follows without --timeline, cannot be restored")
                    && d.contains("walship backup") && !d.contains("\n"), d);
            assertTrue(r.notes().stream().anyMatch(n -> n.startsWith("timeline 1 has no usable base backup")), "" + r.notes());
        }
    }

    /**
     * While verify runs, timeline 2's only backup is replaced by a newer one (a backup, then a prune that knows
     * timeline 2 deleting the older): verify's listing has the old one, gone at its read, and not the new one. Listing
     * again finds it: a note to run verify again, not a timeline reported unrestorable.
     */
    @Test
    void aBackupReplacedWhileVerifyRunsIsANote() {
        try (ObjectStore inner = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            long[] b = twoBackups(inner);
            assertEquals(2, promote(inner, "tl2", 1, b[0] + 5, 30));
            long c1;
            try (Store s = Store.open(tmp.resolve("tl2"))) {
                c1 = backup(s, inner);
            }
            pruneTimelineOne(inner, b[0], b[1]);
            ArchiveLayout.BackupName old = new ArchiveLayout.BackupName(2, c1);
            java.util.concurrent.atomic.AtomicBoolean ran = new java.util.concurrent.atomic.AtomicBoolean();
            ObjectStore a = new io.walship.archive.ForwardingObjectStore(inner) {
                @Override
                public java.io.InputStream get(String key) {
                    if (key.equals(old.manifestKey()) && ran.compareAndSet(false, true)) {
                        try (Store s = Store.open(tmp.resolve("tl2"))) {
                            writes(s, "newer", 10);
                            backup(s, inner);
                        }
                        ship(tmp.resolve("tl2"), inner);
                        inner.delete(old.manifestKey());
                        for (ObjectInfo o : inner.list(old.dir(), null)) {
                            inner.delete(o.key());
                        }
                    }
                    return super.get(key);
                }
            };
            ArchiveVerifier.Report r = verify(a, false);
            assertTrue(ran.get());
            assertOk(r);
            assertTrue(r.notes().stream().anyMatch(n -> n.contains("timeline 2") && n.contains("run verify again")),
                    "notes: " + r.notes());
            assertOk(verify(inner, false));
        }
    }

    /** Timeline 1 with WAL and every base backup deleted: the archive-wide problem, said once. */
    @Test
    void timelineOneWithoutAnyBackupIsTheArchiveWideProblem() {
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            twoBackups(a);
            for (ObjectInfo o : a.list(ArchiveLayout.BACKUPS, null)) {
                a.delete(o.key());
            }
            ArchiveVerifier.Report r = verify(a, false);
            assertEquals(List.of(new ArchiveVerifier.Problem("missing", "backups/",
                    "the archive has no base backup: nothing can be restored")), r.problems());
        }
    }
}
