package io.walship.shipper;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.Objects;
import java.util.function.LongConsumer;
import java.util.function.LongFunction;

import io.walship.archive.BackupManifest;
import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.StoreOptions;
import io.walship.wal.Store;

/**
 * Where a base backup's snapshot comes from: a running leader, streamed over its HTTP API
 * ({@code --url}, the scheduler's {@code url:}), or a data directory that no process has open
 * ({@code --data}), opened here for the time of the backup. Either way {@link BaseBackup} uploads
 * the same image and manifest. Immutable.
 */
public sealed interface BackupSource permits BackupSource.Leader, BackupSource.StoppedStore {

    /**
     * Takes a base backup into {@code archive}.
     *
     * @param progress given the image size (-1 if unknown), returns what receives the bytes read so far
     */
    BackupManifest backup(ObjectStore archive, Codec codec, LongFunction<LongConsumer> progress)
            throws IOException, InterruptedException;

    /**
     * A running leader at {@code url} (http://HOST:PORT or https://); it keeps taking writes
     * throughout. {@code tls} verifies an https:// leader (null: the JVM's default trust store).
     */
    record Leader(String url, javax.net.ssl.SSLContext tls) implements BackupSource {
        public Leader {
            Objects.requireNonNull(url, "url");
        }

        public Leader(String url) {
            this(url, null);
        }

        @Override
        public BackupManifest backup(ObjectStore archive, Codec codec, LongFunction<LongConsumer> progress)
                throws IOException, InterruptedException {
            return new LeaderClient(url, tls).backup(archive, codec, progress);
        }
    }

    /** The data directory of a store that is not running (this process takes its lock). */
    record StoppedStore(Path dataDir) implements BackupSource {
        static final long STOPPED_STORE_CACHE = 32L << 20;

        public StoppedStore {
            Objects.requireNonNull(dataDir, "dataDir");
        }

        @Override
        public BackupManifest backup(ObjectStore archive, Codec codec, LongFunction<LongConsumer> progress) {
            // The backup reads each page twice, once for the image and once for the digest: a small
            // page cache will do (the kernel's page cache holds pages.dat anyway).
            StoreOptions options = StoreOptions.defaults().withCacheSize(STOPPED_STORE_CACHE);
            try (Store store = Store.open(dataDir, options); Snapshot snap = store.snapshot();
                 Snapshot forDigest = store.snapshot()) {
                if (forDigest.lsn() != snap.lsn()) {
                    throw new IllegalStateException("the store at " + dataDir + " moved from LSN " + snap.lsn() + " to "
                            + forDigest.lsn() + " while this process held its lock");
                }
                // Nothing else writes to the store (this process holds its lock), so the digest's key-order
                // scan of a second snapshot runs beside the image's read and compression: on a machine with
                // a core to spare it no longer adds its whole scan before the upload starts.
                FutureTask<StateDigest> digest = new FutureTask<>(() -> StateDigest.of(forDigest.pages(), forDigest.lsn()));
                Thread t = new Thread(digest, "walship-backup-digest");
                t.setDaemon(true);
                t.start();
                try {
                    return BaseBackup.upload(snap, () -> result(digest), archive, codec, progress.apply(snap.imageSize()));
                } finally {
                    // not interrupted: an interrupt during a FileChannel read closes the store's page file
                    joinUninterruptibly(t);
                }
            }
        }

        private static StateDigest result(FutureTask<StateDigest> digest) throws IOException {
            try {
                return digest.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted while computing the state digest");
            } catch (ExecutionException e) {
                if (e.getCause() instanceof RuntimeException r) {
                    throw r;
                }
                if (e.getCause() instanceof Error err) {
                    throw err;
                }
                throw new IOException("computing the state digest failed: " + e.getCause(), e.getCause());
            }
        }

        /** Waits for the digest thread to end, so the store is not closed under it. */
        private static void joinUninterruptibly(Thread t) {
            boolean interrupted = false;
            while (true) {
                try {
                    t.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
