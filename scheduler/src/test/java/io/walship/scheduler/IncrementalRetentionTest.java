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

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ArchiveListing;
import io.walship.archive.BackupManifest;
import io.walship.archive.BackupPin;
import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.restorer.ArchiveVerifier;
import io.walship.restorer.Restore;
import io.walship.restorer.RestoreTarget;
import io.walship.shipper.BaseBackup;
import io.walship.shipper.BackupType;
import io.walship.shipper.WalShipper;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import io.walship.wal.WriteBatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Retention and incremental chains: a kept backup keeps its whole chain, a pinned incremental keeps its
 * parents (the policy alone would delete them), the pruned archive verifies and restores; the
 * scheduler's backup job reads type and fullEvery, and fullEvery makes every Nth backup a full one.
 */
class IncrementalRetentionTest {
    @TempDir
    Path tmp;

    private static BackupManifest backup(Store s, ObjectStore a, BackupType.Policy p) {
        try (Snapshot snap = s.snapshot()) {
            return BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), a, Codec.ZSTD, x -> { }, p);
        }
    }

    private static void writes(Store s, int round) {
        for (int i = 0; i < 40; i++) {
            WriteBatch b = new WriteBatch();
            b.put(("k" + (i * 13 + round) % 500).getBytes(StandardCharsets.UTF_8),
                    ("r" + round + "x".repeat(300)).getBytes(StandardCharsets.UTF_8));
            s.write(b);
        }
    }

    private static ArchiveLayout.BackupName name(BackupManifest m) {
        return new ArchiveLayout.BackupName(m.timeline(), Long.parseUnsignedLong(m.lsn(), 16));
    }

    @Test
    void keptAndPinnedBackupsKeepTheirChains() throws Exception {
        Path data = tmp.resolve("store");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"));
             Store s = Store.open(data);
             WalShipper shipper = new WalShipper(data, a, new WalShipper.Options(Codec.ZSTD, 4096))) {
            List<BackupManifest> ms = new ArrayList<>();
            BackupType.Policy incr = new BackupType.Policy(BackupType.INCREMENTAL, 3);
            for (int round = 0; round < 7; round++) {
                writes(s, round);
                ms.add(backup(s, a, round == 0 ? BackupType.FULL.policy() : incr));
                shipper.shipOnce();
            }
            // fullEvery 3: full, incr, incr, full, incr, incr, full
            boolean[] incremental = {false, true, true, false, true, true, false};
            for (int i = 0; i < ms.size(); i++) {
                assertEquals(incremental[i], ms.get(i).incremental(), "backup " + i);
            }
            assertEquals(name(ms.get(1)), ms.get(2).parent().name());
            // pin the first chain's newest; keep 1 (the newest, a full one): the pin keeps its parents, the second
            // chain (needed by nothing kept) goes
            BackupPin.pin(a, name(ms.get(2)), Instant.now());
            Retention.Plan plan = Retention.plan(a, new Retention.Policy(1, null), Instant.now());
            Retention.apply(a, plan, d -> { });
            ArchiveListing l = ArchiveListing.of(a);
            List<ArchiveLayout.BackupName> left = l.backups().stream().map(ArchiveListing.BackupInfo::name).toList();
            for (int i : new int[] {0, 1, 2, 6}) {
                assertTrue(left.contains(name(ms.get(i))), "backup " + i + " kept: " + left);
            }
            for (int i : new int[] {3, 4, 5}) {
                assertFalse(left.contains(name(ms.get(i))), "backup " + i + " deleted: " + left);
            }
            assertTrue(ArchiveVerifier.verify(a, 2, false, m -> { }).ok(), "the pruned archive verifies");
            Restore.Result r = Restore.run(a, tmp.resolve("pinned"), Restore.Options.defaults().withBackupBelow(
                    name(ms.get(2)).lsn() + 1).withTarget(RestoreTarget.lsn(name(ms.get(2)).lsn(), false)),
                    new Restore.Listener() { });
            assertEquals(name(ms.get(2)).lsn(), r.lsn());
        }
    }

    @Test
    void noKeptChainLosesALinkAndThePrunedArchiveRestores() throws Exception {
        Path data = tmp.resolve("store");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"));
             Store s = Store.open(data);
             WalShipper shipper = new WalShipper(data, a, new WalShipper.Options(Codec.ZSTD, 4096))) {
            List<BackupManifest> ms = new ArrayList<>();
            for (int round = 0; round < 4; round++) {
                writes(s, round);
                ms.add(backup(s, a, round == 0 ? BackupType.FULL.policy() : BackupType.DIFFERENTIAL.policy()));
                shipper.shipOnce();
            }
            Retention.apply(a, Retention.plan(a, new Retention.Policy(1, null), Instant.now()), d -> { });
            List<ArchiveLayout.BackupName> left = ArchiveListing.of(a).backups().stream()
                    .map(ArchiveListing.BackupInfo::name).toList();
            assertEquals(List.of(name(ms.get(0)), name(ms.get(3))), left.stream().sorted(java.util.Comparator
                    .comparingLong(ArchiveLayout.BackupName::lsn)).toList());
            assertTrue(ArchiveVerifier.verify(a, 2, false, m -> { }).ok());
            Restore.Result r = Restore.run(a, tmp.resolve("restored"), Restore.Options.defaults()
                    .withTarget(RestoreTarget.lsn(name(ms.get(3)).lsn(), false)), new Restore.Listener() { });
            assertEquals(name(ms.get(3)).lsn(), r.lsn());
        }
    }

    @Test
    void theBackupJobTakesTypeAndFullEvery() {
        String db = "databases:\n  - name: a\n    data: /d\n    archive: file:///a\n    jobs:\n      backup: ";
        SchedulerConfig c = SchedulerConfig.parse(db + "{type: incr, fullEvery: 7}\n", "t");
        assertEquals(new BackupType.Policy(BackupType.INCREMENTAL, 7),
                SchedulerConfig.jobsOf(c.databases().get(0)).backup().policy());
        assertEquals(BackupType.FULL.policy(), SchedulerConfig.jobsOf(SchedulerConfig.parse(db + "{cron: \"0 0 3 * * ?\"}\n",
                "t").databases().get(0)).backup().policy());
        for (String bad : new String[] {"{type: incr, fullEvery: 0}", "{type: sometimes}", "{fullEvery: 3}"}) {
            RuntimeException e = assertThrows(RuntimeException.class, () -> SchedulerConfig.parse(db + bad + "\n", "t"), bad);
            assertTrue(e.getMessage().contains("backup") || e.getMessage().contains("type"), e.getMessage());
        }
    }
}
