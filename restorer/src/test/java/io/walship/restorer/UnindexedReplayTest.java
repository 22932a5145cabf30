package io.walship.restorer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;

import io.walship.archive.ArchiveListing;
import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.shipper.BaseBackup;
import io.walship.shipper.WalShipper;
import io.walship.wal.ChangeIndex;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import io.walship.wal.StoreOptions;
import io.walship.wal.WalEntry;
import io.walship.wal.WalReader;
import io.walship.wal.WriteBatch;
import io.walship.wal.DirectoryLock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review (3) of restore-fast: a restore whose segments are handed out without their change index
 * (it did not fit beside the others in the budget) must end in the same state as one that applies
 * every segment from its index, for targets that stop mid-segment by LSN and by time. Restore's
 * replay is run (by reflection) with a prefetcher whose budget leaves many segments un-indexed.
 */
class UnindexedReplayTest {
    @TempDir
    Path tmp;

    private static TreeMap<String, String> dump(Path dir) {
        TreeMap<String, String> out = new TreeMap<>();
        try (Store s = Store.open(dir)) {
            s.scan(null, null, (k, v) -> {
                out.put(new String(k, StandardCharsets.UTF_8), new String(v, StandardCharsets.UTF_8));
                return true;
            });
        }
        return out;
    }

    @Test
    void aRestoreWithUnindexedSegmentsEndsInTheSameState() throws Exception {
        long seed = Long.getLong("walship.test.seed", 31L);
        System.out.println("UnindexedReplayTest seed " + seed);
        Random rnd = new Random(seed);
        ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"));
        Path data = tmp.resolve("leader");
        StoreOptions opts = StoreOptions.defaults().withCheckpoint(64 << 10, Duration.ofMillis(200)).withPoolPages(128);
        try (Store store = Store.open(data, opts);
             WalShipper shipper = new WalShipper(data, archive, new WalShipper.Options(Codec.ZSTD, 16384))) {
            try (Snapshot snap = store.snapshot()) {
                BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), archive, Codec.ZSTD, x -> { });
            }
            for (int i = 0; i < 600; i++) {
                WriteBatch b = new WriteBatch();
                for (int j = 1 + rnd.nextInt(5); j > 0; j--) {
                    String k = "key-" + rnd.nextInt(60);
                    if (rnd.nextInt(5) == 0) {
                        b.delete(k.getBytes(StandardCharsets.UTF_8));
                    } else {
                        b.put(k.getBytes(StandardCharsets.UTF_8),
                                ("v" + i + "x".repeat(rnd.nextInt(300))).getBytes(StandardCharsets.UTF_8));
                    }
                }
                store.write(b);
                if (rnd.nextInt(40) == 0) {
                    shipper.shipOnce();
                }
            }
            shipper.shipOnce();
        }
        List<Long> lsns = new ArrayList<>();
        List<Long> times = new ArrayList<>();
        try (WalReader r = WalReader.open(data)) {
            r.seek(1).headersOnly();
            WalEntry e;
            while ((e = r.next()) != null) {
                lsns.add(e.lsn());
                times.add(e.commitTimeMicros());
            }
        }
        // the budget: most segments' body and per-entry room fit in it, their index beside them does not
        ArchiveListing listing = ArchiveListing.of(archive);
        RestorePlan full = RestorePlan.make(archive, listing, 0, RestoreTarget.end());
        List<long[]> sizes = new ArrayList<>();
        for (RestorePlan.Step s : full.steps()) {
            SegmentPrefetcher.Decoded d = SegmentPrefetcher.fetch(archive, s.key(), s.segment().size(),
                    new SegmentPrefetcher.ByteBudget(1L << 40), 0, null, true);
            sizes.add(new long[] {d.body().length + ChangeIndex.bytesFor(d.count(), 0),
                    d.body().length + ChangeIndex.bytesFor(d.count(), d.changes().changeCount())});
        }
        long budget = 0;
        int band = -1;
        for (long[] c : sizes) {
            int n = 0;
            for (long[] s : sizes) {
                n += s[0] <= c[0] && c[0] < s[1] ? 1 : 0;
            }
            if (n > band) {
                band = n;
                budget = c[0];
            }
        }
        System.out.println(full.steps().size() + " segments; budget " + budget + " leaves at least " + band
                + " of them without an index");
        assertTrue(band > 0);

        List<RestoreTarget> targets = new ArrayList<>();
        targets.add(RestoreTarget.end());
        for (int i = 0; i < 4; i++) {
            int at = lsns.size() / 4 + rnd.nextInt(lsns.size() * 3 / 4 - 1);
            targets.add(RestoreTarget.lsn(lsns.get(at), rnd.nextBoolean()));
            long t = times.get(at);
            targets.add(RestoreTarget.time(Instant.ofEpochSecond(t / 1_000_000, (t % 1_000_000) * 1_000), rnd.nextBoolean()));
        }
        Method replay = null;
        Method fetchBackup = null;
        for (Method m : Restore.class.getDeclaredMethods()) {
            if (m.getName().equals("replay")) {
                replay = m;
            } else if (m.getName().equals("fetchBackup")) {
                fetchBackup = m;
            }
        }
        replay.setAccessible(true);
        fetchBackup.setAccessible(true);
        int n = 0;
        for (RestoreTarget target : targets) {
            Path a = tmp.resolve("indexed-" + n);
            Path b = tmp.resolve("unindexed-" + n);
            Restore.Result r = Restore.run(archive, a, Restore.Options.defaults().withTarget(target), new Restore.Listener() { });
            Restore.Options options = Restore.Options.defaults().withTarget(target).withParallel(3);
            RestorePlan plan = RestorePlan.make(archive, ArchiveListing.of(archive), 0, target);
            // the band budget, and budgets where segments download beside the one applied (and their
            // index may not fit beside both): un-indexed segments either way
            long each = budget * (2 + n % 3) / 2;
            try (DirectoryLock lock = Restore.prepare(b, false);
                 SegmentPrefetcher p = new SegmentPrefetcher(archive, plan.steps(), 3, each, true)) {
                fetchBackup.invoke(null, archive, plan.manifest(), b, 3, new Restore.Listener() { });
                replay.invoke(null, plan, b, options, new Restore.Listener() { }, p);
            } catch (InvocationTargetException x) {
                throw new AssertionError(target.describe() + ": " + x.getCause(), x.getCause());
            }
            Files.delete(b.resolve(Store.RESTORE_MARKER));
            TreeMap<String, String> expect = dump(a);
            TreeMap<String, String> got = dump(b);
            try (Store s = Store.open(b)) {
                assertEquals(r.lsn(), s.lastLsn(), target.describe());
            }
            assertEquals(expect, got, target.describe() + ", budget " + each);
            n++;
        }
    }
}
