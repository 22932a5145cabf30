package io.walship.restorer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.UUID;

import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.TestS3Server;
import io.walship.shipper.BaseBackup;
import io.walship.shipper.WalShipper;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import io.walship.wal.StoreOptions;
import io.walship.wal.WalCompression;
import io.walship.wal.WalEntry;
import io.walship.wal.WalReader;
import io.walship.wal.WriteBatch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Point-in-time recovery as a property: random workloads (puts, deletes and batches over a
 * small key space, so overwrites are common) are shipped at random moments with base backups
 * in between; then, for many random targets — LSNs and times, inclusive and exclusive, exactly
 * on a commit, between commits, before the first backup, at the end — the restored store must
 * hold exactly the state the workload had there. Runs against S3Proxy, or MinIO when the
 * environment names one (CI).
 */
class PitrPropertyTest {
    private static TestS3Server s3;

    @TempDir
    Path tmp;

    @BeforeAll
    static void startS3() throws Exception {
        s3 = TestS3Server.start();
    }

    @AfterAll
    static void stopS3() throws Exception {
        s3.close();
    }

    /** State after each commit, with its commit time. */
    private record Point(long lsn, long timeMicros, Map<String, String> state) {
    }

    @Test
    void restoredStateEqualsTheWorkloadAtEveryTarget() throws Exception {
        for (long seed : new long[] {1, 2, 3}) {
            runSeed(seed);
        }
    }

