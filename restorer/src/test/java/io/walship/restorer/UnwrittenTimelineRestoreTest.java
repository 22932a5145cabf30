package io.walship.restorer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.Codec;
import io.walship.archive.ForwardingObjectStore;
import io.walship.archive.ObjectInfo;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.StorageException;
import io.walship.shipper.BaseBackup;
import io.walship.shipper.WalShipper;
import io.walship.wal.ControlFile;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Defect 8b of issue 9: a promoted copy that never writes must not cut default restores short,
 * and {@code restore --promote} writes its control file before it claims the timeline.
 */
class UnwrittenTimelineRestoreTest {
    @TempDir
    Path tmp;

    private static void writeUpTo(Store store, long lsn) {
        int i = 0;
        while (store.lastLsn() < lsn) {
            store.put(("k" + store.lastLsn() + "-" + i++).getBytes(StandardCharsets.UTF_8),
                    "v".repeat(20).getBytes(StandardCharsets.UTF_8));
        }
        assertEquals(lsn, store.lastLsn());
    }

    private static void ship(Path data, ObjectStore archive) {
        try (WalShipper s = new WalShipper(data, archive, WalShipper.Options.defaults())) {
            s.shipOnce();
        }
    }

    /**
     * The reproduction: (1) a leader at 0x33 is shipped and backed up, an inspection copy
     * is restored with --promote and never written; (2) the leader goes on to 0x65 and ships; (3)
     * a plain restore must reach 0x65 (it ended at 0x33 with success before the fix).
     */
    @Test
    void aPromotedCopyThatNeverWritesDoesNotCutDefaultRestoresShort() {
        Path leader = tmp.resolve("leader");
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"));
             Store store = Store.open(leader)) {
            writeUpTo(store, 0x33);
            ship(leader, archive);
            try (Snapshot snap = store.snapshot()) {
                BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), archive, Codec.ZSTD, x -> { });
            }
            Restore.Result inspection = Restore.run(archive, tmp.resolve("inspection"),
                    Restore.Options.defaults().withPromote(true), new Restore.Listener() { });
            assertEquals(0x33, inspection.lsn());
            assertEquals(2, inspection.promotedTimeline());

            writeUpTo(store, 0x65);
            ship(leader, archive);
            StateDigest leaderState = store.digest();

            Restore.Result plain = Restore.run(archive, tmp.resolve("plain"), Restore.Options.defaults(),
                    new Restore.Listener() { });
            assertEquals(0x65, plain.lsn(), "every acknowledged, archived commit is restored");
            assertEquals(1, plain.followedTimeline());
            assertEquals(1, plain.timeline());
            List<RestorePlan.OtherTimeline> others = plain.otherTimelines();
            assertEquals(1, others.size(), others.toString());
            assertEquals(new RestorePlan.OtherTimeline(2, 1, 0x33, 0x33, others.get(0).note()), others.get(0));
            assertTrue(others.get(0).note().contains("no WAL past its fork"), others.get(0).note());
            try (Store restored = Store.open(tmp.resolve("plain"))) {
                assertEquals(leaderState, restored.digest());
            }

            // following the unwritten timeline on purpose still works, and says where the other history ends
            Restore.Result two = Restore.run(archive, tmp.resolve("two"), Restore.Options.defaults().withTimeline(2),
                    new Restore.Listener() { });
            assertEquals(0x33, two.lsn());
            assertEquals(2, two.followedTimeline());
            assertEquals(1, two.otherTimelines().size());
            assertEquals(0x65, two.otherTimelines().get(0).endLsn());
            assertTrue(two.otherTimelines().get(0).note().contains("goes on to LSN 0000000000000065"),
                    two.otherTimelines().get(0).note());
        }
    }

    /**
     * The same rule one level down: an inspection copy of the unwritten timeline 2, promoted to
     * timeline 3 and never written either, must not cut default restores short while timeline 1
     * goes on past both forks (timeline 2's "end" at its fork is no history of its own).
     */
    @Test
    void anUnwrittenCopyOfAnUnwrittenTimelineDoesNotCutDefaultRestoresShort() {
        Path leader = tmp.resolve("leader");
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"));
             Store store = Store.open(leader)) {
            writeUpTo(store, 0x33);
            ship(leader, archive);
            try (Snapshot snap = store.snapshot()) {
                BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), archive, Codec.ZSTD, x -> { });
            }
            assertEquals(2, Restore.run(archive, tmp.resolve("inspection"), Restore.Options.defaults().withPromote(true),
                    new Restore.Listener() { }).promotedTimeline());
            assertEquals(3, Restore.run(archive, tmp.resolve("inspection2"), Restore.Options.defaults().withTimeline(2)
                    .withPromote(true), new Restore.Listener() { }).promotedTimeline());

            writeUpTo(store, 0x65);
            ship(leader, archive);

            Restore.Result plain = Restore.run(archive, tmp.resolve("plain"), Restore.Options.defaults(),
                    new Restore.Listener() { });
            assertEquals(0x65, plain.lsn(), "every acknowledged, archived commit is restored");
            assertEquals(1, plain.followedTimeline());
        }
    }

    /** A timeline that did write after its fork wins, as PostgreSQL's "latest" does, and the parent's longer history is named. */
    @Test
    void aWrittenNewerTimelineIsFollowedAndTheParentsLongerHistoryNamed() {
        Path leader = tmp.resolve("leader");
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            try (Store store = Store.open(leader)) {
                writeUpTo(store, 0x20);
                ship(leader, archive);
                try (Snapshot snap = store.snapshot()) {
                    BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), archive, Codec.ZSTD, x -> { });
                }
                Restore.run(archive, tmp.resolve("copy"), Restore.Options.defaults().withPromote(true),
                        new Restore.Listener() { });
                writeUpTo(store, 0x40);
                ship(leader, archive);
            }
            try (Store copy = Store.open(tmp.resolve("copy"))) {
                writeUpTo(copy, 0x25);
            }
            ship(tmp.resolve("copy"), archive);
            Restore.Result r = Restore.run(archive, tmp.resolve("r"), Restore.Options.defaults(), new Restore.Listener() { });
            assertEquals(2, r.followedTimeline());
            assertEquals(0x25, r.lsn());
            assertEquals(1, r.otherTimelines().size());
            assertEquals(0x40, r.otherTimelines().get(0).endLsn());
        }
    }

    /** restore --promote: the control file already names the timeline when its history record is created. */
    @Test
    void theControlFileIsWrittenBeforeTheTimelineIsClaimed() {
        Path leader = tmp.resolve("leader");
        Path target = tmp.resolve("promoted");
        try (ObjectStore inner = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            try (Store store = Store.open(leader)) {
                writeUpTo(store, 0x10);
                ship(leader, inner);
                try (Snapshot snap = store.snapshot()) {
                    BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), inner, Codec.ZSTD, x -> { });
                }
            }
            int[] seen = {-1};
            boolean[] failClaim = {true};
            ObjectStore checking = new ForwardingObjectStore(inner) {
                @Override
                public void create(String key, InputStream content) {
                    Optional<Integer> tl = ArchiveLayout.parseHistory(key);
                    if (tl.isPresent()) {
                        seen[0] = ControlFile.read(target).timeline();
                        assertEquals(tl.get(), seen[0], "the control file names the timeline before it is claimed");
                        assertTrue(Files.exists(target.resolve(Store.RESTORE_MARKER)), "still no store until claimed");
                        if (failClaim[0]) {
                            throw new StorageException("injected: the archive is unreachable");
                        }
                    }
                    super.create(key, content);
                }
            };
            assertThrows(StorageException.class, () -> Restore.run(checking, target,
                    Restore.Options.defaults().withPromote(true), new Restore.Listener() { }));
            assertTrue(Files.exists(target.resolve(Store.RESTORE_MARKER)), "a failed claim leaves no openable store");
            assertTrue(inner.list("timelines/", null).isEmpty(), "and no claim");
            failClaim[0] = false;
            Restore.Result r = Restore.run(checking, target, Restore.Options.defaults().withPromote(true),
                    new Restore.Listener() { });
            assertEquals(2, r.promotedTimeline());
            assertEquals(2, seen[0]);
            assertEquals(2, ControlFile.read(target).timeline());
            assertEquals(List.of("timelines/00000002.history"),
                    inner.list("timelines/", null).stream().map(ObjectInfo::key).toList());
        }
    }

    /** Delegates everything; tests override what they watch. */
}
