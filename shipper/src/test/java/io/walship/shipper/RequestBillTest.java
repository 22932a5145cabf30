package io.walship.shipper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ArchiveListing;
import io.walship.archive.CountingObjectStore;
import io.walship.archive.ForwardingObjectStore;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.S3ObjectStore;
import io.walship.archive.Segment;
import io.walship.archive.StorageException;
import io.walship.archive.TestS3Server;
import io.walship.wal.Store;
import io.walship.wal.WalReader;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The request bill of a shipper (issue 14): an idle one makes no PUT and lists at most once per
 * archive recheck; with a segment max age a trickle of commits costs one PUT per max age, not one
 * per run; a failed upload or another writer make it list again. Time is a hand-moved clock, one
 * run per simulated second, against a directory archive and S3 (S3Proxy, or MinIO when
 * {@code WALSHIP_TEST_S3_ENDPOINT} is set).
 */
class RequestBillTest {
    private static final long SECOND = 1_000_000_000L;
    private static final int MINUTES = 4;

    @TempDir
    Path tmp;
    static TestS3Server s3;
    private final AtomicLong clock = new AtomicLong(42 * SECOND);

    @BeforeAll
    static void startS3() throws Exception {
        s3 = TestS3Server.start();
    }

    @AfterAll
    static void stopS3() throws Exception {
        s3.close();
    }

    private ObjectStore open(String kind) {
        return kind.equals("file") ? new LocalObjectStore(tmp.resolve("archive-" + UUID.randomUUID()))
                : new S3ObjectStore(s3.newArchive("bill", UUID.randomUUID().toString()));
    }

    private static long commit(Store store, int i) {
        return store.put(("key" + i).getBytes(StandardCharsets.UTF_8), ("value-" + i).getBytes(StandardCharsets.UTF_8));
    }

    /** Runs the shipper once per simulated second for {@code seconds}; returns the requests made. */
    private CountingObjectStore.Counts idle(WalShipper shipper, CountingObjectStore archive, int seconds) {
        CountingObjectStore.Counts before = archive.counts();
        for (int i = 0; i < seconds; i++) {
            clock.addAndGet(SECOND);
            assertEquals(0, shipper.shipOnce(() -> null).segments());
        }
        return archive.counts().minus(before);
    }

