package io.walship.scheduler;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.restorer.Restore;
import io.walship.restorer.RestoreTarget;
import io.walship.shipper.BaseBackup;
import io.walship.shipper.WalShipper;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * review23: {@code restore --promote} claims its timeline only after the replay, and nothing checks at the claim
 * that the base backup (and WAL) it was restored from is still in the archive. A retention run that plans and
 * applies while the restore replays (before the claim) sees no new timeline, so its "every timeline keeps the
 * newest backup it can restore from" rule (docs/OPERATIONS.md "Archive retention": "what keeps a promotion safe")
 * cannot protect it, and Retention.apply's own new-timeline check passes. The promotion then succeeds (exit 0) and
 * leaves a timeline the archive cannot restore: no base backup on its ancestry. Deterministic: retention runs from
 * the restore's own progress callback, between the last replayed entry and the claim.
 */
class Review23PromoteRetentionRaceTest {
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

    @Test
    void retentionDuringRestorePromoteLeavesTheNewTimelineWithoutABaseBackup() {
        Path data = tmp.resolve("leader");
        Path promoted = tmp.resolve("promoted");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            long b1;
            try (Store s = Store.open(data)) {
                writes(s, "a", 50);
                b1 = backup(s, a);
                writes(s, "b", 50);
                ship(data, a);
                backup(s, a);
                writes(s, "c", 50);
                ship(data, a);
            }
            long target = b1 + 5; // between the two backups: only the older one reaches it
            List<String> deleted = new ArrayList<>();
            Restore.Result r = Restore.run(a, promoted, Restore.Options.defaults()
                    .withTarget(RestoreTarget.lsn(target, false)).withPromote(true), new Restore.Listener() {
                        boolean ran;

                        @Override
                        public void replayed(long entries, long lsn, long walBytes) {
                            if (lsn == target && !ran) {
                                ran = true; // a cron prune with --keep-backups 1, between the replay and the claim
                                Retention.apply(a, Retention.plan(a, new Retention.Policy(1, null), Instant.now()),
                                        d -> deleted.add(d.key()));
                            }
                        }
                    });
            assertEquals(2, r.promotedTimeline(), "the restore promoted (exit 0)");
            assertTrue(deleted.stream().anyMatch(k -> k.contains(String.format("%016X", b1))),
                    "retention deleted the backup the promotion was restored from: " + deleted);
            StateDigest tl2;
            try (Store s = Store.open(promoted)) {
                writes(s, "tl2-", 30);
                tl2 = s.digest();
            }
            ship(promoted, a);
            // the promise: the new timeline restores from the archive (retention keeps each timeline's newest usable backup)
            Restore.Result again = assertDoesNotThrow(() -> Restore.run(a, tmp.resolve("tl2"), Restore.Options.defaults(),
                    new Restore.Listener() { }), "timeline 2 is left with no base backup on its ancestry");
            assertEquals(2, again.timeline());
            try (Store s = Store.open(tmp.resolve("tl2"))) {
                assertEquals(tl2, s.digest());
            }
        }
    }

    /**
     * The same hole without any race, with two archives (docs/OPERATIONS.md "Several archives"): the promotion claims
     * its timeline in the archive it restored from (A); archive B learns of the timeline only when the new leader's
     * shipper first ships to it. A prune of B in between (B's shipper down for a while, or simply not run yet) sees
     * only timeline 1, deletes the backup the new timeline grew from and the WAL after it, and B can then never
     * restore the new timeline ("a restore reads any one of them").
     */
    @Test
    void pruneOfASecondArchiveBeforeTheNewTimelineReachesItDeletesItsBase() {
        Path data = tmp.resolve("leader");
        Path promoted = tmp.resolve("promoted");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archiveA"));
             ObjectStore b = ObjectStores.open("file://" + tmp.resolve("archiveB"))) {
            long b1;
            try (Store s = Store.open(data)) {
                writes(s, "a", 50);
                b1 = backup(s, a);
                backup(s, b);
                writes(s, "b", 50);
                ship(data, a);
                ship(data, b);
                backup(s, a);
                backup(s, b);
                writes(s, "c", 50);
                ship(data, a);
                ship(data, b);
            }
            Restore.Result r = Restore.run(a, promoted, Restore.Options.defaults()
                    .withTarget(RestoreTarget.lsn(b1 + 5, false)).withPromote(true), new Restore.Listener() { });
            assertEquals(2, r.promotedTimeline());
            // a prune of B before the new leader has shipped to it: B knows only timeline 1
            Retention.apply(b, Retention.plan(b, new Retention.Policy(1, null), Instant.now()), d -> { });
            StateDigest tl2;
            try (Store s = Store.open(promoted)) {
                writes(s, "tl2-", 30);
                tl2 = s.digest();
            }
            ship(promoted, a);
            ship(promoted, b); // uploads timeline 2's history to B, then its WAL
            Restore.Result fromA = Restore.run(a, tmp.resolve("tl2a"), Restore.Options.defaults(), new Restore.Listener() { });
            assertEquals(2, fromA.timeline(), "archive A restores timeline 2");
            Restore.Result fromB = assertDoesNotThrow(() -> Restore.run(b, tmp.resolve("tl2b"), Restore.Options.defaults(),
                    new Restore.Listener() { }), "archive B cannot restore timeline 2: its base backup was pruned");
            assertEquals(2, fromB.timeline());
            try (Store s = Store.open(tmp.resolve("tl2b"))) {
                assertEquals(tl2, s.digest());
            }
        }
    }
}
