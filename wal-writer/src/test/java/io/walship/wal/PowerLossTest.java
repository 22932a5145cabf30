package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import net.openhft.chronicle.core.time.SetTimeProvider;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Power loss, simulated in the spirit of ALICE and CrashMonkey. Writers commit while the test
 * records, through the sync seam, how far each WAL file was synced. At a random moment syncs are
 * held and the data directory is copied: the copy is the disk as the kernel might have left it.
 * Then, in the copy, every 4 KiB page of the WAL that was written after its file's last sync —
 * and only those — is kept, dropped (the write never reached the disk: zeros, or the synced bytes
 * of the page holding the synced end), or torn (some 512-byte sectors lost); a cycle file never
 * synced may vanish entirely; the durable-point file (written back whenever the kernel likes) is
 * kept, turned back to an older value, or lost, and says the writer ran before a restart. Recovery must open the copy with every
 * acknowledged commit, the state digest must equal a model's at the recovered LSN, a replay of the
 * whole WAL must agree, and the recovered WAL must take new commits that survive a reopen.
 *
 * <p>Rounds: {@code walship.powerloss.rounds} (8; 100 under {@code -Pstress}); the seed is printed
 * and can be given with {@code walship.powerloss.seed}.
 */
class PowerLossTest {
    private static final int PAGE = 4096;
    private static final int SECTOR = 512;

    @TempDir
    Path tmp;

    /** One commit: its LSN, its operations (null value: delete), and when it was acknowledged durable (0: not). */
    private record Commit(long lsn, List<WriteBatch.Op> ops, long ackSeq) {
    }

    @Test
    void everyAcknowledgedCommitSurvivesTheLossOfTheUnsyncedWalTail() throws Exception {
        int rounds = Integer.getInteger("walship.powerloss.rounds", 8);
        long seed = Long.getLong("walship.powerloss.seed", new SecureRandom().nextLong());
        System.out.println("PowerLossTest: seed " + seed + ", " + rounds + " rounds (repeat with -Dwalship.powerloss.seed="
                + seed + ")");
        Random master = new Random(seed);
        for (int round = 0; round < rounds; round++) {
            long roundSeed = master.nextLong();
            try {
                round(tmp.resolve("r" + round), new Random(roundSeed));
            } catch (AssertionError | RuntimeException e) {
                throw new AssertionError("round " + round + " of seed " + seed + " failed: " + e.getMessage(), e);
            }
        }
    }

