package io.walship.shipper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongConsumer;
import java.util.function.LongFunction;

import io.walship.archive.BackupManifest;
import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import io.walship.wal.StoreOptions;

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
    default BackupManifest backup(ObjectStore archive, Codec codec, LongFunction<LongConsumer> progress)
            throws IOException, InterruptedException {
        return backup(archive, codec, progress, BackupType.FULL.policy());
    }

    /** As {@link #backup(ObjectStore, Codec, LongFunction)}, of the given type (see {@link BackupType}). */
    BackupManifest backup(ObjectStore archive, Codec codec, LongFunction<LongConsumer> progress, BackupType.Policy type)
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
        public BackupManifest backup(ObjectStore archive, Codec codec, LongFunction<LongConsumer> progress,
                                     BackupType.Policy type) throws IOException, InterruptedException {
            return new LeaderClient(url, tls).backup(archive, codec, progress, type);
        }
    }

    /**
     * The data directory of a store that is not running (this process takes its lock, and opens it
     * as a store does: one not shut down cleanly is recovered first).
     *
     * <p>Memory does not grow with the store: it is opened with a page cache of {@link #CACHE_BYTES}
     * (each page is read once for the image and once for the digest; caching them saves nothing).
     * The state digest (a walk of the tree in key order) is computed on a second thread from a
     * second snapshot while the first streams the image: with the lock held nothing writes, so both
     * are of the same LSN (checked).
     */
    record StoppedStore(Path dataDir) implements BackupSource {
        /** The page cache a backup opens the store with. */
        public static final long CACHE_BYTES = 16L << 20;
        private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(StoppedStore.class);

        public StoppedStore {
            Objects.requireNonNull(dataDir, "dataDir");
        }

        /**
         * Resumable: the same stopped store gives the same image, so an interrupted upload of it is
         * resumed (docs/OPERATIONS.md "Resumable base backups"). If its bytes turn out not to be this
         * image's, it is discarded and the backup starts over once.
         */
        @Override
        public BackupManifest backup(ObjectStore archive, Codec codec, LongFunction<LongConsumer> progress,
                                     BackupType.Policy type) {
            try {
                return backupOnce(archive, codec, progress, type);
            } catch (io.walship.archive.ResumeMismatchException e) {
                LOG.warn("{}: starting the backup over", e.getMessage());
                return backupOnce(archive, codec, progress, type);
            }
        }

        private BackupManifest backupOnce(ObjectStore archive, Codec codec, LongFunction<LongConsumer> progress,
                                          BackupType.Policy type) {
            // a path that holds no store is a mistake to report, not an empty store to create and back up
            io.walship.wal.ControlFile.requireStore(dataDir);
            try (Store store = Store.open(dataDir, StoreOptions.defaults().withCacheSize(CACHE_BYTES));
                 Snapshot snap = store.snapshot(); Snapshot forDigest = store.snapshot()) {
                if (forDigest.lsn() != snap.lsn()) {
                    throw new IllegalStateException("the store at " + dataDir + " changed while this process held its"
                            + " lock (snapshots at LSN " + snap.lsn() + " and " + forDigest.lsn() + ")");
                }
                CompletableFuture<StateDigest> digest = new CompletableFuture<>();
                Thread digester = new Thread(() -> {
                    try {
                        digest.complete(StateDigest.of(forDigest.pages(), forDigest.lsn()));
                    } catch (Throwable t) {
                        digest.completeExceptionally(t);
                    }
                }, "walship-backup-digest");
                digester.setDaemon(true);
                digester.start();
                try {
                    return BaseBackup.upload(snap.openStream(), digest, archive, codec, progress.apply(snap.imageSize()),
                            type, true);
                } catch (IOException | RuntimeException e) {
                    // a damaged store is what to report (exit 3), whatever else failed beside it (the archive, say)
                    awaitQuietly(digester);
                    if (digest.isCompletedExceptionally()) {
                        Throwable cause;
                        try {
                            digest.join();
                            cause = null;
                        } catch (java.util.concurrent.CompletionException | java.util.concurrent.CancellationException f) {
                            cause = f.getCause() != null ? f.getCause() : f;
                        }
                        if (cause instanceof RuntimeException r && r != e) {
                            r.addSuppressed(e);
                            throw r;
                        }
                    }
                    throw e instanceof IOException io ? new UncheckedIOException("read snapshot", io) : (RuntimeException) e;
                } finally {
                    awaitQuietly(digester); // it reads the store: done before the store closes
                }
            }
        }

        private static void awaitQuietly(Thread t) {
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