    /**
     * With the archive encrypted (docs/OPERATIONS.md "Encryption"), on S3 and locally: every object
     * sealed, the restores (ranged segment and image reads included) give the same states. Fewer seeds.
     */
    @Test
    void encryptedArchiveToo() throws Exception {
        byte[] key = new byte[32];
        new java.util.Random(14).nextBytes(key);
        io.walship.archive.EncryptionKeys keys = io.walship.archive.EncryptionKeys.of(java.util.List.of(key));
        try (ObjectStore archive = ObjectStores.open(s3.newArchive("walship-test", "pitr-enc-" + UUID.randomUUID()),
                io.walship.archive.UploadLimit.NONE, keys)) {
            runSeed(4, archive, tmp.resolve("enc-s3"));
        }
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("enc-archive"), keys)) {
            runSeed(5, archive, tmp.resolve("enc-local"));
        }
        try (java.util.stream.Stream<Path> files = java.nio.file.Files.walk(tmp.resolve("enc-archive"))) {
            for (Path f : files.filter(java.nio.file.Files::isRegularFile).toList()) {
                String name = tmp.resolve("enc-archive").relativize(f).toString();
                if (name.startsWith("wal") || name.startsWith("backups") || name.startsWith("timelines")) {
                    byte[] b = java.nio.file.Files.readAllBytes(f);
                    assertEquals("WSEC", new String(b, 0, 4, java.nio.charset.StandardCharsets.US_ASCII), name);
                }
            }
        }
    }

    @Test
    void localDirectoryArchiveToo() throws Exception {
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("local-archive"))) {
            runSeed(42, archive, tmp.resolve("local"));
        }
    }

    /**
     * WAL whose full-page images are compressed (the leader's {@code --wal-compression}) restores
     * to the same states: the segment check and the redo decompress them.
     */
    @Test
    void compressedFullPageImagesToo() throws Exception {
        for (WalCompression c : new WalCompression[] {WalCompression.LZ4, WalCompression.ZSTD}) {
            try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive-" + c))) {
                runSeed(43, archive, tmp.resolve("compressed-" + c), c);
            }
        }
    }

    private void runSeed(long seed) throws Exception {
        try (ObjectStore archive = ObjectStores.open(s3.newArchive("walship-test", "pitr-" + UUID.randomUUID()))) {
            runSeed(seed, archive, tmp.resolve("seed" + seed));
        }
    }

    private void runSeed(long seed, ObjectStore archive, Path base) throws Exception {
        runSeed(seed, archive, base, WalCompression.NONE);
    }

    private void runSeed(long seed, ObjectStore archive, Path base, WalCompression compression) throws Exception {
        runSeed(seed, archive, base, compression, false);
    }

    /**
     * WAL files that roll every second, so the run crosses cycles and shipped, checkpointed files
     * are deleted (at the latest by the checkpoint of the store's close), as an hourly file is when
     * a run crosses the top of an hour: reading the leader's WAL back from LSN 1 afterwards failed.
     */
    @Test
    void walFilesRolledAndDeletedMidRunToo() throws Exception {
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("rolling-archive"))) {
            runSeed(44, archive, tmp.resolve("rolling"), WalCompression.NONE, true);
        }
        // the case this is for happened: the leader's WAL no longer starts at LSN 1 (it was read as the run went)
        try (WalReader r = WalReader.open(tmp.resolve("rolling").resolve("leader"))) {
            assertTrue(r.firstAvailableLsn() > 1, "WAL files were deleted during the run; the first LSN left is "
                    + r.firstAvailableLsn());
        }
    }

    /**
     * Incremental and differential base backups (issue 14): backups come more often, each after the first
     * an incremental or a differential one (a full one every 4 per chain at most), so restores to every
     * target compose chains of several links, checked against each chain's full-image SHA-256. On S3 and
     * locally, and encrypted.
     */
    @Test
    void incrementalBackupChainsToo() throws Exception {
        for (long seed : new long[] {6, 7}) {
            try (ObjectStore archive = ObjectStores.open(s3.newArchive("walship-test", "pitr-incr-" + UUID.randomUUID()))) {
                runSeed(seed, archive, tmp.resolve("incr-s3-" + seed), WalCompression.NONE, false, true);
            }
        }
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("incr-archive"))) {
            runSeed(8, archive, tmp.resolve("incr-local"), WalCompression.NONE, false, true);
        }
        byte[] key = new byte[32];
        new java.util.Random(15).nextBytes(key);
        try (ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("incr-enc-archive"),
                io.walship.archive.EncryptionKeys.of(java.util.List.of(key)))) {
            runSeed(9, archive, tmp.resolve("incr-enc"), WalCompression.NONE, false, true);
        }
    }

    private void runSeed(long seed, ObjectStore archive, Path base, WalCompression compression, boolean rolling)
            throws Exception {
        runSeed(seed, archive, base, compression, rolling, false);
    }

    /** {@code rolling}: WAL files of a second, and at op 40 the run waits for the next one (at least two files). */
    private void runSeed(long seed, ObjectStore archive, Path base, WalCompression compression, boolean rolling,
                         boolean incremental) throws Exception {
        System.out.println("PitrPropertyTest seed " + seed + (incremental ? " (incremental backups)" : ""));
        int incrementals = 0;
        Random rnd = new Random(seed);
        Path data = base.resolve("leader");
        List<Point> points = new ArrayList<>();
        List<Long> backupLsns = new ArrayList<>();
        TreeMap<String, String> model = new TreeMap<>();
        StoreOptions start = rolling
                ? StoreOptions.defaults().withRollCycle(net.openhft.chronicle.queue.rollcycles.TestRollCycles.TEST_SECONDLY)
                : StoreOptions.defaults();
        StoreOptions opts = start.withCheckpoint(64 << 10, Duration.ofMillis(200)).withPoolPages(128)
                .withWalCompression(compression);
        // Commit times come from the WAL itself, read as the run goes: once shipped and checkpointed, a
        // WAL file the hour has rolled past is deleted, so reading it back from LSN 1 afterwards fails
        // for a run that crosses the top of an hour.
        Map<Long, Long> times = new TreeMap<>();
        int[] compressed = {0};
        WalReader[] tail = {null};
        Runnable readNew = () -> {
            if (tail[0] == null) {
                tail[0] = WalReader.open(data).seek(1);
            }
            WalEntry e;
            while ((e = tail[0].next()) != null) {
                times.put(e.lsn(), e.commitTimeMicros());
                compressed[0] += e.compression() == compression ? 1 : 0;
            }
        };
        try (Store store = Store.open(data, opts);
             WalShipper shipper = new WalShipper(data, archive, new WalShipper.Options(Codec.ZSTD, 4096))) {
            points.add(new Point(store.lastLsn(), 0, Map.copyOf(model)));
            int ops = 150 + rnd.nextInt(100);
            for (int i = 0; i < ops; i++) {
                WriteBatch b = new WriteBatch();
                int n = rnd.nextInt(4) == 0 ? 1 + rnd.nextInt(6) : 1;
                TreeMap<String, String> next = new TreeMap<>(model);
                for (int j = 0; j < n; j++) {
                    String k = "key-" + rnd.nextInt(40);
                    if (rnd.nextInt(4) == 0) {
                        b.delete(bytes(k));
                        next.remove(k);
                    } else {
                        String v = "v" + i + "-" + j + "-" + "x".repeat(rnd.nextInt(200));
                        b.put(bytes(k), bytes(v));
                        next.put(k, v);
                    }
                }
                if (rolling && i == 40) {
                    long second = System.currentTimeMillis() / 1000;
                    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                    while (System.currentTimeMillis() / 1000 == second && System.nanoTime() < deadline) {
                        Thread.onSpinWait(); // the next write goes to the next WAL file
                    }
                }
                long before = store.lastLsn();
                long lsn = store.write(b);

                readNew.run();
                model = next;
                if (lsn != before) {
                    points.add(new Point(lsn, 0, Map.copyOf(model)));
                }
                if (compression != WalCompression.NONE && i % 10 == 0) {
                    // full-page images follow a checkpoint; force them rather than rely on the timed
                    // checkpointer, whose count depends on the machine's speed
                    store.checkpoint();
                }
                if (rnd.nextInt(25) == 0) {
                    shipper.shipOnce();
                }
                if (i > 20 && rnd.nextInt(incremental ? 12 : 60) == 0 || i == 30) {
                    try (Snapshot snap = store.snapshot()) {
                        io.walship.shipper.BackupType.Policy policy = !incremental
                                ? io.walship.shipper.BackupType.FULL.policy()
                                : new io.walship.shipper.BackupType.Policy(rnd.nextInt(4) == 0
                                        ? io.walship.shipper.BackupType.DIFFERENTIAL
                                        : io.walship.shipper.BackupType.INCREMENTAL, 4);
                        io.walship.archive.BackupManifest m = BaseBackup.upload(snap,
                                StateDigest.of(snap.pages(), snap.lsn()), archive, Codec.ZSTD, x -> { }, policy);
                        incrementals += m.incremental() ? 1 : 0;
                        backupLsns.add(snap.lsn());
                    }
                }
                if (rnd.nextInt(50) == 0) {
                    Thread.sleep(2); // spread commit times, so some targets fall strictly between commits
                }
            }
            shipper.shipOnce();
            readNew.run();
        } finally {
            if (tail[0] != null) {
                tail[0].close();
            }
        }
        if (compression != WalCompression.NONE) {
            System.out.println("PitrPropertyTest seed " + seed + ": " + compressed[0] + " entries with " + compression + " images");
            assertTrue(compressed[0] > 10, "entries with " + compression + " images: " + compressed[0]);
        }
        if (incremental) {
            System.out.println("PitrPropertyTest seed " + seed + ": " + backupLsns.size() + " backups, " + incrementals
                    + " incremental or differential");
            assertTrue(incrementals >= 2, "incremental backups taken: " + incrementals);
        }
        List<Point> timed = new ArrayList<>();
        for (Point p : points) {
            timed.add(new Point(p.lsn(), times.getOrDefault(p.lsn(), 0L), p.state()));
        }
        long firstBackup = backupLsns.get(0);
        long last = timed.get(timed.size() - 1).lsn();

        List<RestoreTarget> targets = new ArrayList<>();
        targets.add(RestoreTarget.end());
        targets.add(RestoreTarget.lsn(last, false));
        targets.add(RestoreTarget.lsn(firstBackup, false));
        targets.add(RestoreTarget.lsn(firstBackup + 1, true));
        targets.add(RestoreTarget.time(instant(times.get(last)), false));
        for (int i = 0; i < 6; i++) {
            long lsn = firstBackup + rnd.nextInt((int) (last - firstBackup + 1));
            targets.add(RestoreTarget.lsn(lsn, rnd.nextBoolean()));
            long t = times.get(lsn);
            // exactly on a commit, or a microsecond after it (between commits unless the next shares it)
            targets.add(RestoreTarget.time(instant(t + (rnd.nextBoolean() ? 0 : 1)), rnd.nextBoolean()));
        }
        int n = 0;
        for (RestoreTarget target : targets) {
            Point expected = expectedAt(timed, target);
            Path dir = base.resolve("restore-" + n++);
            long lastTime = times.get(((TreeMap<Long, Long>) times).lastKey());
            if (target.kind() == RestoreTarget.Kind.TIME
                    && (target.exclusive() ? target.timeMicros() > lastTime : target.timeMicros() >= lastTime)) {
                // a time target is reached only by seeing a commit past it: later commits, even in the
                // same microsecond as the last archived one, may exist that are not archived yet
                RestoreException e = assertThrows(RestoreException.class,
                        () -> Restore.run(archive, dir, Restore.Options.defaults().withTarget(target), new Restore.Listener() { }));
                assertTrue(e.getMessage().contains("the archive ends at LSN"), e.getMessage());
                continue;
            }
            if (expected == null || expected.lsn() < firstBackup) {
                RestoreException e = assertThrows(RestoreException.class,
                        () -> Restore.run(archive, dir, Restore.Options.defaults().withTarget(target), new Restore.Listener() { }),
                        target.describe());
                assertTrue(e.getMessage().contains("older than every base backup"), e.getMessage());
                continue;
            }
            Restore.Result r = Restore.run(archive, dir, Restore.Options.defaults().withTarget(target),
                    new Restore.Listener() { });
            assertEquals(expected.lsn(), r.lsn(), "seed " + seed + ", " + target.describe());
            try (Store restored = Store.open(dir)) {
                assertEquals(expected.lsn(), restored.lastLsn(), target.describe());
                assertEquals(new TreeMap<>(expected.state()), dump(restored), "seed " + seed + ", " + target.describe());
            }
        }
        // targets before the oldest backup say so
        if (firstBackup > 2) {
            RestoreTarget early = RestoreTarget.lsn(firstBackup - 1, false);
            RestoreException e = assertThrows(RestoreException.class, () -> Restore.run(archive, base.resolve("early"),
                    Restore.Options.defaults().withTarget(early), new Restore.Listener() { }));
            assertTrue(e.getMessage().contains("older than every base backup"), e.getMessage());
        }
        // past the end of the archive cannot be reached
        RestoreException past = assertThrows(RestoreException.class, () -> Restore.run(archive, base.resolve("past"),
                Restore.Options.defaults().withTarget(RestoreTarget.lsn(last + 5, false)), new Restore.Listener() { }));
        assertTrue(past.getMessage().contains("the archive ends at LSN"), past.getMessage());
    }

    /** The last point the target includes, or null if it includes none (times never go backwards). */
    private static Point expectedAt(List<Point> points, RestoreTarget target) {
        Point out = null;
        for (Point p : points) {
            // the oracle is written out here, independent of RestoreTarget.includes
            boolean in = switch (target.kind()) {
                case END -> true;
                case LSN -> target.exclusive() ? p.lsn() < target.lsn() : p.lsn() <= target.lsn();
                case TIME -> target.exclusive() ? p.timeMicros() < target.timeMicros() : p.timeMicros() <= target.timeMicros();
            };
            if (!in) {
                break;
            }
            out = p;
        }
        return out;
    }

    private static TreeMap<String, String> dump(Store s) {
        TreeMap<String, String> out = new TreeMap<>();
        s.scan(null, null, (k, v) -> {
            out.put(new String(k, StandardCharsets.UTF_8), new String(v, StandardCharsets.UTF_8));
            return true;
        });
        return out;
    }

    private static Instant instant(long micros) {
        return Instant.ofEpochSecond(micros / 1_000_000, (micros % 1_000_000) * 1_000);
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
