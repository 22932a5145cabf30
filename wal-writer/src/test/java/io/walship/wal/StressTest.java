package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The store at real size under kill -9: a store at least 8x its page cache, 16 durable writers
 * in a child JVM ({@link StressWriter}) with a checkpoint every MiB of WAL, killed with SIGKILL
 * after a random number of acknowledged writes, round after round on the same directory. After
 * each kill: every acknowledged write is there, every difference from the model is one of the
 * operations that were in flight, the content digest equals the model's, and a replay of the
 * whole WAL gives the same digest. Rounds: {@code walship.stress.rounds} (4; 100 under
 * {@code -Pstress}); seed: {@code walship.stress.seed} (random, printed).
 */
class StressTest {
    private static final int THREADS = 16;
    private static final int KEYS = 60_000; // 8x the cache now that sequential loads pack leaves

    /** Kept when the test fails, to investigate (the failure names it). */
    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path tmp;
    /** Every operation of every round, by key, for the failure message. */
    private final Map<String, List<String>> keyHistory = new HashMap<>();

    /** One writer operation as the child announced it. */
    private record Op(int thread, long seq, String key, boolean delete, long roundSeed) {
        byte[] value() {
            return delete ? null : StressWriter.value(roundSeed, thread, seq);
        }
    }

    @Test
    void acknowledgedWritesSurviveSigkillInAStoreEightTimesItsCache() throws Exception {
        int rounds = Integer.getInteger("walship.stress.rounds", 4);
        long seed = Long.getLong("walship.stress.seed", System.nanoTime());
        System.out.println("StressTest: " + rounds + " rounds, seed " + seed + " (-Dwalship.stress.seed=" + seed
                + " repeats it)");
        Random rnd = new Random(seed);
        Path dir = tmp.resolve("data");
        TreeMap<String, byte[]> model = new TreeMap<>();
        fill(dir, model, new Random(rnd.nextLong()));

        for (int r = 0; r < rounds; r++) {
            int round = r;
            long roundSeed = rnd.nextLong();
            int killAfter = 500 + rnd.nextInt(5_500);
            Path err = tmp.resolve("child-" + round + ".err");
            Path out = tmp.resolve("child-" + round + ".out");
            Process p = ChildJvm.startToFile(StressWriter.class,
                    List.of(dir.toString(), Long.toString(roundSeed), Integer.toString(THREADS), Integer.toString(KEYS)),
                    out, err);
            try {
                Poll.until(Duration.ofSeconds(120), () -> count(out, "READY") > 0 || !p.isAlive(),
                        () -> "round " + round + ": the writer did not start");
                assertTrue(p.isAlive(), () -> "round " + round + ": writer died: " + readQuietly(err));
                Poll.until(Duration.ofSeconds(120), () -> count(out, "A ") >= killAfter || !p.isAlive(),
                        () -> "round " + round + ": " + count(out, "A ") + " of " + killAfter + " writes acknowledged");
                assertTrue(p.isAlive(), () -> "writer died by itself: " + readQuietly(err));
            } finally {
                p.destroyForcibly(); // SIGKILL
            }
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            List<String> lines = Files.readAllLines(out, StandardCharsets.UTF_8);
            lines.remove(0); // READY
            verify(dir, model, new ArrayList<>(lines), roundSeed, round);
        }
    }

    /** The base: every key once, in batches; the model starts from it. */
    private static void fill(Path dir, TreeMap<String, byte[]> model, Random rnd) {
        try (Store store = Store.open(dir, StressWriter.options())) {
            for (int i = 0; i < KEYS; i += 500) {
                WriteBatch batch = new WriteBatch();
                for (int k = i; k < i + 500; k++) {
                    byte[] v = new byte[80 + rnd.nextInt(160)];
                    rnd.nextBytes(v);
                    batch.put(b(StressWriter.key(k)), v);
                    model.put(StressWriter.key(k), v);
                }
                store.write(batch, Durability.ASYNC);
            }
            int pages = store.pageCountForTesting();
            assertTrue(pages >= 8 * store.stats().poolCapacityPages(),
                    "store of " + pages + " pages is not 8x its cache of " + store.stats().poolCapacityPages());
        }
    }

