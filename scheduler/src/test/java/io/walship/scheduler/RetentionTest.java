package io.walship.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import io.walship.archive.ArchiveListing;
import io.walship.archive.Codec;
import io.walship.archive.ObjectInfo;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.restorer.ArchiveVerifier;
import io.walship.restorer.Restore;
import io.walship.restorer.RestoreTarget;
import io.walship.shipper.BaseBackup;
import io.walship.shipper.WalShipper;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RetentionTest {
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

    private static Set<String> keys(ObjectStore a) {
        return a.list("", null).stream().map(ObjectInfo::key).collect(Collectors.toSet());
    }

    @Test
    void keepsTheNewestBackupsAndTheWalTheyNeedAndPitrStillWorks() {
        Path data = tmp.resolve("leader");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            List<Long> backups = new ArrayList<>();
            StateDigest atSecond;
            try (Store s = Store.open(data)) {
                for (int round = 0; round < 3; round++) {
                    writes(s, "r" + round, 60);
                    ship(data, a);
                    backups.add(backup(s, a));
                }
                writes(s, "tail", 40);
                ship(data, a);
            }
            Set<String> before = keys(a);
            Retention.Plan dry = Retention.plan(a, new Retention.Policy(2, null), Instant.now());
            assertEquals(before, keys(a), "planning deletes nothing");
            assertEquals(2, dry.keptBackups().size(), dry.keptBackups().toString());
            assertTrue(dry.deletions().stream().anyMatch(d -> d.key().contains(String.format("%016X", backups.get(0)))));
            for (Retention.Deletion d : dry.deletions()) {
                if (d.key().startsWith("wal/")) {
                    long last = Long.parseUnsignedLong(d.key().substring(d.key().length() - 20, d.key().length() - 4), 16);
                    assertTrue(last <= backups.get(1), "deleted WAL " + d.key() + " is needed after the backup at "
                            + backups.get(1));
                }
            }
            // interrupted half way, then rerun: same end state
            Retention.Plan plan = Retention.plan(a, new Retention.Policy(2, null), Instant.now());
            for (int i = 0; i < plan.deletions().size() / 2; i++) {
                a.delete(plan.deletions().get(i).key());
            }
            Retention.apply(a, Retention.plan(a, new Retention.Policy(2, null), Instant.now()), d -> { });
            assertTrue(Retention.plan(a, new Retention.Policy(2, null), Instant.now()).deletions().isEmpty(), "nothing left");
            ArchiveListing l = ArchiveListing.of(a);
            assertEquals(2, l.backups().size());
            assertTrue(ArchiveVerifier.verify(a, 2, false, m -> { }).ok(), "the pruned archive verifies");
            // PITR from the oldest retained backup: one LSN after it
            Restore.Result r = Restore.run(a, tmp.resolve("pitr"), Restore.Options.defaults()
                    .withTarget(RestoreTarget.lsn(backups.get(1) + 1, false)), new Restore.Listener() { });
            assertEquals(backups.get(1), r.backupLsn());
            assertEquals(backups.get(1) + 1, r.lsn());
        }
    }

    @Test
    void withoutAnyBackupNoWalIsDeleted() {
        Path data = tmp.resolve("leader");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            try (Store s = Store.open(data)) {
                writes(s, "x", 200);
            }
            ship(data, a);
            assertTrue(ArchiveListing.of(a).segments(1).size() > 1);
            Retention.Plan plan = Retention.plan(a, new Retention.Policy(1, null), Instant.now());
            assertTrue(plan.deletions().isEmpty(), "a backup may be uploading; its WAL must stay: " + plan.deletions());
        }
    }

    @Test
    void aNewTimelineKeepsTheBackupAndWalItGrewFromEvenWhenTheOldLeaderBacksUpMore() {
        Path data = tmp.resolve("leader");
        Path promoted = tmp.resolve("promoted");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            long b1;
            long mid;
            try (Store s = Store.open(data)) {
                writes(s, "a", 50);
                b1 = backup(s, a);
                writes(s, "b", 50);
                mid = s.lastLsn() - 20;
                ship(data, a);
            }
            // restore to the middle and promote: timeline 2 forks from timeline 1 after `mid`
            Restore.run(a, promoted, Restore.Options.defaults().withTarget(RestoreTarget.lsn(mid, false)).withPromote(true),
                    new Restore.Listener() { });
            StateDigest tl2;
            try (Store s = Store.open(promoted)) {
                writes(s, "tl2-", 30);
                tl2 = s.digest();
            }
            ship(promoted, a);
            // the old leader goes on and takes two more backups (newer by time than anything on timeline 2)
            try (Store s = Store.open(data)) {
                writes(s, "c", 50);
                backup(s, a);
                writes(s, "d", 50);
                backup(s, a);
                ship(data, a);
            }
            Retention.Plan plan = Retention.plan(a, new Retention.Policy(1, null), Instant.now());
            assertTrue(plan.keptBackups().stream().anyMatch(k -> k.contains(String.format("%016X", b1))),
                    "timeline 2's only backup is kept: " + plan.keptBackups());
            Retention.apply(a, plan, d -> { });
            assertTrue(ArchiveVerifier.verify(a, 2, false, m -> { }).ok());
            Restore.Result r = Restore.run(a, tmp.resolve("tl2"), Restore.Options.defaults(), new Restore.Listener() { });
            assertEquals(2, r.timeline());
            try (Store s = Store.open(tmp.resolve("tl2"))) {
                assertEquals(tl2, s.digest());
            }
            assertFalse(Retention.plan(a, new Retention.Policy(1, null), Instant.now()).keptBackups().isEmpty());
        }
    }
}
