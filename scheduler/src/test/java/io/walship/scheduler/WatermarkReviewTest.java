package io.walship.scheduler;

import static io.walship.scheduler.PinnedRetentionTest.backup;
import static io.walship.scheduler.PinnedRetentionTest.ship;
import static io.walship.scheduler.PinnedRetentionTest.writes;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ArchiveListing;
import io.walship.archive.BackupManifest;
import io.walship.archive.BackupPin;
import io.walship.archive.ForwardingObjectStore;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.restorer.ArchiveVerifier;
import io.walship.restorer.Restore;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Review of branch pruned-wm (retention watermarks): each test shows one defect and fails on that branch. */
class WatermarkReviewTest {
    @TempDir
    Path tmp;

    private ObjectStore open() {
        return ObjectStores.open("file://" + tmp.resolve("archive"));
    }

    /** Three rounds of 60 writes + a backup, then 40 more writes; all shipped. Backup names oldest first. */
    private List<ArchiveLayout.BackupName> threeBackups(ObjectStore a) {
        List<ArchiveLayout.BackupName> names = new ArrayList<>();
        Path data = tmp.resolve("leader");
        try (Store s = Store.open(data)) {
            for (int round = 0; round < 3; round++) {
                writes(s, "r" + round, 60);
                ship(data, a);
                BackupManifest m = backup(s, a);
                names.add(new ArchiveLayout.BackupName(m.timeline(), Long.parseUnsignedLong(m.lsn(), 16)));
            }
            writes(s, "tail", 40);
            ship(data, a);
        }
        return names;
    }

    /**
     * A promotion after a normal prune turns the pruned stretch after a pinned backup into a false exit 3.
     * The watermark is per timeline and only a prune writes it, so a timeline born after the last prune has
     * none; its path still runs through the parent's pruned WAL after the pinned backup (the backup sits on the
     * parent below the fork, so it is on the new timeline's path too). Verify judges that gap by the new
     * timeline's watermark (none, 0) and reports a loss until the next prune, although nothing changed in the
     * WAL and timeline 1's own path is clean. (The pruned-WAL records of main were keyed by backup and WAL, so
     * they excused the gap on every path.)
     */
    @Test
    void aPromotionAfterAPruneWithAPinnedBackupIsNoFalseAlarm() {
        try (ObjectStore a = open()) {
            ArchiveLayout.BackupName oldest = threeBackups(a).get(0);
            assertEquals(BackupPin.Outcome.PINNED, BackupPin.pin(a, oldest, Instant.now()));
            Retention.apply(a, Retention.plan(a, new Retention.Policy(1, null), Instant.now()), d -> { });
            ArchiveVerifier.Report before = ArchiveVerifier.verify(a, 2, false, m -> { });
            assertTrue(before.ok(), "setup: clean after the prune: " + before.problems());

            Path promoted = tmp.resolve("promoted");
            Restore.run(a, promoted, Restore.Options.defaults().withPromote(true), new Restore.Listener() { });
            try (Store s = Store.open(promoted)) {
                writes(s, "t2", 60);
                ship(promoted, a);
            }
            assertTrue(ArchiveListing.of(a).timelines().contains(2), "setup: timeline 2 is archived");

            ArchiveVerifier.Report report = ArchiveVerifier.verify(a, 2, false, m -> { });
            assertTrue(report.ok(), "a promotion lost no WAL, yet: " + report.problems());
        }
    }