    private void verify(Path dir, TreeMap<String, byte[]> model, List<String> lines, long roundSeed, int round) {
        Map<String, Op> intents = new HashMap<>(); // thread/seq -> op
        List<long[]> acked = new ArrayList<>();    // lsn, thread, seq
        for (String l : lines) {
            String[] f = l.split(" ");
            if (f.length != (f[0].equals("I") ? 6 : 5) || !f[f.length - 1].equals(".")) {
                continue; // cut short by the kill: an intent not started, or an acknowledgement not given
            }
            if (f[0].equals("I")) {
                Op op = new Op(Integer.parseInt(f[1]), Long.parseLong(f[2]), f[3], f[4].equals("D"), roundSeed);
                keyHistory.computeIfAbsent(f[3], x -> new ArrayList<>()).add("round " + round + " thread " + f[1]
                        + " seq " + f[2] + ": " + (op.delete() ? "delete" : "put " + describe(op.value())));
                intents.put(f[1] + "/" + f[2], new Op(Integer.parseInt(f[1]), Long.parseLong(f[2]), f[3],
                        f[4].equals("D"), roundSeed));
            } else if (f[0].equals("A")) {
                String id = f[1] + "/" + f[2];
                Op op = intents.get(id);
                if (op != null) {
                    keyHistory.get(op.key()).add("round " + round + " thread " + f[1] + " seq " + f[2]
                            + ": acknowledged at LSN " + f[3]);
                }
                acked.add(new long[] {Long.parseLong(f[3]), Long.parseLong(f[1]), Long.parseLong(f[2])});
            }
        }
        assertTrue(!acked.isEmpty(), "round " + round + " acknowledged nothing");
        acked.sort((x, y) -> Long.compare(x[0], y[0]));
        long maxAcked = 0;
        for (long[] a : acked) {
            Op op = intents.remove(a[1] + "/" + a[2]);
            if (op.delete()) {
                model.remove(op.key());
            } else {
                model.put(op.key(), op.value());
            }
            maxAcked = Math.max(maxAcked, a[0]);
        }
        // what remains in intents was in flight at the kill: it may or may not have happened
        Map<String, List<Op>> inFlight = new HashMap<>();
        for (Op op : intents.values()) {
            inFlight.computeIfAbsent(op.key(), k -> new ArrayList<>()).add(op);
        }
        assertTrue(inFlight.values().stream().mapToInt(List::size).sum() <= THREADS);

        StateDigest digest;
        try (Store store = Store.open(dir, StressWriter.options())) {
            assertTrue(store.lastLsn() >= maxAcked, "acknowledged LSN " + maxAcked + " lost: store at "
                    + store.lastLsn() + " (round " + round + ")");
            TreeMap<String, byte[]> actual = new TreeMap<>();
            store.scan(null, null, (k, v) -> {
                actual.put(new String(k, StandardCharsets.UTF_8), v);
                return true;
            });
            for (String k : union(model, actual)) {
                byte[] want = model.get(k);
                byte[] got = actual.get(k);
                if (Arrays.equals(want, got)) {
                    continue;
                }
                Op explains = null;
                for (Op op : inFlight.getOrDefault(k, List.of())) {
                    if (Arrays.equals(op.value(), got)) {
                        explains = op;
                    }
                }
                if (explains == null) {
                    fail("round " + round + ": key " + k + " is " + describe(got) + " but the last acknowledged write"
                            + " made it " + describe(want) + ", and no write in flight explains it"
                            + " (store at " + Lsn.format(store.lastLsn()) + ", checkpoint "
                            + Lsn.format(store.checkpointLsn()) + ", directory " + dir + "). Operations on the key:\n  "
                            + String.join("\n  ", keyHistory.getOrDefault(k, List.of("(none since the fill)"))));
                }
                if (got == null) {
                    model.remove(k);
                } else {
                    model.put(k, got);
                }
            }
            System.out.printf("StressTest round %d: %d writes acknowledged, %d in flight, store at LSN %s,"
                    + " checkpoint %s, %d pages through a cache of %d%n", round, acked.size(), intents.size(),
                    Lsn.format(store.lastLsn()), Lsn.format(store.checkpointLsn()), store.pageCountForTesting(),
                    store.stats().poolCapacityPages());
            digest = store.digest();
            assertEquals(modelDigest(model), digest.sha256(), "round " + round + ": digest differs from the model's");
            assertEquals(model.size(), digest.pairs());
            assertTrue(store.pageCountForTesting() >= 8 * store.stats().poolCapacityPages());
            assertTrue(store.stats().poolPages() <= store.stats().poolCapacityPages() + 64,
                    "cache " + store.stats().poolPages());
        }
        // after the open made the recovered tail durable (a reader of a killed directory sees only
        // what was durable before the kill), a replay of the whole WAL must give the same state
        StateDigest replayed = PageImage.replayWal(dir).digest();
        assertEquals(digest, replayed, "round " + round + ": a replay of the whole WAL differs");
    }

    /** Lines of the child's output so far that start with {@code prefix}. */
    private static int count(Path out, String prefix) {
        try {
            int n = 0;
            for (String l : Files.readAllLines(out, StandardCharsets.ISO_8859_1)) {
                if (l.startsWith(prefix)) {
                    n++;
                }
            }
            return n;
        } catch (java.io.IOException e) {
            return 0;
        }
    }

    private static List<String> union(Map<String, byte[]> a, Map<String, byte[]> b) {
        TreeMap<String, Boolean> all = new TreeMap<>();
        a.keySet().forEach(k -> all.put(k, true));
        b.keySet().forEach(k -> all.put(k, true));
        return new ArrayList<>(all.keySet());
    }

    /** SHA-256 over the pairs in key order, as {@link StateDigest} defines it. */
    private static String modelDigest(TreeMap<String, byte[]> model) {
        MessageDigest md = StateDigest.newSha256();
        byte[] len = new byte[4];
        for (Map.Entry<String, byte[]> e : model.entrySet()) {
            byte[] k = b(e.getKey());
            PageFormat.putInt(len, 0, k.length);
            md.update(len);
            md.update(k);
            PageFormat.putInt(len, 0, e.getValue().length);
            md.update(len);
            md.update(e.getValue());
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private static String describe(byte[] v) {
        return v == null ? "absent" : v.length + " bytes " + HexFormat.of().formatHex(v, 0, Math.min(8, v.length)) + "…";
    }

    private static String readQuietly(Path p) {
        try {
            return Files.readString(p);
        } catch (Exception e) {
            return "(no stderr: " + e.getMessage() + ")";
        }
    }

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
