package io.walship.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ArchiveListing;
import io.walship.archive.BackupManifest;
import io.walship.archive.BackupPin;
import io.walship.archive.Codec;
import io.walship.archive.ForwardingObjectStore;
import io.walship.archive.ObjectInfo;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.StorageException;
import io.walship.restorer.ArchiveVerifier;
import io.walship.shipper.BaseBackup;
import io.walship.shipper.WalShipper;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of pin-rate: interleavings and failures of the pin/prune protocol that lose a pinned
 * backup, and a verify note that hides a gap pruning never made. Deterministic (the interleavings
 * are driven from store hooks on one thread), no sleeps, local archive.
 */
class PinRaceReviewTest {
    @TempDir
    Path tmp;

    private static void writes(Store s, String tag, int n) {
        for (int i = 0; i < n; i++) {
            s.put(("k" + (i % 20)).getBytes(StandardCharsets.UTF_8), (tag + i).getBytes(StandardCharsets.UTF_8));
        }
    }

    private List<ArchiveLayout.BackupName> threeBackups(ObjectStore a, int writesPerRound) {
        Path data = tmp.resolve("leader");
        List<ArchiveLayout.BackupName> names = new ArrayList<>();
        try (Store s = Store.open(data)) {
            for (int round = 0; round < 3; round++) {
                // ship in several steps so the WAL between two backups is several segments
                for (int step = 0; step < 3; step++) {
                    writes(s, "r" + round + "s" + step, writesPerRound / 3);
                    try (WalShipper w = new WalShipper(data, a, new WalShipper.Options(Codec.ZSTD, 4096))) {
                        w.shipOnce();
                    }
                }
                BackupManifest m;
                try (Snapshot snap = s.snapshot()) {
                    m = BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), a, Codec.ZSTD, x -> { });
                }
                names.add(new ArchiveLayout.BackupName(m.timeline(), Long.parseUnsignedLong(m.lsn(), 16)));
            }
            writes(s, "tail", 40);
            try (WalShipper w = new WalShipper(data, a, new WalShipper.Options(Codec.ZSTD, 4096))) {
                w.shipOnce();
            }
        }
        return names;
    }

    private ObjectStore open() {
        return ObjectStores.open("file://" + tmp.resolve("archive"));
    }

    /**
     * The documented race (a pin lands between the prune's pin check and its manifest delete), but
     * putting the manifest back fails once (a transient storage error). The pin reported PINNED, the
     * prune fails; the pinned backup is now image-without-manifest, i.e. an "orphan", and the next
     * prune a day later deletes its image although the pin is still there.
     */
    @Test
    void aFailedManifestPutBackLeavesThePinnedImageToTheNextPrune() {
        try (ObjectStore real = open()) {
            List<ArchiveLayout.BackupName> b = threeBackups(real, 60);
            ArchiveLayout.BackupName victim = b.get(0);
            Retention.Plan plan = Retention.plan(real, new Retention.Policy(1, null), Instant.now());
            List<String> outcome = new ArrayList<>();
            ObjectStore racing = new ForwardingObjectStore(real) {
                @Override
                public void delete(String key) {
                    if (key.equals(victim.manifestKey())) {
                        outcome.add(BackupPin.pin(real, victim, Instant.now()).name());
                    }
                    super.delete(key);
                }

                @Override
                public void create(String key, java.io.InputStream content) {
                    if (key.equals(victim.manifestKey())) {
                        throw new StorageException("injected: PUT " + key + " timed out");
                    }
                    super.create(key, content);
                }
            };
            assertThrows(StorageException.class, () -> Retention.apply(racing, plan, d -> { }, d -> { }));
            assertEquals(List.of("PINNED"), outcome, "the pin command reported success");
            assertTrue(real.head(victim.pinKey()).isPresent(), "the pin is still there");

            // the operator reruns prune (or the scheduler does, the next day)
            Retention.Plan next = Retention.plan(real, new Retention.Policy(1, null), Instant.now().plus(Duration.ofDays(2)));
            List<String> doomed = next.deletions().stream().map(Retention.Deletion::key)
                    .filter(k -> k.startsWith(victim.dir())).toList();
            assertTrue(doomed.isEmpty(), "a pinned backup's objects must never be deleted, but the next prune deletes "
                    + doomed);
        }
    }

    /**
     * Two pin commands and a prune. Prune checks for a pin (none); pin A sees the manifest and creates
     * the pin; pin B sees the manifest, finds A's pin and reports ALREADY_PINNED; the prune deletes the
     * manifest; A re-checks, finds no manifest, deletes "its" pin and fails; the prune looks again,
     * finds no pin and deletes the image. B told its operator the backup is pinned; it is gone.
     */
    @Test
    void aPinReportedAlreadyPinnedIsLostWhenTheOtherPinnerRollsBack() {
        try (ObjectStore real = open()) {
            List<ArchiveLayout.BackupName> b = threeBackups(real, 60);
            ArchiveLayout.BackupName victim = b.get(0);
            Retention.Plan plan = Retention.plan(real, new Retention.Policy(1, null), Instant.now());
            List<String> outcomes = new ArrayList<>();
            AtomicInteger manifestHeadsByA = new AtomicInteger();
            ObjectStore pinA = new ForwardingObjectStore(real) {
                @Override
                public void create(String key, java.io.InputStream content) {
                    super.create(key, content);
                    if (key.equals(victim.pinKey())) {
                        outcomes.add("B " + BackupPin.pin(real, victim, Instant.now()).name());
                    }
                }

                @Override
                public Optional<ObjectInfo> head(String key) {
                    if (key.equals(victim.manifestKey()) && manifestHeadsByA.incrementAndGet() == 2) {
                        real.delete(key); // the prune's delete of the manifest lands now
                    }
                    return super.head(key);
                }
            };
            ObjectStore prune = new ForwardingObjectStore(real) {
                boolean raced;

                @Override
                public void delete(String key) {
                    // (apply deletes the manifest a second time after deleteUnlessPinned: race on the first only)
                    if (key.equals(victim.manifestKey()) && !raced) {
                        raced = true;
                        try {
                            outcomes.add("A " + BackupPin.pin(pinA, victim, Instant.now()).name());
                        } catch (BackupPin.NoSuchBackupException e) {
                            outcomes.add("A failed");
                        }
                    }
                    super.delete(key);
                }
            };
            Retention.apply(prune, plan, d -> { }, d -> { });
            assertEquals(List.of("B ALREADY_PINNED", "A failed"), outcomes);
            assertTrue(ArchiveListing.of(real).backups().stream().anyMatch(x -> x.name().equals(victim)),
                    "pin B reported the backup pinned, yet it is gone: pin " + real.head(victim.pinKey()).isPresent()
                            + ", objects left " + real.list(victim.dir(), null));
        }
    }

    /**
     * Two prunes (the scheduler's retention job and an operator's archive prune) and a pin. Prune 1
     * finds no pin; then pin X lands and reports PINNED; prune 2 deletes the manifest, sees the pin and
     * puts the manifest back; prune 1's read of the manifest fell between prune 2's delete and its
     * put-back, so it takes the backup as deleted already, deletes the manifest (again: apply calls
     * delete after deleteUnlessPinned said "gone") with no further pin check, and then the image.
     * The interleaving is linearized on one thread: prune 1's GET takes effect at the moment it is
     * evaluated inside prune 2's put-back hook.
     */
    @Test
    void aPinReportedWhileTwoPrunesRunIsLost() {
        try (ObjectStore real = open()) {
            List<ArchiveLayout.BackupName> b = threeBackups(real, 60);
            ArchiveLayout.BackupName victim = b.get(0);
            Retention.Plan plan = Retention.plan(real, new Retention.Policy(1, null), Instant.now());
            List<String> outcomes = new ArrayList<>();
            java.util.concurrent.atomic.AtomicReference<RuntimeException> prune1Get = new java.util.concurrent.atomic.AtomicReference<>();
            java.util.concurrent.atomic.AtomicReference<byte[]> prune1Bytes = new java.util.concurrent.atomic.AtomicReference<>();
            ObjectStore prune2 = new ForwardingObjectStore(real) {
                boolean pinned;

                @Override
                public void delete(String key) {
                    if (key.equals(victim.manifestKey()) && !pinned) {
                        pinned = true;
                        outcomes.add("X " + BackupPin.pin(real, victim, Instant.now()).name());
                    }
                    super.delete(key);
                }

                @Override
                public void create(String key, java.io.InputStream content) {
                    if (key.equals(victim.manifestKey())) { // prune 2 puts the manifest back; prune 1's GET lands first
                        try (java.io.InputStream in = real.get(key)) {
                            prune1Bytes.set(in.readAllBytes());
                        } catch (io.walship.archive.ObjectNotFoundException e) {
                            prune1Get.set(e);
                        } catch (java.io.IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                    }
                    super.create(key, content);
                }
            };
            ObjectStore prune1 = new ForwardingObjectStore(real) {
                boolean raced;

                @Override
                public java.io.InputStream get(String key) {
                    if (key.equals(victim.manifestKey()) && !raced) {
                        raced = true;
                        Retention.apply(prune2, plan, d -> { }, d -> outcomes.add("prune 2 spared " + d));
                        if (prune1Get.get() != null) {
                            throw prune1Get.get();
                        }
                        return new java.io.ByteArrayInputStream(prune1Bytes.get());
                    }
                    return super.get(key);
                }
            };
            Retention.apply(prune1, plan, d -> { }, d -> outcomes.add("prune 1 spared " + d));
            assertEquals(List.of("X PINNED", "prune 2 spared " + victim.dir()), outcomes);
            assertTrue(real.head(victim.pinKey()).isPresent(), "the pin is there");
            assertTrue(ArchiveListing.of(real).backups().stream().anyMatch(x -> x.name().equals(victim)),
                    "pin X reported PINNED, yet the backup is gone: objects left " + real.list(victim.dir(), null));
            assertTrue(ArchiveVerifier.verify(real, 2, false, m -> { }).ok(), "and whole");
        }
    }

    /**
     * A WAL segment lost in the middle of WAL that was never pruned (the WAL right after the pinned
     * backup and right after the gap is still there, so this gap is not retention's doing). Without
     * the pin, verify reports the gap (exit 3); with the pin it is only a note and verify is ok.
     */
    @Test
    void verifyStillReportsALostSegmentAfterAPinnedBackupThatPruningDidNotMake() {
        try (ObjectStore a = open()) {
            List<ArchiveLayout.BackupName> b = threeBackups(a, 300);
            ArchiveLayout.BackupName pinned = b.get(0);
            ArchiveLayout.BackupName next = b.get(1);
            List<ArchiveListing.SegmentInfo> between = ArchiveListing.of(a).segments(pinned.timeline()).stream()
                    .filter(s -> s.name().firstLsn() > pinned.lsn() + 1 && s.name().lastLsn() < next.lsn()).toList();
            assertTrue(between.size() >= 1, "setup: a segment strictly inside the WAL between two backups, segments "
                    + ArchiveListing.of(a).segments(pinned.timeline()).stream().map(s -> s.name().key()).toList()
                    + " backups " + b);
            String lost = between.get(between.size() / 2).name().key();
            a.delete(lost);
            assertFalse(ArchiveVerifier.verify(a, 2, false, m -> { }).ok(), "unpinned: the lost segment is a gap");

            assertEquals(BackupPin.Outcome.PINNED, BackupPin.pin(a, pinned, Instant.now()));
            ArchiveVerifier.Report r = ArchiveVerifier.verify(a, 2, false, m -> { });
            assertFalse(r.ok(), "pinning a backup must not turn a lost segment (" + lost + ") into a note: " + r.notes());
        }
    }

    /**
     * The WAL segment right after a pinned backup is lost (deleted by hand, a bucket lifecycle rule),
     * while the segments before the pinned backup and all WAL after the lost one are still there. Pruning
     * deletes WAL oldest first, so it never leaves older WAL behind a gap it made: this gap is a loss, and
     * the policy may well keep the pinned backup (and promise its WAL) anyway. Because the gap starts at
     * backup.lsn+1 and a newer backup exists, verify calls it "pruned" and is ok.
     */
    @Test
    void verifyReportsALostSegmentRightAfterAPinnedBackupWhenOlderWalIsStillThere() {
        try (ObjectStore a = open()) {
            List<ArchiveLayout.BackupName> b = threeBackups(a, 300);
            ArchiveLayout.BackupName pinned = b.get(0);
            ArchiveLayout.BackupName next = b.get(1);
            List<ArchiveListing.SegmentInfo> segs = ArchiveListing.of(a).segments(pinned.timeline());
            List<ArchiveListing.SegmentInfo> first = segs.stream()
                    .filter(s -> s.name().firstLsn() <= pinned.lsn() + 1 && s.name().lastLsn() >= pinned.lsn() + 1
                            && s.name().lastLsn() < next.lsn())
                    .toList();
            assertEquals(1, first.size(), "setup: one segment holds backup.lsn+1 and ends before the next backup, segments "
                    + segs.stream().map(s -> s.name().key()).toList() + " backups " + b);
            assertTrue(segs.stream().anyMatch(s -> s.name().lastLsn() <= pinned.lsn()),
                    "setup: WAL older than the pinned backup is still there (nothing was ever pruned)");
            String lost = first.get(0).name().key();
            a.delete(lost);
            assertFalse(ArchiveVerifier.verify(a, 2, false, m -> { }).ok(), "unpinned: the lost segment is a gap");

            assertEquals(BackupPin.Outcome.PINNED, BackupPin.pin(a, pinned, Instant.now()));
            ArchiveVerifier.Report r = ArchiveVerifier.verify(a, 2, false, m -> { });
            assertFalse(r.ok(), "a lost segment (" + lost + ") right after a pinned backup, with older WAL still"
                    + " there, is not pruning's doing, but verify only notes it: " + r.notes());
        }
    }
}
