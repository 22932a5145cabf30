package io.walship.shipper;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.StorageException;
import io.walship.wal.Durability;
import io.walship.wal.IntegrityException;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A base backup where both sides fail: the image meets a damaged page (an {@link IntegrityException},
 * exit 3) and the archive's create fails on its own (here a storage error raised after the damage,
 * before the upload read the pipe's end). The damaged page must not vanish: BaseBackup rethrows the
 * store's failure alone ("the producer then failed on the closed pipe: not the cause") and the
 * integrity error is neither thrown, nor a cause, nor suppressed — the operator sees a retryable
 * storage error (exit 1) and never learns that the store's pages are damaged.
 */
class BaseBackupBothFailTest {
    private static final long SEED = 20261203L;

    @TempDir
    Path tmp;

    private static boolean mentions(Throwable t, Throwable wanted) {
        List<Throwable> todo = new ArrayList<>(List.of(t));
        for (int i = 0; i < todo.size() && i < 100; i++) {
            Throwable x = todo.get(i);
            if (x == wanted) {
                return true;
            }
            if (x.getCause() != null) {
                todo.add(x.getCause());
            }
            todo.addAll(List.of(x.getSuppressed()));
        }
        return false;
    }

    @Test
    @Timeout(120)
    void aDamagedPageIsNotSwallowedWhenTheArchiveAlsoFails() throws Exception {
        System.out.println("seed " + SEED);
        IntegrityException damaged = new IntegrityException("page 17: checksum mismatch");
        CountDownLatch sourceFailed = new CountDownLatch(1);
        try (Store store = Store.open(tmp.resolve("data"));
             ObjectStore local = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            Random rnd = new Random(SEED);
            for (int i = 0; i < 3_000; i++) {
                byte[] v = new byte[100];
                rnd.nextBytes(v);
                store.put(String.format("k%08d", i).getBytes(StandardCharsets.UTF_8), v, Durability.ASYNC);
            }
            // (uncompressed: the 100 kB before the damage are in the pipe at once)
            // the archive: its image create reads a little, then (once the image has failed and the
            // compressing thread is gone) fails on its own, as a disk or S3 error would
            ObjectStore archive = (ObjectStore) Proxy.newProxyInstance(ObjectStore.class.getClassLoader(),
                    new Class<?>[] {ObjectStore.class}, (proxy, m, args) -> {
                        if (m.getName().equals("createOrSame") && args[1] instanceof InputStream in
                                && ((String) args[0]).contains("image-")) {
                            in.readNBytes(1_000);
                            assertTrue(sourceFailed.await(60, TimeUnit.SECONDS));
                            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                            while (compressorAlive()) {
                                assertTrue(System.nanoTime() < deadline, "the compressing thread ends");
                                java.util.concurrent.locks.LockSupport.parkNanos(1_000_000L); // polled, with a deadline
                            }
                            throw new StorageException("create " + args[0] + ": HTTP 500 InternalError");
                        }
                        try {
                            return m.invoke(local, args);
                        } catch (InvocationTargetException e) {
                            throw e.getCause();
                        }
                    });
            try (Snapshot snap = store.snapshot()) {
                StateDigest digest = StateDigest.of(snap.pages(), snap.lsn());
                long cutAt = 100_000;
                assertTrue(snap.imageSize() > cutAt);
                try (InputStream image = new FilterInputStream(snap.openStream()) {
                    private long read;

                    @Override
                    public int read(byte[] b, int off, int len) throws IOException {
                        if (read >= cutAt) {
                            sourceFailed.countDown();
                            throw damaged;
                        }
                        int n = super.read(b, off, (int) Math.min(len, cutAt - read));
                        if (n > 0) {
                            read += n;
                        }
                        return n;
                    }
                }) {
                    Throwable t = assertThrows(Throwable.class,
                            () -> BaseBackup.upload(image, digest, archive, Codec.NONE, x -> { }));
                    t.printStackTrace(System.out);
                    assertTrue(mentions(t, damaged), "the damaged page (" + damaged.getMessage()
                            + ") is reported, as the failure, its cause or suppressed; got only: " + t);
                }
            }
        }
    }

    private static boolean compressorAlive() {
        return Thread.getAllStackTraces().keySet().stream()
                .anyMatch(th -> th.getName().equals("walship-backup-compress") && th.isAlive());
    }
}
