package io.walship.wal;

import java.io.PrintStream;
import java.io.FileOutputStream;
import java.io.FileDescriptor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Child process of {@link CrashRecoveryTest}: concurrent durable commits, each acknowledged on
 * stdout only after {@link Store#write} returned. Runs until it is killed.
 *
 * <p>Lines: {@code P <lsn> <key> <value>} for a put, {@code B <lsn> <prefix> <value>} for a
 * batch that put {@code <prefix>a}, {@code <prefix>b}, {@code <prefix>c} and deleted
 * {@code <prefix>gone}.
 */
public final class CrashWriter {
    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        String round = args[1];
        int threads = Integer.parseInt(args[2]);
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), false, StandardCharsets.UTF_8);
        StoreOptions opts = StoreOptions.defaults().withCheckpoint(256 << 10, Duration.ofMillis(300)).withPoolPages(256);
        Store store = Store.open(dir, opts);
        synchronized (out) {
            out.println("READY " + Lsn.format(store.lastLsn()));
            out.flush();
        }
        for (int t = 0; t < threads; t++) {
            int id = t;
            Thread th = new Thread(() -> {
                for (long i = 0; ; i++) {
                    String value = round + "-" + id + "-" + i + "-" + "x".repeat((int) (i % 90));
                    if (i % 4 == 3) {
                        String prefix = "b" + round + "." + id + "." + i + ".";
                        WriteBatch batch = new WriteBatch()
                                .put(b(prefix + "a"), b(value)).put(b(prefix + "b"), b(value))
                                .put(b(prefix + "c"), b(value)).delete(b(prefix + "gone"));
                        long lsn = store.write(batch);
                        line(out, "B " + lsn + " " + prefix + " " + value);
                    } else {
                        String key = "p" + round + "." + id + "." + i;
                        long lsn = store.put(b(key), b(value));
                        line(out, "P " + lsn + " " + key + " " + value);
                    }
                    if (i % 7 == 0) {
                        // overwrite an older key so recovery sees updates as well as inserts
                        store.put(b("shared." + (i % 50)), b(value));
                    }
                }
            });
            th.start();
        }
        new java.util.concurrent.CountDownLatch(1).await(); // until killed
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
