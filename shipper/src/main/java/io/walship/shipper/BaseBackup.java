package io.walship.shipper;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.UncheckedIOException;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongConsumer;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.BackupManifest;
import io.walship.archive.Codec;
import io.walship.archive.ObjectExistsException;
import io.walship.archive.ObjectInfo;
import io.walship.archive.ObjectStore;
import io.walship.wal.Snapshot;
import io.walship.wal.SnapshotLoader;
import io.walship.wal.StateDigest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Uploads a base backup: a snapshot image streamed through the codec into one object (multipart
 * for anything large, never held whole in memory or on local disk), then its manifest, last. A
 * backup at an LSN that already has a manifest is not taken again. Stateless.
 */
public final class BaseBackup {
    private static final Logger LOG = LoggerFactory.getLogger(BaseBackup.class);
    /** The image goes to the codec in pieces this large (a snapshot stream yields 256 KiB at a time). */
    private static final int TRANSFER_BYTES = 256 << 10;

    private BaseBackup() {
    }

    /** Backs up a snapshot of a store open in this process. */
    public static BackupManifest upload(Snapshot snapshot, StateDigest digest, ObjectStore store, Codec codec,
                                        LongConsumer progress) {
        try (InputStream image = snapshot.openStream()) {
            return upload(image, digest, store, codec, progress);
        } catch (IOException e) {
            throw new UncheckedIOException("read snapshot", e);
        }
    }

    /**
     * Backs up a snapshot image read from {@code image} (for example from a running leader's
     * {@code GET /snapshot}); {@code digest} must be the state digest at the image's LSN.
     * {@code progress} receives the uncompressed bytes read so far.
     */
    public static BackupManifest upload(InputStream image, StateDigest digest, ObjectStore store, Codec codec,
                                        LongConsumer progress) throws IOException {
        return upload(image, CompletableFuture.completedFuture(digest), store, codec, progress);
    }

    /**
     * Like {@link #upload(InputStream, StateDigest, ObjectStore, Codec, LongConsumer)}, with the state
     * digest still being computed (on another thread, beside the image's upload). The image is ended
     * only once the digest is there: a digest that fails (a damaged page: an {@code IntegrityException})
     * or names another LSN fails the upload as a cut image would, so no image is stored without one.
     */
    public static BackupManifest upload(InputStream image, CompletableFuture<StateDigest> digest, ObjectStore store,
                                        Codec codec, LongConsumer progress) throws IOException {
        return upload(image, digest, store, codec, progress, false);
    }

