package io.walship.wal;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.CountDownLatch;

/**
 * Child process of {@link StressTest}: durable writers over a key space much larger than the
 * page cache, until it is killed. Each writer announces an operation before it starts it and
 * acknowledges it after {@link Store#write} returned:
 *
 * <pre>
 * I thread seq key P|D .   intent: put (value {@link #value}) or delete
 * A thread seq lsn .       acknowledged: durable at lsn
 * </pre>
 *
 * A writer has at most one operation between its intent and its acknowledgement. The final
 * {@code .} tells a complete line from one the kill cut short.
 * Arguments: data directory, seed, threads, key count.
 */
public final class StressWriter {
    /** The store's options in the stress test: a 1 MiB cache, a checkpoint every MiB of WAL (or 300 ms). */
    static StoreOptions options() {
        return StoreOptions.defaults().withPoolPages(256).withCheckpoint(1L << 20, java.time.Duration.ofMillis(300));
    }

    static String key(int i) {
        return String.format("k%06d", i);
    }

    /** The value a put with this seed, thread and sequence number writes (80 to 239 bytes). */
    static byte[] value(long seed, int thread, long seq) {
        Random r = new Random(seed * 1_000_003L + thread * 7_919L + seq);
        byte[] v = new byte[80 + r.nextInt(160)];
        r.nextBytes(v);
        return v;
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        long seed = Long.parseLong(args[1]);
        int threads = Integer.parseInt(args[2]);
        int keys = Integer.parseInt(args[3]);
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), false, StandardCharsets.UTF_8);
        Store store = Store.open(dir, options());
        line(out, "READY " + Lsn.format(store.lastLsn()));
        for (int t = 0; t < threads; t++) {
            int id = t;
            Thread th = new Thread(() -> {
                Random rnd = new Random(seed + id);
                for (long seq = 0; ; seq++) {
                    String key = key(rnd.nextInt(keys));
                    boolean delete = rnd.nextInt(10) == 0;
                    line(out, "I " + id + " " + seq + " " + key + " " + (delete ? "D" : "P") + " .");
                    long lsn = delete ? store.delete(b(key)) : store.put(b(key), value(seed, id, seq));
                    line(out, "A " + id + " " + seq + " " + lsn + " .");
                }
            }, "stress-writer-" + t);
            th.start();
        }
        new CountDownLatch(1).await(); // until killed
    }

    private static void line(PrintStream out, String s) {
        synchronized (out) {
            out.println(s);
            out.flush();
        }
    }

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
