package io.walship.shipper;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Objects;
import java.util.function.LongConsumer;
import java.util.function.LongFunction;

import io.walship.archive.BackupManifest;
import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
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
        public StoppedStore {
            Objects.requireNonNull(dataDir, "dataDir");
        }

        @Override
        public BackupManifest backup(ObjectStore archive, Codec codec, LongFunction<LongConsumer> progress) {
            try (Store store = Store.open(dataDir); Snapshot snap = store.snapshot()) {
                StateDigest digest = StateDigest.of(snap.pages(), snap.lsn());
                return BaseBackup.upload(snap, digest, archive, codec, progress.apply(snap.imageSize()));
            }
        }
    }
}