    /**
     * As above; {@code resumable} for an image that another attempt at the same LSN reproduces byte for
     * byte (a stopped store's): the image is uploaded with {@link ObjectStore#createResuming}, resuming
     * an interrupted upload of this backup if there is one, and leaving its own for the next attempt if
     * it fails (docs/OPERATIONS.md "Resumable base backups").
     *
     * @throws io.walship.archive.ResumeMismatchException if the interrupted upload's bytes were not this
     *                                                   image's: it was discarded; start over with the image from its start
     */
    public static BackupManifest upload(InputStream image, CompletableFuture<StateDigest> digest, ObjectStore store,
                                        Codec codec, LongConsumer progress, boolean resumable) throws IOException {
        // the header comes first and names the backup; read it, then send the image from its start
        java.io.BufferedInputStream buffered = new java.io.BufferedInputStream(image, 1 << 16);
        buffered.mark(Snapshot.HEADER_SIZE);
        SnapshotLoader.Info info = SnapshotLoader.readHeader(buffered);
        buffered.reset();
        MessageDigest sha = sha256();
        AtomicLong read = new AtomicLong();
        InputStream counted = new java.io.FilterInputStream(new DigestInputStream(buffered, sha)) {
            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                int n = super.read(b, off, len);
                if (n > 0) {
                    progress.accept(read.addAndGet(n));
                }
                return n;
            }
        };
        if (digest.isDone() && !digest.isCompletedExceptionally()) {
            requireDigestAt(digest.join(), info.lsn()); // a mismatch known now fails before anything is uploaded
        }
        ArchiveLayout.BackupName name = new ArchiveLayout.BackupName(info.timeline(), info.lsn());
        Optional<ObjectInfo> existing = store.head(name.manifestKey());
        if (existing.isPresent()) {
            BackupManifest there;
            try (InputStream in = store.get(name.manifestKey())) {
                there = BackupManifest.read(in, name.manifestKey());
            }
            requireSameStore(there, info.systemId(), name.manifestKey());
            // the digest still vouches for the store: a damaged page is exit 3 even when the archive has this backup
            requireDigestAt(awaitDigest(digest), info.lsn());
            LOG.info("a base backup at LSN {} already exists; not taking another", ArchiveLayout.lsnHex(info.lsn()));
            if (resumable) {
                abortStaleQuietly(store, null);
            }
            return there;
        }
        String fresh = name.dir() + "image-" + UUID.randomUUID().toString().substring(0, 8) + "." + codec.extension();
        String imageKey = resumable ? PendingImages.resumable(store, name, codec).orElse(fresh) : fresh;
        if (!imageKey.equals(fresh)) {
            LOG.info("resuming the interrupted upload of {}", imageKey);
        }
        AtomicLong objectBytes = new AtomicLong();
        AtomicReference<Throwable> producerError = new AtomicReference<>();
        PipedInputStream pipeIn = new PipedInputStream(1 << 20);
        PipedOutputStream pipeOut = new PipedOutputStream(pipeIn);
        Thread producer = new Thread(() -> {
            OutputStream c = null;
            try {
                c = codec.compress(pipeOut, Runtime.getRuntime().availableProcessors());
                byte[] buf = new byte[TRANSFER_BYTES];
                for (int n; (n = counted.read(buf, 0, buf.length)) >= 0; ) {
                    if (digest.isCompletedExceptionally()) {
                        awaitDigest(digest); // throws its failure: no point uploading the rest
                    }
                    c.write(buf, 0, n);
                }
                requireDigestAt(awaitDigest(digest), info.lsn());
                c.close(); // the codec's end and the pipe's: the upload sees the end only of a whole image
            } catch (Throwable t) {
                // set before the pipe closes: the upload, reading to the pipe's end, finds it there and
                // fails (a create that fails is aborted), where a plain end would store a cut image
                producerError.set(t);
                closeQuietly(pipeOut);
                if (c != null) {
                    closeQuietly(c); // frees the codec; what it would write goes nowhere
                }
            }
        }, "walship-backup-compress");
        producer.setDaemon(true);
        producer.start();
        AtomicReference<IOException> cut = new AtomicReference<>();
        InputStream upload = new java.io.FilterInputStream(pipeIn) {
            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                int n = super.read(b, off, len);
                if (n > 0) {
                    objectBytes.addAndGet(n);
                } else if (n < 0 && producerError.get() != null) {
                    IOException e = new IOException("the image stopped short: " + producerError.get().getMessage());
                    cut.set(e);
                    throw e;
                }
                return n;
            }
        };
        RuntimeException storeFailed = null;
        try {
            if (!(resumable ? store.createOrSameResuming(imageKey, upload) : store.createOrSame(imageKey, upload))) {
                // the key is unique to this attempt: our own upload, retried after its answer was lost
                LOG.info("image {} exists already with the same bytes: an upload retried after its answer was lost", imageKey);
            }
        } catch (RuntimeException e) {
            storeFailed = e;
        } finally {
            pipeIn.close();
            try {
                producer.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (storeFailed != null && cut.get() == null) {
            // the archive failed first. The producer then usually failed on the closed pipe (an IOException,
            // not the cause), but it may have met a damaged page of its own: that one is the failure that
            // matters (exit 3, and retrying won't help), with the archive's error beside it
            Throwable p = producerError.get();
            if (p instanceof RuntimeException r && !(p instanceof java.io.UncheckedIOException)) {
                r.addSuppressed(storeFailed);
                throw r;
            }
            if (p != null && p != storeFailed) {
                storeFailed.addSuppressed(p);
            }
            throw storeFailed;
        }
        Throwable failed = producerError.get();
        if (failed != null) {
            // the image was not stored; the failure as it was: a damaged page stays an IntegrityException
            // (exit 3), a snapshot abandoned or a store failed keeps its kind
            if (storeFailed != null) {
                failed.addSuppressed(storeFailed);
            }
            if (failed instanceof RuntimeException r) {
                throw r;
            }
            if (failed instanceof Error err) {
                throw err;
            }
            throw new IOException("reading or compressing the snapshot failed: " + failed.getMessage(), failed);
        }
        if (storeFailed != null) {
            throw storeFailed;
        }
        long imageBytes = read.get();
        StateDigest stateDigest = digest.join(); // there and checked: the producer ended the image only then
        Instant commit = Instant.ofEpochSecond(0, info.commitTimeMicros() * 1_000L);
        BackupManifest m = new BackupManifest(BackupManifest.FORMAT_VERSION, Snapshot.FORMAT_VERSION,
                ArchiveLayout.lsnHex(info.lsn()), info.timeline(), String.format("%016x", info.systemId()),
                commit.toString(), info.commitTimeMicros(), info.pageCount(), imageKey, codec.name().toLowerCase(),
                imageBytes, objectBytes.get(), HexFormat.of().formatHex(sha.digest()), stateDigest.sha256(),
                stateDigest.pairs(), Instant.now().toString());
        long stored = store.head(imageKey).map(ObjectInfo::size).orElse(-1L);
        if (stored != objectBytes.get()) {
            throw new IOException("image " + imageKey + " holds " + stored + " bytes but " + objectBytes.get()
                    + " were uploaded; not writing a manifest for it");
        }
        try {
            store.createOrSame(name.manifestKey(), new java.io.ByteArrayInputStream(m.toJson()));
        } catch (ObjectExistsException e) {
            BackupManifest there;
            try (InputStream in = store.get(name.manifestKey())) {
                there = BackupManifest.read(in, name.manifestKey());
            }
            requireSameStore(there, info.systemId(), name.manifestKey());
            if (!there.imageKey().equals(m.imageKey())) {
                LOG.info("another backup at LSN {} finished first; keeping it", m.lsn());
            }
            return there;
        }
        LOG.info("base backup at LSN {}: {} bytes -> {} ({})", m.lsn(), imageBytes, imageKey, objectBytes.get());
        if (resumable) {
            abortStaleQuietly(store, imageKey);
        }
        return m;
    }

    /** Discards interrupted uploads that will never complete; a failure to is a warning, not a failed backup. */
    private static void abortStaleQuietly(ObjectStore store, String keep) {
        try {
            PendingImages.abortStale(store, Instant.now(), keep);
        } catch (RuntimeException e) {
            LOG.warn("could not discard stale interrupted uploads ({}); the next backup tries again", e.getMessage());
        }
    }

    private static void requireDigestAt(StateDigest digest, long lsn) {
        if (digest.lsn() != lsn) {
            throw new IllegalArgumentException("digest is for LSN " + digest.lsn() + " but the image is at " + lsn);
        }
    }

    /** The digest, or its own failure as it was (an IntegrityException stays one: exit 3). */
    private static StateDigest awaitDigest(CompletableFuture<StateDigest> digest) throws IOException {
        try {
            return digest.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted waiting for the state digest");
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException r) {
                throw r;
            }
            if (cause instanceof Error err) {
                throw err;
            }
            throw new IOException("computing the state digest failed: " + cause.getMessage(), cause);
        }
    }

    /**
     * A backup already at this name counts as this store's only if it is of this store: another
     * store's (a new store shipping to an old archive's prefix) holds other data.
     *
     * @throws ArchiveSpliceException naming both stores if it is another store's
     */
    private static void requireSameStore(BackupManifest there, long systemId, String key) {
        String mine = String.format("%016x", systemId);
        if (there.systemId() != null && !there.systemId().equalsIgnoreCase(mine)) {
            throw new ArchiveSpliceException("the archive already holds a base backup at " + key + " of store "
                    + there.systemId() + ", but this store is " + mine + ": another store's archive; ship and back up"
                    + " this store to a new archive prefix (the archive is unchanged)");
        }
    }

    private static void closeQuietly(java.io.Closeable c) {
        try {
            c.close();
        } catch (IOException | RuntimeException ignored) {
            // closed to fail the upload or free the codec; the producer's own failure is what is reported
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