    private void round(Path base, Random rnd) throws Exception {
        Path dir = base.resolve("data");
        Path copy = base.resolve("copy");
        TestSync sync = new TestSync();
        SetTimeProvider clock = new SetTimeProvider(Instant.parse("2026-11-24T10:00:00Z"));
        StoreOptions opts = StoreOptions.defaults().withPoolPages(128).withCheckpoint(64 << 10, Duration.ofMillis(100));
        Map<Long, Commit> commits = new ConcurrentHashMap<>();
        AtomicLong ackSeq = new AtomicLong();
        AtomicLong values = new AtomicLong();
        AtomicBoolean stop = new AtomicBoolean();
        int target = 50 + rnd.nextInt(500);
        long cutoff;
        Map<Path, Long> synced;
        try (Store store = Store.open(dir, opts, WalSeams.defaults().withSync(sync).withWalTime(clock))) {
            List<Thread> writers = new ArrayList<>();
            for (int t = 0; t < 3; t++) {
                Random wr = new Random(rnd.nextLong());
                Thread th = new Thread(() -> write(store, wr, commits, ackSeq, values, stop), "writer-" + t);
                writers.add(th);
                th.start();
            }
            awaitAcks(ackSeq, target / 2);
            if (rnd.nextBoolean()) {
                clock.advanceMillis(3_600_000); // the next commits open a new cycle file
            }
            awaitAcks(ackSeq, target);
            sync.close(); // from here until the copy is made, nothing more becomes durable
            try {
                synced = new HashMap<>(sync.syncedUpTo);
                WalSurgery.copyTree(dir, copy);
                cutoff = ackSeq.get(); // every acknowledgement so far was synced before the copy
            } finally {
                sync.open();
            }
            awaitAcks(ackSeq, cutoff + 100);
            stop.set(true);
            for (Thread th : writers) {
                th.join(60_000);
            }
        }
        losePower(copy, dir, synced, rnd);

        SetTimeProvider later = new SetTimeProvider(Instant.ofEpochMilli(clock.currentTimeMillis()));
        WalSeams seams = WalSeams.defaults().withWalTime(later);
        long recovered;
        TreeMap<String, byte[]> model;
        try (Store store = Store.open(copy, opts, seams)) {
            recovered = store.lastLsn();
            for (Commit c : commits.values()) {
                if (c.ackSeq() > 0 && c.ackSeq() <= cutoff) {
                    assertTrue(c.lsn() <= recovered, "acknowledged LSN " + Lsn.format(c.lsn()) + " lost: recovered to "
                            + Lsn.format(recovered));
                }
            }
            model = model(commits, recovered);
            StateDigest d = store.digest();
            assertEquals(digest(model), d.sha256(), "the recovered content differs from the model at LSN "
                    + Lsn.format(recovered));
            assertEquals(model.size(), d.pairs());
            assertEquals(d, PageImage.replayWal(copy).digest(), "a replay of the whole WAL differs");
            for (int i = 0; i < 3; i++) {
                byte[] v = ("after-" + i).getBytes(StandardCharsets.UTF_8);
                assertEquals(recovered + 1 + i, store.put(("after" + i).getBytes(StandardCharsets.UTF_8), v));
                model.put("after" + i, v);
            }
        }
        try (Store store = Store.open(copy, opts, seams)) {
            assertEquals(recovered + 3, store.lastLsn(), "commits made after recovery are reachable after a reopen");
            assertEquals(digest(model), store.digest().sha256());
        }
        try (WalReader r = WalReader.open(copy)) {
            r.seek(1);
            long n = 0;
            while (r.next() != null) {
                n++;
            }
            assertEquals(recovered + 3, n, "a reader sees one continuous WAL");
        }
    }

    private static void write(Store store, Random rnd, Map<Long, Commit> commits, AtomicLong ackSeq, AtomicLong values,
                              AtomicBoolean stop) {
        while (!stop.get()) {
            WriteBatch batch = new WriteBatch();
            // every batch writes a value never written before, so no batch is a no-op without an LSN
            batch.put(key(rnd), value(rnd, values));
            if (rnd.nextInt(4) == 0) {
                batch.put(key(rnd), value(rnd, values)).delete(key(rnd));
            }
            boolean durable = rnd.nextInt(10) != 0;
            long lsn = store.write(batch, durable ? Durability.DURABLE : Durability.ASYNC);
            commits.put(lsn, new Commit(lsn, batch.ops(), durable ? ackSeq.incrementAndGet() : 0));
        }
    }

    private static byte[] key(Random rnd) {
        return ("k" + rnd.nextInt(400)).getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] value(Random rnd, AtomicLong values) {
        return ("v" + values.incrementAndGet() + "-" + "x".repeat(rnd.nextInt(300))).getBytes(StandardCharsets.UTF_8);
    }