    /**
     * The same promotion, seen by a point-in-time restore of timeline 2 into timeline 1's pruned stretch (after the
     * pinned backup, below the fork): the error says pruned by retention (timeline 1's watermark, on the stretch
     * both paths share), not missing from the archive.
     */
    @Test
    void aPitrIntoTheSharedPrunedStretchOfAPromotedTimelineSaysPruned() {
        try (ObjectStore a = open()) {
            ArchiveLayout.BackupName oldest = threeBackups(a).get(0);
            assertEquals(BackupPin.Outcome.PINNED, BackupPin.pin(a, oldest, Instant.now()));
            Retention.apply(a, Retention.plan(a, new Retention.Policy(1, null), Instant.now()), d -> { });
            Path promoted = tmp.resolve("promoted");
            Restore.run(a, promoted, Restore.Options.defaults().withPromote(true), new Restore.Listener() { });
            try (Store s = Store.open(promoted)) {
                writes(s, "t2", 60);
                ship(promoted, a);
            }
            io.walship.restorer.RestoreException e = org.junit.jupiter.api.Assertions.assertThrows(
                    io.walship.restorer.RestoreException.class, () -> Restore.run(a, tmp.resolve("pitr"),
                            Restore.Options.defaults().withTimeline(2).withTarget(
                                    io.walship.restorer.RestoreTarget.lsn(oldest.lsn() + 5, false)),
                            new Restore.Listener() { }));
            assertTrue(e.getMessage().contains("was pruned by retention (this stretch of timeline 2's path, shared with"
                    + " another timeline"), e.getMessage());
        }
    }

    /**
     * A prune running while verify reads the base backups: the backup the prune deletes (listed by verify a
     * moment before) is reported "missing" (exit 3), or verify dies re-reading its manifest. docs/OPERATIONS.md
     * says "a prune running at the same time is not taken for a loss"; the new ordering only covers WAL.
     */
    @Test
    void aPruneWhileVerifyReadsTheBackupsIsNoFalseAlarm() {
        try (ObjectStore a = open()) {
            List<ArchiveLayout.BackupName> b = threeBackups(a);
            AtomicBoolean done = new AtomicBoolean();
            ObjectStore racing = new ForwardingObjectStore(a) {
                @Override
                public java.io.InputStream get(String key) {
                    if (key.startsWith(ArchiveLayout.BACKUPS) && done.compareAndSet(false, true)) {
                        Retention.apply(a, Retention.plan(a, new Retention.Policy(1, null), Instant.now()), d -> { });
                    }
                    return super.get(key);
                }
            };
            ArchiveVerifier.Report report = ArchiveVerifier.verify(racing, 1, false, m -> { });
            assertTrue(done.get(), "setup: the prune ran inside verify");
            assertTrue(a.head(b.get(0).manifestKey()).isEmpty(), "setup: the prune deleted the oldest backup");
            assertTrue(report.ok(), "a prune while verify ran is no loss: " + report.problems());
        }
    }

    /**
     * A prune trusts a corrupt watermark by its key. Verify says a corrupt watermark "excuses nothing", but the
     * plan takes the highest watermark from key names alone: with a corrupt one above its window start it makes
     * no watermark of its own and deletes the sound lower one as "superseded". The WAL retention deleted is then
     * covered by no sound watermark: once the corrupt object is removed (the only remedy for exit 3 "corrupt"),
     * every pruned gap is reported as a loss. The sound watermark must survive until a sound higher one exists.
     */
    @Test
    void aCorruptWatermarkDoesNotSupersedeTheSoundOne() {
        try (ObjectStore a = open()) {
            ArchiveLayout.BackupName oldest = threeBackups(a).get(0);
            assertEquals(BackupPin.Outcome.PINNED, BackupPin.pin(a, oldest, Instant.now()));
            Retention.Policy keep1 = new Retention.Policy(1, null);
            Retention.apply(a, Retention.plan(a, keep1, Instant.now()), d -> { });
            long sound = io.walship.archive.RetentionWatermark.scan(a).windowStart(1);
            assertTrue(sound > oldest.lsn() + 1, "setup: a sound watermark above the pinned backup");
            String corrupt = new ArchiveLayout.WatermarkName(1, sound + 1).key();
            a.create(corrupt, new java.io.ByteArrayInputStream("not json".getBytes(StandardCharsets.UTF_8)));

            Retention.apply(a, Retention.plan(a, keep1, Instant.now()), d -> { });
            assertEquals(sound, io.walship.archive.RetentionWatermark.scan(a).windowStart(1),
                    "the sound watermark is gone, superseded by a corrupt one: " + io.walship.archive.RetentionWatermark.listNames(a));
        }
    }

