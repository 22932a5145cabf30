package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import net.openhft.chronicle.core.time.SetTimeProvider;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real full disk: the store on a 16 MiB tmpfs (mounting one needs root; the test is skipped,
 * saying why, otherwise). Filling it must make writes fail with {@link StorageFullException} —
 * never a SIGBUS from a write into a mapped page tmpfs cannot back, never a lost acknowledged
 * commit, also when the next commit opens a new cycle file — and writes must work again once
 * space returns, with or without a reopen.
 */
class DiskFullTest {
    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void aFullDiskRefusesWritesLosesNothingAndWritesWorkAgainOnceSpaceReturns() throws Exception {
        Path mnt = tmp.resolve("small");
        Files.createDirectories(mnt);
        String why = mount(mnt);
        Assumptions.assumeTrue(why == null, () -> "skipped: cannot mount a tmpfs for the disk-full test (" + why + ")");
        try {
            run(mnt);
        } finally {
            unmount(mnt);
        }
    }

    private void run(Path mnt) throws IOException {
        Path dir = mnt.resolve("data");
        Path filler = mnt.resolve("filler");
        Map<String, byte[]> acked = new LinkedHashMap<>();
        byte[] value = new byte[1000];
        int n = 0;
        StoreOptions opts = StoreOptions.defaults().withPoolPages(8192);
        SetTimeProvider clock = new SetTimeProvider(Instant.parse("2026-11-24T10:00:00Z"));
        WalSeams seams = WalSeams.defaults().withWalTime(clock);
        try (Store store = Store.open(dir, opts, seams)) {
            for (; n < 200; n++) {
                put(store, acked, n, value);
            }
            fill(filler);
            StorageFullException full = null;
            for (int i = 0; i < 100_000 && full == null; i++, n++) {
                try {
                    put(store, acked, n, value);
                } catch (StorageFullException e) {
                    full = e;
                }
            }
            assertNotNull(full, "the disk never filled up");
            assertTrue(full.getMessage().contains("no space for the WAL") && full.getMessage().contains("free space"),
                    full.getMessage());
            assertTrue(store.failure().isEmpty(), "a full disk refuses commits; it does not stop the store");
            clock.advanceMillis(3_600_000); // the next commit needs a new cycle file
            int next = n++;
            StorageFullException roll = assertThrows(StorageFullException.class, () -> put(store, acked, next, value));
            assertTrue(roll.getMessage().contains("next WAL file"), roll.getMessage());
            assertTrue(store.failure().isEmpty());
            check(store, acked);
        }
        try (Store store = Store.open(dir, opts, seams)) { // the disk is still full
            check(store, acked);
            Files.delete(filler);
            for (int i = 0; i < 300; i++, n++) {
                put(store, acked, n, value);
            }
        }
        fill(filler);
        try (Store store = Store.open(dir, opts, seams)) {
            check(store, acked);
            Files.delete(filler);
            for (int i = 0; i < 100; i++, n++) {
                put(store, acked, n, value); // space returned without a reopen, too
            }
        }
        try (Store store = Store.open(dir, opts, seams)) {
            check(store, acked);
        }
    }

    private static void put(Store store, Map<String, byte[]> acked, int n, byte[] value) {
        byte[] v = value.clone();
        v[0] = (byte) n;
        v[1] = (byte) (n >> 8);
        store.put(b("key-" + n), v);
        acked.put("key-" + n, v);
    }

    private static void check(Store store, Map<String, byte[]> acked) {
        for (Map.Entry<String, byte[]> e : acked.entrySet()) {
            assertArrayEquals(e.getValue(), store.get(b(e.getKey())), "acknowledged " + e.getKey() + " lost");
        }
    }

    /** Writes a file until the file system is full. */
    private static void fill(Path filler) {
        byte[] chunk = new byte[64 << 10];
        try (OutputStream out = Files.newOutputStream(filler)) {
            while (true) {
                out.write(chunk);
            }
        } catch (IOException expected) {
            // full
        }
    }

    /** Mounts a 16 MiB tmpfs; returns null, or why it could not. */
    private static String mount(Path dir) throws Exception {
        if (!System.getProperty("os.name", "").toLowerCase().contains("linux")) {
            return "not Linux";
        }
        return exec(List.of("mount", "-t", "tmpfs", "-o", "size=16m", "walship-test", dir.toString()));
    }

    private static void unmount(Path dir) throws Exception {
        String failed = exec(List.of("umount", dir.toString()));
        if (failed != null) {
            String lazy = exec(List.of("umount", "-l", dir.toString()));
            if (lazy != null) {
                throw new AssertionError("could not unmount " + dir + ": " + failed + "; " + lazy);
            }
        }
    }

    private static String exec(List<String> cmd) throws Exception {
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (IOException e) {
            return e.getMessage();
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return String.join(" ", cmd) + " did not finish";
        }
        return p.exitValue() == 0 ? null : String.join(" ", cmd) + ": exit " + p.exitValue() + " " + out;
    }
}