    @ParameterizedTest
    @ValueSource(strings = {"file", "s3"})
    void anIdleShipperMakesNoPutAndAtMostOneListAMinute(String kind) {
        Path data = tmp.resolve("data");
        try (Store store = Store.open(data); CountingObjectStore archive = new CountingObjectStore(open(kind))) {
            for (int i = 0; i < 100; i++) {
                commit(store, i);
            }
            try (WalShipper shipper = new WalShipper(data, archive, WalShipper.Options.defaults(), clock::get)) {
                assertEquals(1, shipper.shipOnce(() -> null).segments());
                assertEquals(1, archive.counts().lists(), "a new shipper lists once");
                CountingObjectStore.Counts idle = idle(shipper, archive, MINUTES * 60);
                System.out.println(kind + ", idle for " + MINUTES + " simulated minutes, 1 run a second: " + idle);
                assertEquals(0, idle.puts(), "no PUT while idle");
                assertTrue(idle.lists() >= 1 && idle.lists() <= MINUTES, "at most one LIST a minute: " + idle);
                assertEquals(0, idle.getPriced(), "nothing read while idle: " + idle);
            }
            // the old behaviour, for comparison: a listing before every run
            try (WalShipper shipper = new WalShipper(data, archive,
                    WalShipper.Options.defaults().withArchiveRecheck(Duration.ZERO), clock::get)) {
                CountingObjectStore.Counts every = idle(shipper, archive, 60);
                assertEquals(60, every.lists(), "--archive-recheck 0s lists before every run");
                assertEquals(0, every.puts());
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"file", "s3"})
    void aSegmentMaxAgeCostsOnePutPerAgeAndBoundsTheLag(String kind) throws Exception {
        Path data = tmp.resolve("data");
        Duration maxAge = Duration.ofMinutes(1);
        try (Store store = Store.open(data); CountingObjectStore archive = new CountingObjectStore(open(kind))) {
            long[] lsnAt = new long[MINUTES * 60];
            try (WalShipper shipper = new WalShipper(data, archive, WalShipper.Options.defaults().withSegmentMaxAge(maxAge),
                    clock::get)) {
                long archived = 0;
                int lastUpload = 0; // the first commit, at second 0, starts the first segment's age
                // a new shipper's first run ships everything there is (it cannot know how long a killed
                // one held it); the max age governs the runs after it
                archived = shipper.shipOnce(() -> null).archivedUpTo();
                for (int s = 0; s < lsnAt.length; s++) {
                    clock.addAndGet(SECOND);
                    lsnAt[s] = commit(store, s); // one commit a second
                    long before = archived;
                    archived = shipper.shipOnce(() -> null).archivedUpTo();
                    // a commit seen at second t is archived by the first run at or after t + max age
                    int due = s - (int) maxAge.toSeconds();
                    if (due >= 0) {
                        assertTrue(archived >= lsnAt[due], "second " + s + ": the commit of second " + due
                                + " (LSN " + lsnAt[due] + ") is not archived, the archive ends at " + archived);
                    }
                    if (archived != before) { // an upload: a max age after the previous one at the earliest
                        assertTrue(s - lastUpload >= maxAge.toSeconds(), "second " + s + ": uploaded "
                                + (s - lastUpload) + " s after the previous upload");
                        lastUpload = s;
                    }
                }
                CountingObjectStore.Counts c = archive.counts();
                System.out.println(kind + ", a commit a second for " + MINUTES + " minutes, --segment-max-age 1m: " + c);
                assertTrue(c.puts() <= MINUTES + 1, "one PUT per max age: " + c);
                assertTrue(c.lists() <= c.puts() + MINUTES + 1, "one LIST per PUT and one per recheck: " + c);
                // a graceful stop ships what is durable, young or not
                assertEquals(lsnAt[lsnAt.length - 1], shipper.shipAll(() -> null).archivedUpTo());
            }
            ArchiveListing listing = ArchiveListing.of(archive);
            assertEquals(1, listing.coverage(1).size(), "no gap: " + listing.coverage(1));
            assertEquals(List.of(), overlaps(listing), "no two segments hold the same LSN");
            assertEquals(lsnAt[lsnAt.length - 1], listing.lastArchivedLsn(1));
        }
        // the default (no max age) ships every run: a PUT a second
        Path data2 = tmp.resolve("data2");
        try (Store store = Store.open(data2); CountingObjectStore archive = new CountingObjectStore(open(kind));
             WalShipper shipper = new WalShipper(data2, archive, WalShipper.Options.defaults(), clock::get)) {
            for (int s = 0; s < 120; s++) {
                clock.addAndGet(SECOND);
                long lsn = commit(store, s);
                assertEquals(lsn, shipper.shipOnce(() -> null).archivedUpTo());
            }
            assertEquals(120, archive.counts().puts());
            // each uploading run lists first (another writer's segments are checked before this one's)
            assertEquals(120, archive.counts().lists(), archive.counts().toString());
        }
    }

    private static List<String> overlaps(ArchiveListing listing) {
        List<String> out = new ArrayList<>();
        long end = 0;
        for (ArchiveListing.SegmentInfo s : listing.segments(1)) {
            if (s.name().firstLsn() <= end) {
                out.add(s.name().key());
            }
            end = Math.max(end, s.name().lastLsn());
        }
        return out;
    }

    /**
     * An upload whose answer is lost as an error (the object was created, the caller hears a failure):
     * the next run must not trust its own view (which still ends before that segment), or it would
     * ship a longer segment over the same LSNs. It lists again and goes on after the segment.
     */
    @ParameterizedTest
    @ValueSource(strings = {"file", "s3"})
    void aFailedUploadMakesTheNextRunList(String kind) {
        Path data = tmp.resolve("data");
        AtomicBoolean fail = new AtomicBoolean();
        try (Store store = Store.open(data);
             CountingObjectStore archive = new CountingObjectStore(new ForwardingObjectStore(open(kind)) {
                 @Override
                 public void create(String key, InputStream content) {
                     inner.create(key, content);
                     if (fail.getAndSet(false)) {
                         throw new StorageException("injected: created, but the answer was lost");
                     }
                 }
             });
             WalShipper shipper = new WalShipper(data, archive, WalShipper.Options.defaults(), clock::get)) {
            commit(store, 0);
            shipper.shipOnce(() -> null);
            commit(store, 1);
            fail.set(true);
            assertThrows(StorageException.class, () -> shipper.shipOnce(() -> null));
            long lists = archive.counts().lists();
            long last = commit(store, 2);
            clock.addAndGet(SECOND);
            WalShipper.Result r = shipper.shipOnce(() -> null);
            assertEquals(lists + 1, archive.counts().lists(), "the run after a failure lists");
            assertEquals(1, r.segments());
            assertEquals(last, r.archivedUpTo());
            ArchiveListing listing = ArchiveListing.of(archive);
            assertEquals(List.of(), overlaps(listing), "no two segments hold the same LSN");
            assertEquals(1, listing.coverage(1).size());
        }
    }

    /**
     * Another store writes a segment into this shipper's timeline while it trusts its own view: the
     * next run that would upload lists first, checks that segment against the local WAL and stops
     * as a splice before it adds a segment of its own beside the other one.
     */
    @ParameterizedTest
    @ValueSource(strings = {"file", "s3"})
    void anotherWriterIsFoundBeforeTheNextUpload(String kind) throws Exception {
        Path data = tmp.resolve("data");
        Path other = tmp.resolve("other");
        byte[] foreignEntry;
        long foreignSystemId;
        try (Store o = Store.open(other)) {
            commit(o, 1000);
            foreignSystemId = io.walship.wal.ControlFile.read(other).systemId();
        }
        try (WalReader r = WalReader.open(other)) {
            r.seek(r.firstAvailableLsn()).headersOnly();
            r.next();
            foreignEntry = r.lastEntryBytes();
        }
        try (Store store = Store.open(data); CountingObjectStore archive = new CountingObjectStore(open(kind));
             WalShipper shipper = new WalShipper(data, archive, WalShipper.Options.defaults(), clock::get)) {
            long end = commit(store, 0);
            shipper.shipOnce(() -> null);
            Segment.Builder b = new Segment.Builder(foreignSystemId, 1, io.walship.archive.Codec.NONE);
            b.add(end + 1, 0, foreignEntry);
            archive.create(new ArchiveLayout.SegmentName(1, end + 1, end + 1).key(), new ByteArrayInputStream(b.build()));
            commit(store, 1);
            long last = commit(store, 2);
            clock.addAndGet(SECOND); // well within the recheck: the run lists because it is about to upload
            long puts = archive.counts().puts();
            ArchiveSpliceException e = assertThrows(ArchiveSpliceException.class, () -> shipper.shipOnce(() -> null));
            assertTrue(e.getMessage().contains(String.format("%016x", foreignSystemId)), e.getMessage());
            assertEquals(puts, archive.counts().puts(), "nothing uploaded beside the other writer's segment");
            assertEquals(end + 1, ArchiveListing.of(archive).lastArchivedLsn(1));
        }
    }

    @org.junit.jupiter.api.Test
    void optionsRefuseNegativeDurations() {
        assertThrows(IllegalArgumentException.class,
                () -> WalShipper.Options.defaults().withSegmentMaxAge(Duration.ofSeconds(-1)));
        assertThrows(IllegalArgumentException.class,
                () -> WalShipper.Options.defaults().withArchiveRecheck(Duration.ofSeconds(-1)));
    }
}
