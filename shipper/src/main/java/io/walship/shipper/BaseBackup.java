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
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongConsumer;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ArchiveListing;
import io.walship.archive.BackupChain;
import io.walship.archive.CorruptObjectException;
import io.walship.archive.ObjectNotFoundException;
import io.walship.archive.StorageException;
import io.walship.archive.TimelineHistory;
import io.walship.wal.IncrementalImage;
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
        return upload(snapshot, digest, store, codec, progress, BackupType.FULL.policy());
    }

    /** Backs up a snapshot of a store open in this process, of the given type ({@link BackupType}). */
    public static BackupManifest upload(Snapshot snapshot, StateDigest digest, ObjectStore store, Codec codec,
                                        LongConsumer progress, BackupType.Policy type) {
        try (InputStream image = snapshot.openStream()) {
            return upload(image, CompletableFuture.completedFuture(digest), store, codec, progress, type, false);
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
        return upload(image, digest, store, codec, progress, BackupType.FULL.policy(), false);
    }

    /** As below, not resumable. */
    public static BackupManifest upload(InputStream image, CompletableFuture<StateDigest> digest, ObjectStore store,
                                        Codec codec, LongConsumer progress, BackupType.Policy type) throws IOException {
        return upload(image, digest, store, codec, progress, type, false);
    }

    /**
     * Like {@link #upload(InputStream, CompletableFuture, ObjectStore, Codec, LongConsumer)}, of the given
     * {@code type}: an incremental or differential backup reads the whole image (hashing it: its SHA-256 goes
     * into the manifest as {@code fullImageSha256}, what a restore of the chain must reproduce) and uploads
     * only the pages newer than its parent ({@link IncrementalImage}). Without a usable parent it is a full one.
     *
     * <p>{@code resumable} for an image that another attempt at the same LSN reproduces byte for
     * byte (a stopped store's): a full image is uploaded with {@link ObjectStore#createResuming}, resuming
     * an interrupted upload of this backup if there is one, and leaving its own for the next attempt if
     * it fails (docs/OPERATIONS.md "Resumable base backups"). An incremental image is not resumed (its
     * pages depend on the parent chosen), and uploads as before.
     *
     * @throws io.walship.archive.ResumeMismatchException if the interrupted upload's bytes were not this
     *                                                   image's: it was discarded; start over with the image from its start
     */
    public static BackupManifest upload(InputStream image, CompletableFuture<StateDigest> digest, ObjectStore store,
                                        Codec codec, LongConsumer progress, BackupType.Policy type, boolean resumable)
            throws IOException {
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
        requireWalOfThisStore(store, info);
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
            requireWholeChain(store, there);
            LOG.info("a base backup at LSN {} already exists; not taking another", ArchiveLayout.lsnHex(info.lsn()));
            if (resumable) {
                abortStaleQuietly(store, null);
            }
            return there;
        }
        BackupManifest parent = type.type() == BackupType.FULL ? null : chooseParent(store, info, type).orElse(null);
        IncrementalImage.Parent base = parent == null ? null
                : new IncrementalImage.Parent(Long.parseUnsignedLong(parent.lsn(), 16), parent.timeline(), parent.pageCount());
        AtomicReference<IncrementalImage.Written> written = new AtomicReference<>();
        MessageDigest incrementalSha = sha256();
        AtomicLong incrementalBytes = new AtomicLong();
        String fresh = name.dir() + (parent == null ? "image-" : "incr-") + UUID.randomUUID().toString().substring(0, 8)
                + "." + codec.extension();
        boolean resuming = resumable && parent == null;
        String imageKey = resuming ? PendingImages.resumable(store, name, codec).orElse(fresh) : fresh;
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
                if (base != null) {
                    OutputStream compressed = c;
                    OutputStream sink = new java.io.BufferedOutputStream(new java.security.DigestOutputStream(
                            new java.io.FilterOutputStream(compressed) {
                                @Override
                                public void write(byte[] b, int off, int len) throws IOException {
                                    incrementalBytes.addAndGet(len);
                                    out.write(b, off, len);
                                }
                            }, incrementalSha), TRANSFER_BYTES);
                    written.set(IncrementalImage.write(counted, base, sink));
                    sink.flush();
                } else {
                    byte[] buf = new byte[TRANSFER_BYTES];
                    for (int n; (n = counted.read(buf, 0, buf.length)) >= 0; ) {
                        if (digest.isCompletedExceptionally()) {
                            awaitDigest(digest); // throws its failure: no point uploading the rest
                        }
                        c.write(buf, 0, n);
                    }
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
            if (!(resuming ? store.createOrSameResuming(imageKey, upload) : store.createOrSame(imageKey, upload))) {
                // the key is unique to this attempt: our own upload, retried after its answer was lost
                LOG.info("image {} exists already with the same bytes: an upload retried after its answer was lost", imageKey);
            }
        } catch (RuntimeException e) {
            storeFailed = e;
            if (resuming && e instanceof io.walship.archive.ResumeMismatchException) {
                try {
                    PendingImages.discardAll(store, name);
                } catch (RuntimeException f) {
                    e.addSuppressed(f);
                }
            }
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
        String fullSha = HexFormat.of().formatHex(sha.digest());
        BackupManifest m = parent == null
                ? new BackupManifest(BackupManifest.FORMAT_VERSION, Snapshot.FORMAT_VERSION,
                        ArchiveLayout.lsnHex(info.lsn()), info.timeline(), String.format("%016x", info.systemId()),
                        commit.toString(), info.commitTimeMicros(), info.pageCount(), imageKey, codec.name().toLowerCase(),
                        imageBytes, objectBytes.get(), fullSha, stateDigest.sha256(), stateDigest.pairs(),
                        Instant.now().toString())
                : new BackupManifest(BackupManifest.INCREMENTAL_FORMAT_VERSION, IncrementalImage.FORMAT_VERSION,
                        ArchiveLayout.lsnHex(info.lsn()), info.timeline(), String.format("%016x", info.systemId()),
                        commit.toString(), info.commitTimeMicros(), info.pageCount(), imageKey, codec.name().toLowerCase(),
                        incrementalBytes.get(), objectBytes.get(), HexFormat.of().formatHex(incrementalSha.digest()),
                        stateDigest.sha256(), stateDigest.pairs(), Instant.now().toString(), BackupManifest.INCREMENTAL,
                        parent.asParent(), fullSha, imageBytes, written.get().pages());
        long stored = store.head(imageKey).map(ObjectInfo::size).orElse(-1L);
        if (stored != objectBytes.get()) {
            throw new IOException("image " + imageKey + " holds " + stored + " bytes but " + objectBytes.get()
                    + " were uploaded; not writing a manifest for it");
        }
        if (parent != null && store.head(parent.asParent().name().manifestKey()).isEmpty()) {
            // a retention run deleted the parent meanwhile (it keeps the newest backup of each history, so only a
            // parent that stopped being that): without a manifest this incremental image is an orphan, as a crash leaves
            throw new io.walship.wal.WalshipException("the parent backup " + parent.asParent().name().dir() + " was deleted while the"
                    + " incremental backup on it was taken; no manifest written, take the backup again");
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
                // our image is named by no manifest and never will be: delete it (ours alone, the winner's is
                // another key); a failure leaves an orphan, as before, not a failed backup
                LOG.info("another backup at LSN {} finished first; keeping it and deleting this attempt's image {}",
                        m.lsn(), imageKey);
                try {
                    store.delete(imageKey);
                } catch (RuntimeException f) {
                    LOG.warn("could not delete this attempt's image {} ({}); it is an orphan", imageKey, f.getMessage());
                }
            }
            requireWholeChain(store, there);
            return there;
        }
        if (parent != null) {
            // the parent was checked before the manifest was written, not atomically with it: a prune may have
            // deleted a link in between. Retention, after deleting a manifest, looks for one built on it and puts
            // it back; this looks again after writing, so whichever of the two went second sees the other
            Optional<String> gone = missingLink(store, m);
            if (gone.isPresent()) {
                store.delete(name.manifestKey()); // the manifest first, as retention deletes
                store.delete(imageKey);
                // unchecked, so that no caller wraps it: the one line is what is printed (exit 1)
                throw new io.walship.wal.WalshipException("the backup " + gone.get() + " that the incremental backup at LSN " + m.lsn()
                        + " builds on was deleted while it was taken; its manifest and image were withdrawn, take the"
                        + " backup again");
            }
        }
        if (parent == null) {
            LOG.info("base backup at LSN {}: {} bytes -> {} ({})", m.lsn(), imageBytes, imageKey, objectBytes.get());
        } else {
            LOG.info("incremental base backup at LSN {} on {}: {} of {} pages, {} bytes -> {} ({})", m.lsn(),
                    parent.lsn(), m.incrementalPages(), m.pageCount(), m.imageBytes(), imageKey, objectBytes.get());
        }
        if (resumable) {
            abortStaleQuietly(store, imageKey);
        }
        return m;
    }

    /**
     * The backup an incremental ({@code INCREMENTAL}: the newest; {@code DIFFERENTIAL}: the newest full one)
     * at {@code info} can be built on: of this store (same system id), on this store's history (its
     * timeline's ancestry in the archive, at an LSN not past {@code info}'s), with an intact chain whose
     * images exist. Empty (a full backup is taken instead, and the log says why) if there is none.
     *
     * <p>A page whose LSN is not past the parent's is taken to be as in the parent. That holds only if the
     * parent is this store's past: a store restored to an earlier point and promoted has a new timeline whose
     * history forks below a later backup of the old one, which is therefore not on its ancestry.
     */
    public static Optional<BackupManifest> chooseParent(ObjectStore store, SnapshotLoader.Info info,
                                                       BackupType.Policy policy) {
        BackupType type = policy.type();
        ArchiveListing listing = ArchiveListing.of(store);
        List<TimelineHistory.Span> ancestry;
        try {
            ancestry = TimelineHistory.ancestry(info.timeline(), TimelineHistory.readAll(store, listing));
        } catch (StorageException e) {
            LOG.warn("taking a full backup: the history of timeline {} cannot be read from the archive ({})",
                    info.timeline(), e.getMessage());
            return Optional.empty();
        }
        String mine = String.format("%016x", info.systemId());
        java.util.function.Predicate<ArchiveLayout.BackupName> onHistory = n -> TimelineHistory.onAncestry(n, ancestry) && n.lsn() <= info.lsn();
        List<ArchiveListing.BackupInfo> candidates = new java.util.ArrayList<>(listing.backups());
        candidates.removeIf(b -> !onHistory.test(b.name()));
        candidates.sort(java.util.Comparator.comparingLong((ArchiveListing.BackupInfo b) -> b.name().lsn())
                .thenComparingInt(b -> b.name().timeline()).reversed());
        int newer = 0; // backups on this history newer than the one looked at
        for (ArchiveListing.BackupInfo b : candidates) {
            BackupManifest m;
            try {
                m = BackupChain.read(store, b.name());
            } catch (ObjectNotFoundException e) {
                continue; // deleted since the listing
            } catch (StorageException e) {
                LOG.warn("taking a full backup: the newest backup on this store's history, {}, cannot be read ({})",
                        b.name().dir(), e.getMessage());
                return Optional.empty();
            }
            if (m.systemId() == null || !m.systemId().equalsIgnoreCase(mine)) {
                LOG.warn("taking a full backup: the newest backup on this history, {}, is of store {}, this store is {}",
                        b.name().dir(), m.systemId(), mine);
                return Optional.empty();
            }
            if (type == BackupType.DIFFERENTIAL && m.incremental()) {
                newer++;
                continue;
            }
            if (!m.incremental() && policy.fullEvery() > 0 && newer + 2 > policy.fullEvery()) {
                LOG.info("taking a full backup: fullEvery {}, and {} backups were taken since the newest full one",
                        policy.fullEvery(), newer);
                return Optional.empty();
            }
            List<BackupManifest> chain;
            try {
                chain = BackupChain.resolve(m, b.name().manifestKey(), n -> BackupChain.read(store, n), onHistory);
                for (BackupManifest link : chain) {
                    ObjectInfo o = store.head(link.imageKey()).orElseThrow(() -> new CorruptObjectException(
                            link.imageKey(), "is missing"));
                    if (o.size() != link.objectBytes()) {
                        throw new CorruptObjectException(link.imageKey(), "is " + o.size() + " bytes, its manifest says "
                                + link.objectBytes());
                    }
                }
            } catch (StorageException e) {
                LOG.warn("taking a full backup: the chain of the newest backup on this store's history, {}, is broken"
                        + " ({}); 'walship archive verify' reports it", b.name().dir(), e.getMessage());
                return Optional.empty();
            }
            if (policy.fullEvery() > 0 && chain.size() + 1 > policy.fullEvery()) {
                LOG.info("taking a full backup: fullEvery {}, and the chain of {} holds {} backups already",
                        policy.fullEvery(), b.name().dir(), chain.size());
                return Optional.empty();
            }
            return Optional.of(m);
        }
        LOG.info("taking a full backup: the archive has no {}backup of this store's history to build on",
                type == BackupType.DIFFERENTIAL ? "full " : "");
        return Optional.empty();
    }

    /**
     * A backup found at this LSN counts as taken only if its chain is whole: one left on a broken chain (an
     * incremental killed before it withdrew its manifest, or being withdrawn now) restores nothing.
     */
    private static void requireWholeChain(ObjectStore store, BackupManifest there) {
        Optional<String> gone = there.incremental() ? missingLink(store, there) : Optional.empty();
        if (gone.isPresent()) {
            throw new io.walship.wal.WalshipException("the archive's incremental backup at LSN " + there.lsn()
                    + " builds on " + gone.get() + ", which is gone (a broken chain: 'walship archive verify' reports it);"
                    + " no backup was taken at this LSN");
        }
    }

    /** The directory of the first backup of {@code m}'s chain whose manifest is gone, if one is. */
    static Optional<String> missingLink(ObjectStore store, BackupManifest m) {
        BackupManifest link = m;
        for (int i = 0; link.incremental() && i <= io.walship.archive.BackupChain.MAX_LENGTH; i++) {
            ArchiveLayout.BackupName p = link.parent().name();
            try {
                link = io.walship.archive.BackupChain.read(store, p);
            } catch (io.walship.archive.ObjectNotFoundException e) {
                return Optional.of(p.dir());
            }
        }
        return Optional.empty();
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
     * Refuses a backup into an archive whose WAL is another store's (two services pointed at one
     * archive prefix), before anything is uploaded: the owner would meet it only at restore time.
     * The archive's WAL says whose archive it is (the shipper never splices another store's
     * segments into a timeline), a base backup does not: a stray one must not lock the owner out,
     * nor a damaged one block the backup that repairs it. Reads segment headers of this backup's
     * timeline, else of any timeline, from a bounded listing ({@link ObjectStore#listFirst}) until
     * one names its store ({@link ArchiveOwner}): a leader's image waiting behind this
     * ({@code backup --url}) waits for a few requests whatever the archive's size. An archive
     * without WAL, or whose first segments cannot say, takes the backup.
     *
     * @throws ArchiveSpliceException naming both stores
     */
    private static void requireWalOfThisStore(ObjectStore store, SnapshotLoader.Info info) {
        List<String> keys = segmentKeys(store, ArchiveLayout.WAL + ArchiveLayout.timelineHex(info.timeline()) + "/");
        Optional<ArchiveOwner.Owner> owner = ArchiveOwner.of(store, keys.isEmpty() ? segmentKeys(store, ArchiveLayout.WAL) : keys);
        if (owner.isPresent() && owner.get().systemId() != info.systemId()) {
            throw ArchiveSpliceException.otherStore(String.format("the archive's WAL (%s) was written by store %016x,"
                    + " but this store is %016x: another store's archive; nothing was uploaded", owner.get().key(),
                    owner.get().systemId(), info.systemId()));
        }
    }

    /** The first WAL segments under {@code prefix} (other objects there are passed over). */
    private static List<String> segmentKeys(ObjectStore store, String prefix) {
        return store.listFirst(prefix, ArchiveOwner.PROBE).stream().map(ObjectInfo::key)
                .filter(k -> ArchiveLayout.parseSegment(k).isPresent()).toList();
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
            throw ArchiveSpliceException.otherStore("the archive already holds a base backup at " + key + " of store "
                    + there.systemId() + ", but this store is " + mine + ": another store's archive");
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
