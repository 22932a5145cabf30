package io.walship.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
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
import io.walship.archive.ObjectInfo;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.S3ObjectStore;
import io.walship.archive.StorageException;
import io.walship.archive.TestS3Server;
import io.walship.restorer.ArchiveVerifier;
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
 * Adversarial review of the pruned-WAL records (commits 573af9e..51d93e9, merged in 7a40286): verify must
 * not call a real loss a prune, nor a prune a loss. Each test here names the defect it shows.
 */
class PrunedRecordReviewTest {
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
                : new S3ObjectStore(s3.newArchive("walship-pruned-review", "p-" + UUID.randomUUID()));
    }

    private static void writes(Store s, String tag, int n) {
        for (int i = 0; i < n; i++) {
            s.put(("k" + (i % 20)).getBytes(StandardCharsets.UTF_8), (tag + i).getBytes(StandardCharsets.UTF_8));
        }
    }

    /** Three rounds of 60 writes, shipped, then a backup; then 40 more writes, shipped. Names oldest first. */
    private List<ArchiveLayout.BackupName> threeBackups(ObjectStore a) {
        List<ArchiveLayout.BackupName> names = new ArrayList<>();
        try (Store s = Store.open(tmp.resolve("leader"))) {
            for (int round = 0; round < 3; round++) {
                writes(s, "r" + round, 60);
                ship(s.dir(), a);
                try (Snapshot snap = s.snapshot()) {
                    BackupManifest m = BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), a, Codec.ZSTD,
                            x -> { });
                    names.add(new ArchiveLayout.BackupName(m.timeline(), Long.parseUnsignedLong(m.lsn(), 16)));
                }
            }
            writes(s, "tail", 40);
            ship(s.dir(), a);
        }
        return names;
    }

    private static void ship(Path data, ObjectStore a) {
        try (WalShipper w = new WalShipper(data, a, new WalShipper.Options(Codec.ZSTD, 4096))) {
            w.shipOnce();
        }
    }

    private static ArchiveLayout.SegmentName firstSegmentAfter(ObjectStore a, ArchiveLayout.BackupName b) {
        return ArchiveListing.of(a).segments(b.timeline()).stream().map(ArchiveListing.SegmentInfo::name)
                .filter(s -> s.firstLsn() == b.lsn() + 1).findFirst()
                .orElseThrow(() -> new AssertionError("no segment starts right after " + b.dir()));
    }

    /**
     * Defect: verify passes a gap after a pinned backup as pruned on the strength of a record's KEY alone; it
     * never reads the record (PrunedWal.read is unused), though docs/FORMAT.md says a record whose content
     * does not say what its key says is a corrupt object. A corrupt (here: unparseable) record covering a
     * gap therefore turns that gap into a note and verify exits 0: the corrupt object is not reported, and
     * nothing vouches that retention made the record. Expected: the record is reported as corrupt (exit 3).
     */
    @ParameterizedTest
    @MethodSource("stores")
    void aCorruptRecordIsReportedNotTrusted(String kind) {
        try (ObjectStore a = open(kind)) {
            List<ArchiveLayout.BackupName> b = threeBackups(a);
            ArchiveLayout.BackupName oldest = b.get(0);
            assertEquals(BackupPin.Outcome.PINNED, BackupPin.pin(a, oldest, Instant.now()));
            Retention.apply(a, Retention.plan(a, new Retention.Policy(1, null), Instant.now()), d -> { });
            assertTrue(ArchiveVerifier.verify(a, 2, false, m -> { }).ok(), "a normal prune is clean");

            List<String> records = a.list(ArchiveLayout.PRUNED, null).stream().map(ObjectInfo::key).toList();
            assertFalse(records.isEmpty(), "the prune recorded the WAL it deleted after the pinned backup");
            String victim = records.get(0);
            a.delete(victim);
            a.create(victim, new ByteArrayInputStream("{ this is not a pruned-WAL record".getBytes(StandardCharsets.UTF_8)));

            ArchiveVerifier.Report report = ArchiveVerifier.verify(a, 2, false, m -> { });
            assertFalse(report.ok(), "a corrupt record must be reported, not trusted by its key: problems "
                    + report.problems() + ", notes " + report.notes());
            assertTrue(report.problems().stream().anyMatch(p -> p.object().contains(victim)),
                    "the problem names the record: " + report.problems());
        }
    }

    /**
     * Defect: a record is made before the delete and stays as long as its backup, whether or not the delete
     * happened. A prune interrupted before it deleted a segment after the pinned backup leaves a record of a
     * segment that is still there. When the policy is then widened (the pinned backup is now kept by the
     * policy too, so the WAL after it is needed for point-in-time restore), the next prune deletes nothing and
     * leaves the stale record. If that segment is then really lost (deleted by hand, a bucket lifecycle rule),
     * verify calls the loss "pruned" and exits 0. Expected: the gap is a problem (exit 3). Suggested fix: a
     * prune deletes each record whose segment is still listed and is not among its own deletions.
     */
    @ParameterizedTest
    @MethodSource("stores")
    void aStaleRecordOfAnInterruptedPruneDoesNotHideALaterLoss(String kind) {
        try (ObjectStore a = open(kind)) {
            List<ArchiveLayout.BackupName> b = threeBackups(a);
            ArchiveLayout.BackupName oldest = b.get(0);
            assertEquals(BackupPin.Outcome.PINNED, BackupPin.pin(a, oldest, Instant.now()));
            Retention.Plan plan = Retention.plan(a, new Retention.Policy(1, null), Instant.now());
            assertFalse(plan.records().isEmpty(), plan.toString());
            StorageException outage = new StorageException("the store went away before the first WAL delete");
            ObjectStore failing = new ForwardingObjectStore(a) {
                @Override
                public void delete(String key) {
                    if (key.startsWith(ArchiveLayout.WAL)) {
                        throw outage;
                    }
                    super.delete(key);
                }
            };
            assertEquals(outage, assertThrows(StorageException.class, () -> Retention.apply(failing, plan, d -> { })));
            ArchiveLayout.SegmentName lost = firstSegmentAfter(a, oldest);
            assertTrue(a.head(new ArchiveLayout.PrunedName(oldest, lost).key()).isPresent(),
                    "the interrupted prune recorded a segment it did not delete");

            // the operator widens the policy: the pinned backup is kept by the policy too, its WAL is needed
            Retention.Plan wider = Retention.plan(a, new Retention.Policy(3, null), Instant.now());
            assertTrue(wider.keptBackups().contains(oldest.dir()), wider.keptBackups().toString());
            assertTrue(wider.deletions().stream().noneMatch(d -> d.key().equals(lost.key())), "the WAL is needed now");
            Retention.apply(a, wider, d -> { });
            assertTrue(ArchiveVerifier.verify(a, 2, false, m -> { }).ok());

            a.delete(lost.key()); // a real loss: no prune deleted it
            ArchiveVerifier.Report report = ArchiveVerifier.verify(a, 2, false, m -> { });
            assertFalse(report.ok(), "a segment lost after retention decided to keep it is a loss, not a prune: notes "
                    + report.notes());
        }
    }

    /**
     * Defect: verify accepts a backup's records only while the backup is pinned. Unpinning a backup whose WAL
     * a prune deleted (with records) makes verify report that very pruned stretch as a gap, exit 3, on a
     * healthy archive, until a later prune deletes the backup (the scheduler's retention may be a day away;
     * and if the policy keeps the backup, for good). The records still prove retention deleted it.
     * Expected: still a note, verify ok. Suggested fix: in prunedAfterPin, records of {@code b} covering the
     * gap suffice whether or not {@code b} is pinned now (records are only made while it is).
     */
    @ParameterizedTest
    @MethodSource("stores")
    void unpinningABackupWhoseWalWasPrunedIsNoIntegrityProblem(String kind) {
        try (ObjectStore a = open(kind)) {
            List<ArchiveLayout.BackupName> b = threeBackups(a);
            ArchiveLayout.BackupName oldest = b.get(0);
            assertEquals(BackupPin.Outcome.PINNED, BackupPin.pin(a, oldest, Instant.now()));
            Retention.apply(a, Retention.plan(a, new Retention.Policy(1, null), Instant.now()), d -> { });
            assertTrue(ArchiveVerifier.verify(a, 2, false, m -> { }).ok());

            assertTrue(BackupPin.unpin(a, oldest));
            ArchiveVerifier.Report report = ArchiveVerifier.verify(a, 2, false, m -> { });
            assertTrue(report.ok(), "nothing was lost, retention recorded what it pruned: " + report.problems());
        }
    }

    /**
     * Defect (narrow, two prunes at once): a prune decides at plan time that a backup is gone (no manifest,
     * no pin) and deletes its records last, minutes later, without looking again. Another prune can be
     * between deleting that backup's manifest and putting it back for a pin that appeared meanwhile (the
     * documented put-back race): the first prune's listing sees neither manifest nor pin, then the pin and the
     * manifest are back, and it deletes the records of a pinned backup that exists. Verify then reports the
     * WAL pruned after it as lost, exit 3, on a healthy archive, and nothing ever makes the records again.
     * Here the other prune's window is reproduced by the state it leaves: the manifest and pin are removed
     * before the plan and back before the apply. Suggested fix: before deleting a record, check again
     * (head) that its backup has neither manifest nor pin, as for a backup's own objects.
     */
    @ParameterizedTest
    @MethodSource("stores")
    void aPruneDoesNotDeleteTheRecordsOfABackupThatIsBackByTheTimeItDeletesThem(String kind) {
        try (ObjectStore a = open(kind)) {
            List<ArchiveLayout.BackupName> b = threeBackups(a);
            ArchiveLayout.BackupName oldest = b.get(0);
            assertEquals(BackupPin.Outcome.PINNED, BackupPin.pin(a, oldest, Instant.now()));
            Retention.Policy keep1 = new Retention.Policy(1, null);
            Retention.apply(a, Retention.plan(a, keep1, Instant.now()), d -> { });
            assertTrue(ArchiveVerifier.verify(a, 2, false, m -> { }).ok());
            byte[] manifest = readAll(a, oldest.manifestKey());
            byte[] pin = readAll(a, oldest.pinKey());

            // another prune's window: it deleted the manifest (the backup was unpinned), a pin is on its way
            a.delete(oldest.pinKey());
            a.delete(oldest.manifestKey());
            Retention.Plan plan = Retention.plan(a, keep1, Instant.now());
            // the pin lands, the other prune puts the manifest back (same bytes)
            a.create(oldest.pinKey(), new ByteArrayInputStream(pin));
            a.create(oldest.manifestKey(), new ByteArrayInputStream(manifest));
            assertTrue(ArchiveVerifier.verify(a, 2, false, m -> { }).ok(), "the backup is back, pinned, its records too");

            Retention.apply(a, plan, d -> { });
            assertTrue(ArchiveListing.of(a).backups().stream().anyMatch(x -> x.name().equals(oldest)), "still there");
            ArchiveVerifier.Report report = ArchiveVerifier.verify(a, 2, false, m -> { });
            assertTrue(report.ok(), "the records of a pinned backup that exists must stay: " + report.problems());
        }
    }

    private static byte[] readAll(ObjectStore a, String key) {
        try (java.io.InputStream in = a.get(key)) {
            return in.readAllBytes();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * Not a defect found (coverage the merge lacked): a backup the plan deletes that is pinned while the prune
     * runs is kept, the WAL after it is deleted with records made first, and verify is clean.
     */
    @ParameterizedTest
    @MethodSource("stores")
    void aBackupPinnedWhileAPruneRunsGetsItsRecords(String kind) {
        try (ObjectStore a = open(kind)) {
            List<ArchiveLayout.BackupName> b = threeBackups(a);
            ArchiveLayout.BackupName oldest = b.get(0);
            Retention.Plan plan = Retention.plan(a, new Retention.Policy(1, null), Instant.now());
            assertTrue(plan.records().isEmpty(), "nothing pinned yet");
            assertTrue(plan.recordsIfPinned().containsKey(oldest), plan.recordsIfPinned().toString());
            boolean[] pinned = {false};
            ObjectStore pinning = new ForwardingObjectStore(a) {
                @Override
                public java.util.Optional<ObjectInfo> head(String key) {
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
            for (ArchiveLayout.PrunedName r : plan.recordsIfPinned().get(oldest)) {
                assertTrue(a.head(r.key()).isPresent(), "recorded before its WAL went: " + r.key());
                assertTrue(a.head(r.wal().key()).isEmpty(), "and that WAL went: " + r.wal().key());
            }
            ArchiveVerifier.Report report = ArchiveVerifier.verify(a, 2, false, m -> { });
            assertTrue(report.ok(), report.problems().toString());
            assertTrue(report.notes().stream().anyMatch(n -> n.contains("pinned base backup " + oldest.dir())),
                    report.notes().toString());
        }
    }
}