    private static void awaitAcks(AtomicLong acks, long n) {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (acks.get() < n) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("only " + acks.get() + " of " + n + " commits acknowledged in 60 s");
            }
            Thread.onSpinWait();
        }
    }

    /** The state after every commit up to {@code lsn}, applied in LSN order. */
    private static TreeMap<String, byte[]> model(Map<Long, Commit> commits, long lsn) {
        TreeMap<String, byte[]> m = new TreeMap<>();
        for (long l = 2; l <= lsn; l++) {
            Commit c = commits.get(l);
            assertNotNull(c, "LSN " + Lsn.format(l) + " is in the recovered WAL but was never written");
            for (WriteBatch.Op op : c.ops()) {
                String k = new String(op.key(), StandardCharsets.UTF_8);
                if (op.isDelete()) {
                    m.remove(k);
                } else {
                    m.put(k, op.value());
                }
            }
        }
        return m;
    }

    /** {@link StateDigest}'s hash of a model (ASCII keys: String order is unsigned byte order). */
    private static String digest(TreeMap<String, byte[]> model) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        for (Map.Entry<String, byte[]> e : model.entrySet()) {
            byte[] k = e.getKey().getBytes(StandardCharsets.UTF_8);
            md.update(ByteBuffer.allocate(4).putInt(k.length).array());
            md.update(k);
            md.update(ByteBuffer.allocate(4).putInt(e.getValue().length).array());
            md.update(e.getValue());
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /** Mangles the copy's unsynced WAL as a power loss may; nothing that was synced is touched. */
    private static void losePower(Path copy, Path original, Map<Path, Long> synced, Random rnd) throws IOException {
        Path walDir = copy.resolve(WalLog.DIR_NAME);
        for (Path f : WalSurgery.files(walDir, ".cq4")) {
            Long end = synced.get(original.resolve(WalLog.DIR_NAME).resolve(f.getFileName().toString()));
            if (end == null) {
                if (rnd.nextBoolean()) {
                    Files.delete(f); // created after the last sync: its directory entry may be gone too
                    continue;
                }
                end = 0L;
            }
            if (end != Long.MAX_VALUE) {
                mangle(f, end, rnd);
            }
        }
        // the machine restarts after the power loss; the durable point is as last written back
        Path point = copy.resolve(DurablePoint.FILE_NAME);
        int choice = rnd.nextInt(4);
        long now = WalSurgery.durablePoint(copy);
        if (choice == 0) {
            Files.delete(point);
        } else if (choice == 1) {
            long checkpoint = ControlFile.read(copy).checkpointLsn();
            WalSurgery.durablePointFromAnotherBoot(copy,
                    checkpoint + (now > checkpoint ? rnd.nextLong(now - checkpoint + 1) : 0));
        } else {
            WalSurgery.durablePointFromAnotherBoot(copy, now);
        }
    }

    private static void mangle(Path file, long syncedEnd, Random rnd) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long dataEnd = lastNonZero(ch) + 1;
            for (long page = syncedEnd / PAGE * PAGE; page < dataEnd; page += PAGE) {
                long from = Math.max(page, syncedEnd);
                int what = rnd.nextInt(5);
                if (what <= 1) {
                    continue; // kept: written back before the power went
                }
                if (what <= 3) {
                    zero(ch, from, page + PAGE); // dropped
                } else {
                    for (long s = page; s < page + PAGE; s += SECTOR) { // torn: some sectors made it
                        if (rnd.nextBoolean() && s + SECTOR > from) {
                            zero(ch, Math.max(s, from), s + SECTOR);
                        }
                    }
                }
            }
        }
    }

    private static long lastNonZero(FileChannel ch) throws IOException {
        long size = ch.size();
        ByteBuffer b = ByteBuffer.allocate(1 << 20);
        long last = -1;
        for (long pos = 0; pos < size; pos += b.capacity()) {
            b.clear();
            int n = ch.read(b, pos);
            for (int i = n - 1; i >= 0; i--) {
                if (b.get(i) != 0) {
                    last = pos + i;
                    break;
                }
            }
        }
        return last;
    }

    private static void zero(FileChannel ch, long from, long to) {
        try {
            ByteBuffer z = ByteBuffer.allocate((int) (to - from));
            while (z.hasRemaining()) {
                ch.write(z, from + z.position());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void theModelAndTheSimulationAgreeOnAnUntouchedCopy() throws Exception {
        // the harness itself: without any damage, the copy is the store at the copy's moment
        Path dir = tmp.resolve("plain");
        try (Store store = Store.open(dir)) {
            store.put("a".getBytes(StandardCharsets.UTF_8), "1".getBytes(StandardCharsets.UTF_8));
        }
        TreeMap<String, byte[]> m = new TreeMap<>();
        m.put("a", "1".getBytes(StandardCharsets.UTF_8));
        try (Store store = Store.open(dir)) {
            assertEquals(digest(m), store.digest().sha256());
            assertNull(store.get("b".getBytes(StandardCharsets.UTF_8)));
        }
    }
}
