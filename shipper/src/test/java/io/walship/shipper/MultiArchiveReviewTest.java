package io.walship.shipper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import io.walship.archive.ArchiveUri;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ObjectStore;
import io.walship.wal.Store;
import io.walship.wal.WalMarks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Adversarial review of several archives at once (issue 14). */
class MultiArchiveReviewTest {
    @TempDir
    Path tmp;

    private static void put(Store store, int n) {
        for (int i = 0; i < n; i++) {
            store.put(("k" + store.lastLsn()).getBytes(StandardCharsets.UTF_8), "v".getBytes(StandardCharsets.UTF_8));
        }
    }

    /**
     * An archive turned from required to optional (say the operator demotes an offsite archive that is
     * down, so that it stops holding the leader back) must no longer hold the retention floor nor the
     * --max-archive-lag bound, which both read {@link WalMarks#archived()}: "retention and the lag
     * bound never wait for it" (docs/OPERATIONS.md). Its mark, frozen where the required shipper left
     * it, kept counting: the leader went on refusing writes because of an optional archive.
     */
    @Test
    void anArchiveTurnedOptionalNoLongerHoldsTheRetentionFloorOrLagBound() throws Exception {
        Path data = tmp.resolve("data");
        try (Store store = Store.open(data);
             ObjectStore a = new LocalObjectStore(tmp.resolve("a"));
             ObjectStore b = new LocalObjectStore(tmp.resolve("b"))) {
            put(store, 10);
            store.checkpoint();
            ShipLoops.open(data, List.of(new ShipLoops.Target(a, true), new ShipLoops.Target(b, true)),
                    WalShipper.Options.defaults(), Duration.ofHours(1), t -> ShipLoop.Listener.NONE,
                    ShipLoop.Gate.OPEN).close();
            WalMarks marks = new WalMarks(data);
            long bStale = marks.archived(WalShipper.archiveId(b)).orElseThrow();
            put(store, 30);
            store.checkpoint();
            // restarted with b optional
            ShipLoops.open(data, List.of(new ShipLoops.Target(a, true), new ShipLoops.Target(b, false)),
                    WalShipper.Options.defaults(), Duration.ofHours(1), t -> ShipLoop.Listener.NONE,
                    ShipLoop.Gate.OPEN).close();
            long aMark = marks.archived(WalShipper.archiveId(a)).orElseThrow();
            assertTrue(aMark > bStale, "a moved on: " + aMark + " > " + bStale);
            assertEquals(aMark, marks.archived().orElseThrow(),
                    "the retention floor / lag bound is the required archive's mark, not the optional one's stale mark");
        }
    }

    /**
     * The archive ID is computed from the store's description; a local archive whose directory name
     * holds a character that is special in a URI ('#', '%', ' ') got the ID of another directory (or
     * one that is not {@link ArchiveUri#id} of its own URI): "/x/a#b" was read as "/x/a" with a
     * fragment, so two archives shared a lock and a retention mark (the mark never moves back, so the
     * faster one's mark let WAL go that the slower one lacked).
     */
    @Test
    void aLocalArchivesIdIsItsOwnWhateverItsDirectoryName() throws Exception {
        Path plain = tmp.resolve("a");
        Path hash = tmp.resolve("a#b");
        Path pct = tmp.resolve("a%23b");
        Path space = tmp.resolve("a b");
        try (ObjectStore p = new LocalObjectStore(plain);
             ObjectStore h = new LocalObjectStore(hash);
             ObjectStore c = new LocalObjectStore(pct);
             ObjectStore s = new LocalObjectStore(space)) {
            assertNotEquals(WalShipper.archiveId(p), WalShipper.archiveId(h));
            assertNotEquals(WalShipper.archiveId(h), WalShipper.archiveId(c));
            assertEquals(new ArchiveUri.Local(hash).id(), WalShipper.archiveId(h));
            assertEquals(new ArchiveUri.Local(pct).id(), WalShipper.archiveId(c));
            assertEquals(new ArchiveUri.Local(space).id(), WalShipper.archiveId(s));
            assertEquals(ArchiveUri.parse(space.toUri().toString()).id(), WalShipper.archiveId(s));
        }
    }
}