    /**
     * Verify's new "deleted while verify ran" note breaks its own equivalence with a deletion before the listing.
     * Deleted before the listing, the archive's only base backup gives exit 3 ("the archive has no base backup:
     * nothing can be restored"). Deleted while verify reads it (by hand, or a buggy run; a prune never deletes the
     * newest backup), it is a note and the report is OK (exit 0) although nothing can be restored: the "no base
     * backup" check looks at the listing, not at the backups that turned out to be there.
     */
    @Test
    void theOnlyBackupDeletedWhileVerifyRanIsNotOk() {
        try (ObjectStore a = open()) {
            Path data = tmp.resolve("leader");
            ArchiveLayout.BackupName only;
            try (Store s = Store.open(data)) {
                writes(s, "r", 60);
                ship(data, a);
                BackupManifest m = backup(s, a);
                only = new ArchiveLayout.BackupName(m.timeline(), Long.parseUnsignedLong(m.lsn(), 16));
                writes(s, "tail", 40);
                ship(data, a);
            }
            AtomicBoolean done = new AtomicBoolean();
            ObjectStore racing = new ForwardingObjectStore(a) {
                @Override
                public java.io.InputStream get(String key) {
                    if (key.equals(only.manifestKey()) && done.compareAndSet(false, true)) {
                        a.delete(key);
                    }
                    return super.get(key);
                }
            };
            ArchiveVerifier.Report report = ArchiveVerifier.verify(racing, 1, false, m -> { });
            assertTrue(done.get(), "setup: the manifest was deleted inside verify");
            ArchiveVerifier.Report after = ArchiveVerifier.verify(a, 1, false, m -> { });
            assertTrue(!after.ok(), "setup: verify after the deletion fails: " + after.notes());
            assertTrue(!report.ok(), "the only base backup is gone, nothing can be restored, yet verify is OK; notes: "
                    + report.notes());
        }
    }

    /**
     * The other side of the test above: a prune never deletes the last backup it sees, so when every backup verify
     * listed is deleted while it runs, a newer one taken after its listing is there (keep-backups 1: the scheduler's
     * backup, then its prune, while a CLI verify reads the old one). That is a healthy archive, not "no base backup".
     */
    @Test
    void aPruneThatRotatedTheOnlyListedBackupWhileVerifyRanIsNoFalseAlarm() {
        try (ObjectStore a = open()) {
            Path data = tmp.resolve("leader");
            try (Store s = Store.open(data)) {
                writes(s, "r", 60);
                ship(data, a);
                BackupManifest m = backup(s, a);
                ArchiveLayout.BackupName old = new ArchiveLayout.BackupName(m.timeline(), Long.parseUnsignedLong(m.lsn(), 16));
                writes(s, "more", 40);
                ship(data, a);
                AtomicBoolean done = new AtomicBoolean();
                ObjectStore racing = new ForwardingObjectStore(a) {
                    @Override
                    public java.io.InputStream get(String key) {
                        if (key.equals(old.manifestKey()) && done.compareAndSet(false, true)) {
                            backup(s, a); // the newer backup, after verify's listing
                            a.delete(key); // then retention deletes the old one, its manifest first
                        }
                        return super.get(key);
                    }
                };
                ArchiveVerifier.Report report = ArchiveVerifier.verify(racing, 1, false, x -> { });
                assertTrue(done.get(), "setup: the rotation ran inside verify");
                assertTrue(report.ok(), "a newer backup exists, yet: " + report.problems() + "; notes " + report.notes());
                assertTrue(report.notes().stream().anyMatch(n -> n.contains("was not checked")), "notes: " + report.notes());
            }
        }
    }

