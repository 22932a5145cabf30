package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.security.SecureRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kills a writer JVM (SIGKILL) in the middle of concurrent durable commits, over and over on the
 * same data directory, and checks after each kill that every acknowledged commit is there, that
 * no batch is half-applied, and that a replay of the whole WAL from LSN 1 gives the recovered
 * store's digest. Rounds: {@code walship.crash.rounds} (20; 200 under {@code -Pstress}). The
 * moment of each kill is a random number of acknowledged commits, from a seed that is printed
 * and can be given with {@code walship.crash.seed}.
 */
class CrashRecoveryTest {
    @TempDir
    Path tmp;

    private record Ack(char kind, long lsn, String key, String value) {
    }

    @Test
    void acknowledgedCommitsSurviveSigkill() throws Exception {
        int rounds = Integer.getInteger("walship.crash.rounds", 20);
        long seed = Long.getLong("walship.crash.seed", new SecureRandom().nextLong());
        System.out.println("CrashRecoveryTest: seed " + seed + ", " + rounds + " rounds (repeat with -Dwalship.crash.seed="
                + seed + ")");
        Path dir = tmp.resolve("data");
        Random rnd = new Random(seed);
        List<Ack> acked = new ArrayList<>();
        long lastRecovered = 0;
        for (int round = 0; round < rounds; round++) {
            Process p = ChildJvm.start(CrashWriter.class, List.of(dir.toString(), "r" + round, "8"),
                    tmp.resolve("child-" + round + ".err"));
            BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String ready = in.readLine();
            if (ready == null || !ready.startsWith("READY")) {
                fail("writer did not start: " + ready + "\n" + Files.readString(tmp.resolve("child-" + round + ".err")));
            }
            long startLsn = Lsn.parse(ready.substring(6));
            assertTrue(startLsn >= lastRecovered, "writer started at " + startLsn + " below " + lastRecovered);
            if (round == 0) {
                StoreLockedException e = assertThrows(StoreLockedException.class, () -> Store.open(dir));
                assertTrue(e.getMessage().contains("by process " + p.pid()), e.getMessage());
            }
            List<String> lines = java.util.Collections.synchronizedList(new ArrayList<>());
            Thread reader = new Thread(() -> {
                try {
                    String l;
                    while ((l = in.readLine()) != null) {
                        lines.add(l);
                    }
                } catch (Exception ignored) {
                    // the pipe breaks when the child dies
                }
            });
            reader.start();
            int acks = 20 + rnd.nextInt(1500); // the moment of the kill: after this many acknowledgements
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (lines.size() < acks && p.isAlive() && System.nanoTime() < deadline) {
                LockSupport.parkNanos(100_000);
            }
            assertTrue(p.isAlive(), "round " + round + " (seed " + seed + "): the writer died by itself\n"
                    + Files.readString(tmp.resolve("child-" + round + ".err")));
            p.destroyForcibly(); // SIGKILL
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
            reader.join(10_000);
            for (String l : new ArrayList<>(lines)) {
                String[] f = l.split(" ", 4);
                acked.add(new Ack(f[0].charAt(0), Long.parseLong(f[1]), f[2], f[3]));
            }
            assertTrue(lines.size() >= acks, "round " + round + " (seed " + seed + ") acknowledged only " + lines.size()
                    + " commits in 60 s");
            lastRecovered = verify(dir, acked);
        }
    }

    /** Opens the killed store and checks it; returns its last LSN. */
    private long verify(Path dir, List<Ack> acked) {
        StateDigest digest;
        long last;
        try (Store store = Store.open(dir)) {
            for (Ack a : acked) {
                assertTrue(store.lastLsn() >= a.lsn(), "acknowledged LSN " + a.lsn() + " lost");
                if (a.kind() == 'P') {
                    assertEquals(a.value(), str(store.get(b(a.key()))), "acknowledged put " + a.key());
                } else {
                    for (String s : new String[] {"a", "b", "c"}) {
                        assertEquals(a.value(), str(store.get(b(a.key() + s))), "acknowledged batch " + a.key());
                    }
                }
            }
            // no batch half-applied, acknowledged or not
            Map<String, Integer> parts = new TreeMap<>();
            store.scan(b("b"), b("c"), (k, v) -> {
                String key = str(k);
                parts.merge(key.substring(0, key.length() - 1), 1, Integer::sum);
                return true;
            });
            parts.forEach((prefix, n) -> assertEquals(3, n, "batch " + prefix + " half-applied"));
            digest = store.digest();
            last = store.lastLsn();
        }
        PageImage image = PageImage.replayWal(dir);
        assertEquals(last, image.lsn());
        assertEquals(digest, image.digest(), "replay of the WAL from LSN 1 differs from the recovered store");
        return last;
    }

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String str(byte[] b) {
        assertNotNull(b);
        return new String(b, StandardCharsets.UTF_8);
    }
}
