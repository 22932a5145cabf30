package io.walship.shipper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

import io.walship.archive.ArchiveListing;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ObjectStore;
import io.walship.archive.Segment;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Adversarial review of the request bill (req-bill): the in-memory archive end and the segment max
 * age against the shipper's invariants. Time is a hand-moved monotonic clock; no sleeps.
 */
class ReqBillReviewTest {
    private static final long SECOND = 1_000_000_000L;

    @TempDir
    Path tmp;
    private final AtomicLong clock = new AtomicLong(7 * SECOND);

    private static long commit(Store store, String who, int i) {
        return store.put((who + "-key" + i).getBytes(StandardCharsets.UTF_8),
                (who + "-value-" + i).getBytes(StandardCharsets.UTF_8));
    }

    /**
     * A huge --segment-max-age is accepted, but Duration.toNanos() overflows inside the run: even the
     * graceful stop (shipAll), which the docs say ships everything young or not, fails, so the
     * partial segment never reaches the archive. Either the value must be refused up front (exit 2)
     * or the run must ship.
     */
    @Test
    void aHugeSegmentMaxAgeStillLetsTheGracefulStopShipEverything() {
        Path data = tmp.resolve("data");
        ObjectStore archive = new LocalObjectStore(tmp.resolve("archive"));
        WalShipper.Options options;
        try {
            options = WalShipper.Options.defaults().withSegmentMaxAge(Duration.ofHours(3_000_000));
        } catch (IllegalArgumentException refused) {
            return; // refused up front: the CLI turns this into exit 2
        }
        try (Store store = Store.open(data)) {
            long last = 0;
            for (int i = 0; i < 10; i++) {
                last = commit(store, "a", i);
            }
            try (WalShipper shipper = new WalShipper(data, archive, options, clock::get)) {
                WalShipper.Result r = shipper.shipAll(() -> null);
                assertEquals(last, r.archivedUpTo(), "a graceful stop ships everything");
            }
        }
    }

    /**
     * A huge --archive-recheck is accepted, but every run then fails on toNanos() before it ships
     * anything: the archive never gets a byte while the CLI said nothing at start.
     */
    @Test
    void aHugeArchiveRecheckStillShips() {
        Path data = tmp.resolve("data");
        ObjectStore archive = new LocalObjectStore(tmp.resolve("archive"));
        WalShipper.Options options;
        try {
            options = WalShipper.Options.defaults().withArchiveRecheck(Duration.ofHours(3_000_000));
        } catch (IllegalArgumentException refused) {
            return;
        }
        try (Store store = Store.open(data)) {
            long last = 0;
            for (int i = 0; i < 10; i++) {
                last = commit(store, "a", i);
            }
            try (WalShipper shipper = new WalShipper(data, archive, options, clock::get)) {
                shipper.shipOnce(() -> null); // the first run lists
                last = commit(store, "a", 10);
                clock.addAndGet(SECOND);
                WalShipper.Result r = shipper.shipOnce(() -> null); // a ship-loop tick
                assertEquals(last, r.archivedUpTo());
            }
        }
    }

    /**
     * RPO with --segment-max-age D is documented as about D + the interval. The age counts from when
     * the running shipper first saw an entry, so a leader that restarts (kill -9, OOM, a crash loop)
     * more often than D never uploads its partial segment: a commit acknowledged at t=0 is still
     * only on the leader's disk after 3 x D, and losing that disk then loses it.
     */
    @Test
    void aCommitReachesTheArchiveWithinTheRpoAcrossLeaderRestarts() {
        Path data = tmp.resolve("data");
        Duration maxAge = Duration.ofMinutes(1);
        long interval = SECOND;
        ObjectStore archive = new LocalObjectStore(tmp.resolve("archive"));
        WalShipper.Options options = WalShipper.Options.defaults().withSegmentMaxAge(maxAge);
        long lsn;
        long committedAt;
        try (Store store = Store.open(data)) {
            commit(store, "a", 0);
            try (WalShipper first = new WalShipper(data, archive, options, clock::get)) {
                first.shipOnce(() -> null); // a tick: the young partial segment is held
            }
        }
        // start from a quiet state: everything so far archived by a graceful stop
        try (WalShipper s = new WalShipper(data, archive, options, clock::get)) {
            s.shipAll(() -> null);
        }
        try (Store store = Store.open(data)) {
            lsn = commit(store, "a", 1); // acknowledged now
        }
        committedAt = clock.get();
        long deadline = committedAt + maxAge.toNanos() + 2 * interval; // the documented RPO, with slack
        long archived = 0;
        // the leader (and its shipper) is killed every 50 s and restarted; its disk survives each time
        while (clock.get() < committedAt + 3 * maxAge.toNanos()) {
            try (WalShipper shipper = new WalShipper(data, archive, options, clock::get)) {
                for (int s = 0; s < 50; s++) {
                    archived = Math.max(archived, shipper.shipOnce(() -> null).archivedUpTo());
                    clock.addAndGet(interval);
                }
            } // close() without shipAll: a kill -9 ships nothing on the way out
        }
        assertTrue(clock.get() > deadline);
        assertTrue(archived >= lsn, "the commit at LSN " + lsn + " was acknowledged "
                + (clock.get() - committedAt) / SECOND + " s ago (RPO ~ " + maxAge.toSeconds() + " s + the interval)"
                + " and is still not archived (archived up to " + archived + ")");
    }