    /**
     * A manifest not found at verify's read but there again at its HEAD is a false "missing" (exit 3). That is what
     * a prune racing a pin does: it deletes the manifest, sees the pin, and puts the same bytes back (Retention's
     * put-back). The backup exists before and after; verify must read it again rather than report a loss. (The get
     * below fails once with "not found" while the object stays: the delete and the put-back between verify's GET and
     * its HEAD.)
     */
    @Test
    void aManifestPutBackForAPinWhileVerifyReadsItIsNoFalseAlarm() {
        try (ObjectStore a = open()) {
            List<ArchiveLayout.BackupName> b = threeBackups(a);
            String key = b.get(0).manifestKey();
            AtomicBoolean done = new AtomicBoolean();
            ObjectStore racing = new ForwardingObjectStore(a) {
                @Override
                public java.io.InputStream get(String k) {
                    if (k.equals(key) && done.compareAndSet(false, true)) {
                        throw new io.walship.archive.ObjectNotFoundException(k);
                    }
                    return super.get(k);
                }
            };
            ArchiveVerifier.Report report = ArchiveVerifier.verify(racing, 1, false, m -> { });
            assertTrue(done.get(), "setup: the manifest was not found once");
            assertTrue(a.head(key).isPresent(), "setup: the manifest is there");
            assertTrue(report.ok(), "a manifest put back while verify read it is no loss: " + report.problems());
        }
    }

    /**
     * The corrupt-watermark fix (830b4c6) comes back through scan's "deleted since the listing counts by its key":
     * the operator's remedy for a corrupt watermark is to delete it, and if that happens between a prune's listing of
     * retention/ and its read, the corrupt key counts as sound. The plan then makes no watermark of its own (one "at
     * least as high" is there) and deletes the sound one as superseded by it, so timeline 1 is left with no
     * watermark at all and the pinned backup's pruned stretch is a false exit 3. Only a prune deletes a sound
     * watermark, and only once a higher one exists; a corrupt one is deleted by hand, with nothing higher.
     */
    @Test
    void aCorruptWatermarkDeletedByHandDuringAPruneDoesNotSupersedeTheSoundOne() {
        try (ObjectStore a = open()) {
            ArchiveLayout.BackupName oldest = threeBackups(a).get(0);
            assertEquals(BackupPin.Outcome.PINNED, BackupPin.pin(a, oldest, Instant.now()));
            Retention.Policy keep1 = new Retention.Policy(1, null);
            Retention.apply(a, Retention.plan(a, keep1, Instant.now()), d -> { });
            long sound = io.walship.archive.RetentionWatermark.scan(a).windowStart(1);
            assertTrue(sound > oldest.lsn() + 1, "setup: a sound watermark above the pinned backup");
            String corrupt = new ArchiveLayout.WatermarkName(1, sound + 1).key();
            a.create(corrupt, new java.io.ByteArrayInputStream("not json".getBytes(StandardCharsets.UTF_8)));

            AtomicBoolean removed = new AtomicBoolean();
            ObjectStore operator = new ForwardingObjectStore(a) {
                @Override
                public java.io.InputStream get(String key) {
                    if (key.equals(corrupt) && removed.compareAndSet(false, true)) {
                        a.delete(key); // the operator removes the corrupt object verify reported
                    }
                    return super.get(key);
                }
            };
            Retention.apply(operator, Retention.plan(operator, keep1, Instant.now()), d -> { });
            assertTrue(removed.get(), "setup: the corrupt watermark was deleted during the prune's scan");
            assertEquals(sound, io.walship.archive.RetentionWatermark.scan(a).windowStart(1),
                    "timeline 1 has no sound watermark left: " + io.walship.archive.RetentionWatermark.listNames(a));
            ArchiveVerifier.Report report = ArchiveVerifier.verify(a, 2, false, m -> { });
            assertTrue(report.ok(), "nothing was lost, yet: " + report.problems());
        }
    }
}
