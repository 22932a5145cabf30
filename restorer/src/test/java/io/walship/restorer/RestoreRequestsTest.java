package io.walship.restorer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.UUID;

import io.walship.archive.Codec;
import io.walship.archive.CountingObjectStore;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ObjectStore;
import io.walship.archive.S3ObjectStore;
import io.walship.archive.TestS3Server;
import io.walship.shipper.BaseBackup;
import io.walship.shipper.WalShipper;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The request bill of a restore (issue 14): one listing of the archive (⌈keys/1000⌉ LIST pages,
 * also with --promote) and one GET per object it uses: the manifest, the image (a HEAD and its
 * ranged chunks) and each WAL segment of the plan (twice at most: see below). The archive holds more than 1,000 keys it does
 * not use, so a second listing, or a read of an unused object, would show.
 */
class RestoreRequestsTest {
    @TempDir
    Path tmp;
    static TestS3Server s3;

    @BeforeAll
    static void startS3() throws Exception {
        s3 = TestS3Server.start();
    }

    @AfterAll
    static void stopS3() throws Exception {
        s3.close();
    }

    @ParameterizedTest
    @ValueSource(strings = {"file", "s3"})
    void oneListingAndOneGetPerObjectUsed(String kind) throws Exception {
        ObjectStore raw = kind.equals("file") ? new LocalObjectStore(tmp.resolve("archive"))
                : new S3ObjectStore(s3.newArchive("restore-bill", UUID.randomUUID().toString()));
        Path data = tmp.resolve("data");
        int segments = 5;
        try (Store store = Store.open(data); WalShipper shipper = new WalShipper(data, raw, WalShipper.Options.defaults())) {
            for (int i = 0; i < 50; i++) {
                store.put(("k" + i).getBytes(StandardCharsets.UTF_8), ("v" + i).getBytes(StandardCharsets.UTF_8));
            }
            try (Snapshot snap = store.snapshot()) {
                BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), raw, Codec.ZSTD, x -> { });
            }
            for (int s = 0; s < segments; s++) {
                store.put(("after" + s).getBytes(StandardCharsets.UTF_8), "v".getBytes(StandardCharsets.UTF_8));
                assertEquals(1, shipper.shipOnce().segments());
            }
        }
        int pad = 1100; // keys a restore must not read (an unrelated tool's objects under the prefix)
        for (int i = 0; i < pad; i++) {
            raw.create(String.format("pad/%05d", i), new ByteArrayInputStream(new byte[] {1}));
        }
        int keys = raw.list("", null).size();
        long pages = (keys + 999) / 1000;
        assertEquals(2, pages);
        try (CountingObjectStore archive = new CountingObjectStore(raw)) {
            Restore.Result r = Restore.run(archive, tmp.resolve("restored"), Restore.Options.defaults(),
                    new Restore.Listener() { });
            CountingObjectStore.Counts c = archive.counts();
            System.out.println(kind + ": restore of an archive of " + keys + " keys using " + r.segments()
                    + " segment(s): " + c);
            assertTrue(r.segments() >= segments, "the plan replays the shipped segments: " + r.segments());
            long imageChunks = (r.backupObjectBytes() + Restore.chunkBytes() - 1) / Restore.chunkBytes();
            assertEquals(pages, c.lists(), "one listing: " + c);
            // a segment fetched ahead whose turn for the memory budget has not come gives up its response
            // and asks for the rest once it has (SegmentPrefetcher): at most two GETs per segment
            assertTrue(c.gets() >= 1 + imageChunks + r.segments() && c.gets() <= 1 + imageChunks + 2L * r.segments(),
                    "the manifest, the image's chunks, each segment once or twice: " + c);
            assertEquals(1, c.heads(), "the image's size: " + c);
            assertEquals(0, c.puts());

            Restore.Result p = Restore.run(archive, tmp.resolve("promoted"), Restore.Options.defaults().withPromote(true),
                    new Restore.Listener() { });
            CountingObjectStore.Counts promote = archive.counts().minus(c);
            System.out.println(kind + ": restore --promote: " + promote);
            assertEquals(2, p.promotedTimeline());
            // the claim lists nothing again; after it one listing each of retention/ and backups/ (is the fork protected?)
            assertEquals(pages + 2, promote.lists(), "--promote claims its timeline without listing again: " + promote);
            assertEquals(1, promote.puts(), "the timeline's history record: " + promote);
        }
    }
}