    /**
     * Two copies of one store (same system id: a data directory copied to a new machine and started
     * beside the old one, or a VM snapshot) ship to one archive. Each trusts its own view of the end
     * for the archive recheck (1 min), so within a minute both upload past the same end, twice.
     * The archive then holds two histories on timeline 1 interleaved so that the restore chain
     * (the furthest-reaching segment at each LSN, RestorePlan.chain) takes B's entries then A's
     * — a splice a restore cannot see, since the system ids are equal. Before req-bill (and with
     * --archive-recheck 0s) the second writer's listing before its upload finds the other history
     * and stops (exit 3) before uploading anything divergent.
     */
    @Test
    void twoCopiesWithinTheRecheckWindowDoNotArchiveTwoHistories() throws IOException {
        twoCopies(WalShipper.Options.defaults()); // --archive-recheck 1m
    }

    /** The same with a listing before every run (the behaviour before req-bill): passes. */
    @Test
    void twoCopiesListingEveryRunDoNotArchiveTwoHistories() throws IOException {
        twoCopies(WalShipper.Options.defaults().withArchiveRecheck(Duration.ZERO));
    }

    private void twoCopies(WalShipper.Options options) throws IOException {
        Path a = tmp.resolve("a");
        Path b = tmp.resolve("b");
        ObjectStore archive = new LocalObjectStore(tmp.resolve("archive"));
        try (Store store = Store.open(a)) {
            for (int i = 0; i < 10; i++) {
                commit(store, "common", i);
            }
        }
        copyTree(a, b);
        try (WalShipper shipA = new WalShipper(a, archive, options, clock::get);
             WalShipper shipB = new WalShipper(b, archive, options, clock::get)) {
            shipA.shipOnce(() -> null);
            shipB.shipOnce(() -> null); // lists: the end is the common history's, nothing new
            try (Store sa = Store.open(a); Store sb = Store.open(b)) {
                for (int i = 0; i < 5; i++) {
                    commit(sa, "a", i);
                }
                for (int i = 0; i < 10; i++) {
                    commit(sb, "b", i);
                }
                String failure = null;
                for (int round = 0; round < 2 && failure == null; round++) {
                    clock.addAndGet(SECOND);
                    try {
                        shipA.shipOnce(() -> null);
                    } catch (ArchiveSpliceException e) {
                        failure = "A: " + e.getMessage();
                    }
                    clock.addAndGet(SECOND);
                    try {
                        shipB.shipOnce(() -> null);
                    } catch (ArchiveSpliceException e) {
                        failure = "B: " + e.getMessage();
                    }
                    for (int i = 0; i < 20; i++) {
                        commit(sa, "a2-" + round, i); // A's next segment reaches furthest: the restore chain takes it
                    }
                    for (int i = 0; i < 5; i++) {
                        commit(sb, "b2-" + round, i);
                    }
                }
            }
        }
        assertNoTwoHistories(archive);
    }

    private static void assertNoTwoHistories(ObjectStore archive) throws IOException {
        List<ArchiveListing.SegmentInfo> segs = ArchiveListing.of(archive).segments(1);
        for (int i = 0; i < segs.size(); i++) {
            for (int j = i + 1; j < segs.size(); j++) {
                ArchiveListing.SegmentInfo x = segs.get(i);
                ArchiveListing.SegmentInfo y = segs.get(j);
                long from = Math.max(x.name().firstLsn(), y.name().firstLsn());
                long to = Math.min(x.name().lastLsn(), y.name().lastLsn());
                if (from > to) {
                    continue;
                }
                List<byte[]> ex = entries(archive, x.name().key());
                List<byte[]> ey = entries(archive, y.name().key());
                for (long l = from; l <= to; l++) {
                    byte[] p = ex.get((int) (l - x.name().firstLsn()));
                    byte[] q = ey.get((int) (l - y.name().firstLsn()));
                    if (!java.util.Arrays.equals(p, q)) {
                        fail("the archive holds two histories on timeline 1: " + x.name().key() + " and "
                                + y.name().key() + " differ at LSN " + l + " (all segments: "
                                + segs.stream().map(s -> s.name().key()).toList() + ")");
                    }
                }
            }
        }
    }

    private static List<byte[]> entries(ObjectStore archive, String key) throws IOException {
        try (InputStream in = archive.get(key)) {
            byte[] obj = in.readAllBytes();
            Segment.Header h = Segment.readHeader(new ByteArrayInputStream(obj), key);
            List<byte[]> e = Segment.readEntries(new ByteArrayInputStream(obj), key);
            assertEquals(h.lastLsn() - h.firstLsn() + 1, e.size(), "one entry per LSN in " + key);
            return e;
        }
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> walk = Files.walk(from)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else if (!p.getFileName().toString().equals(WalShipper.LOCK_FILE)) {
                    Files.copy(p, t);
                }
            }
        }
    }
}
