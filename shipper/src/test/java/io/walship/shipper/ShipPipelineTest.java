package io.walship.shipper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ArchiveListing;
import io.walship.archive.Codec;
import io.walship.archive.ForwardingObjectStore;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ObjectStore;
import io.walship.archive.Segment;
import io.walship.archive.StorageException;
import io.walship.wal.Durability;
import io.walship.wal.EntryCodec;
import io.walship.wal.PageImage;
import io.walship.wal.Store;
import io.walship.wal.WalMarks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shipper's pipeline (segments read, compressed two at once, uploaded one at a time in LSN
 * order): a failed upload of segment N leaves nothing after N in the archive, whatever was
 * already built, and the archived mark never passes a segment that is not there; the next run
 * goes on from N with no gap for a restore to stop at.
 */
class ShipPipelineTest {
    @TempDir
    Path tmp;

    /** Fails the create of the {@code failAt}-th segment (1-based), once, after giving later ones the chance to start. */
    private static final class FailingOnce extends ForwardingObjectStore {
        final List<String> events = new CopyOnWriteArrayList<>();
        final AtomicInteger creates = new AtomicInteger();
        volatile int failAt;

        FailingOnce(ObjectStore inner, int failAt) {
            super(inner);
            this.failAt = failAt;
        }

        @Override
        public void create(String key, InputStream content) {
            if (!key.startsWith("wal/")) {
                super.create(key, content);
                return;
            }
            int n = creates.incrementAndGet();
            events.add("start " + key);
            try {
                if (n == failAt) {
                    failAt = -1;
                    // an upload of a later segment running beside this one would start meanwhile
                    long deadline = System.nanoTime() + 2_000_000_000L;
                    while (System.nanoTime() < deadline && events.stream().filter(e -> e.startsWith("start")).count() < n + 1) {
                        Thread.onSpinWait();
                    }
                    throw new StorageException("injected: the upload of " + key + " failed");
                }
                super.create(key, content);
            } finally {
                events.add("end " + key);
            }
        }
    }

    private static PageImage replay(ObjectStore archive) throws Exception {
        PageImage image = new PageImage();
        for (ArchiveListing.SegmentInfo s : ArchiveListing.of(archive).segments(1)) {
            try (InputStream in = archive.get(s.name().key())) {
                for (byte[] raw : Segment.readEntries(in, s.name().key())) {
                    image.apply(EntryCodec.decode(raw));
                }
            }
        }
        return image;
    }

    @Test
    void aFailedUploadLeavesNoLaterSegmentAndTheNextRunFillsOnFromIt() throws Exception {
        Path data = tmp.resolve("data");
        try (Store store = Store.open(data); ObjectStore local = new LocalObjectStore(tmp.resolve("archive"))) {
            for (int i = 0; i < 2_000; i++) {
                store.put(("key" + i).getBytes(StandardCharsets.UTF_8), ("value-" + i).repeat(8).getBytes(StandardCharsets.UTF_8),
                        i % 100 == 99 ? Durability.DURABLE : Durability.ASYNC);
            }
            store.put("sync".getBytes(StandardCharsets.UTF_8), new byte[1]);
            FailingOnce archive = new FailingOnce(local, 3);
            WalShipper.Options small = new WalShipper.Options(Codec.ZSTD, 8 << 10);
            try (WalShipper shipper = new WalShipper(data, archive, small)) {
                StorageException e = assertThrows(StorageException.class, shipper::shipOnce);
                assertTrue(e.getMessage().contains("injected"), e.getMessage());

                // segments 1 and 2 only: nothing after the failed third, although later ones were built
                List<ArchiveListing.SegmentInfo> segs = ArchiveListing.of(local).segments(1);
                assertEquals(2, segs.size(), archive.events.toString());
                assertEquals(List.of(), ArchiveListing.of(local).gaps(1));
                List<String> order = new ArrayList<>(archive.events);
                for (int i = 0; i + 1 < order.size(); i += 2) {
                    assertTrue(order.get(i).startsWith("start ") && order.get(i + 1).equals("end " + order.get(i).substring(6)),
                            "one upload at a time, each ended before the next began: " + order);
                }
                assertEquals(3, archive.creates.get(), "no create after the failed one: " + order);
                long second = segs.get(1).name().lastLsn();
                assertEquals(second, new WalMarks(data).archived().getAsLong(), "the mark stops at the last segment there");

                WalShipper.Result r = shipper.shipOnce();
                assertEquals(second + 1, ArchiveListing.of(local).segments(1).get(2).name().firstLsn(), "on from the failed one");
                assertEquals(store.lastLsn(), r.archivedUpTo());
                assertEquals(store.lastLsn(), new WalMarks(data).archived().getAsLong());
            }
            ArchiveListing listing = ArchiveListing.of(local);
            assertEquals(List.of(new ArchiveListing.Range(1, store.lastLsn())), listing.coverage(1));
            assertTrue(listing.segments(1).size() > 6, "several segments: " + listing.segments(1).size());
            assertEquals(store.digest(), replay(local).digest(), "the archive replays to the leader's state");
        }
    }

    /** Segments of a run are created in LSN order, each one only after the one before it exists. */
    @Test
    void segmentsAreCreatedInLsnOrder() throws Exception {
        Path data = tmp.resolve("data");
        try (Store store = Store.open(data); ObjectStore local = new LocalObjectStore(tmp.resolve("archive"))) {
            for (int i = 0; i < 1_500; i++) {
                store.put(("k" + i).getBytes(StandardCharsets.UTF_8), new byte[200], Durability.ASYNC);
            }
            store.put("sync".getBytes(StandardCharsets.UTF_8), new byte[1]);
            FailingOnce archive = new FailingOnce(local, -1);
            try (WalShipper shipper = new WalShipper(data, archive, new WalShipper.Options(Codec.ZSTD, 16 << 10))) {
                WalShipper.Result r = shipper.shipOnce();
                assertTrue(r.segments() > 5, r.toString());
            }
            long prevLast = 0;
            List<String> order = new ArrayList<>(archive.events);
            for (int i = 0; i + 1 < order.size(); i += 2) {
                assertTrue(order.get(i).startsWith("start ") && order.get(i + 1).equals("end " + order.get(i).substring(6)),
                        "one upload at a time, each ended before the next began: " + order);
            }
            for (String ev : order) {
                if (ev.startsWith("start ")) {
                    ArchiveLayout.SegmentName n = ArchiveLayout.parseSegment(ev.substring(6)).orElseThrow();
                    assertEquals(prevLast + 1, n.firstLsn(), archive.events.toString());
                    prevLast = n.lastLsn();
                }
            }
            assertEquals(store.lastLsn(), prevLast);
        }
    }
}
