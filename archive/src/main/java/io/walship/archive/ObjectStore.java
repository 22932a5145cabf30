package io.walship.archive;

import java.io.InputStream;
import java.util.List;
import java.util.Optional;

/**
 * Immutable objects under string keys: the seam between walship and S3, MinIO or a local
 * directory. Keys are relative to the store's prefix, use {@code /} as separator and the
 * characters {@code [A-Za-z0-9._=-]} (see {@link Keys}); lexical order is listing order.
 *
 * <p>Implementations are thread-safe. Every method either does what it says or throws a
 * {@link StorageException}: {@link ObjectNotFoundException} for a missing key,
 * {@link ObjectExistsException} when a create finds the key taken, {@link ArchiveConfigException}
 * for configuration problems (missing bucket, bad credentials); transient failures are retried
 * inside the implementation before they surface.
 *
 * <p><b>The one exception to immutability</b> is the compare-and-swap family
 * ({@link #createReturningEtag}, {@link #replaceIfMatch}, {@link #getVersioned}) for small
 * mutable documents under {@link ArchiveLayout#MUTABLE_PREFIXES} (the leader lease): a replace
 * succeeds only if the object still has the ETag the caller read, atomically, so two writers
 * racing on one version never both win. An ETag is opaque; equal content may give equal ETags
 * (S3's single-part ETag and the local store's are the MD5 of the content), so documents that
 * use it must never repeat their bytes (the lease carries its times and term).
 */
public interface ObjectStore extends AutoCloseable {
    /**
     * Creates {@code key} with the stream's bytes, atomically and only if it does not exist: a
     * reader sees the whole object or none, and an existing object is never replaced. The
     * stream is read to its end (not closed). Large content is uploaded in parts, never held
     * whole in memory.
     *
     * @throws ObjectExistsException if the key exists (the existing object is unchanged)
     */
    void create(String key, InputStream content);

    /**
     * Creates {@code key} as {@link #create} does, but when the key is taken by an object with
     * exactly these bytes, that counts as success: it is this caller's own object, created by an
     * earlier attempt whose answer was lost (an S3 PUT with {@code If-None-Match: *} whose reply
     * never arrived is retried by the SDK and answered 412 for the object it created). The
     * comparison lives in {@link SameContent}. Returns true if this call created the object,
     * false if the identical object was already there.
     *
     * @throws ObjectExistsException if the key holds different content (someone else's object)
     */
    default boolean createOrSame(String key, InputStream content) {
        return SameContent.createOrSame(this, key, content);
    }

    /**
     * As {@link #createOrSame(String, InputStream)} for content held in memory, which is hashed only
     * if the key turns out to be taken (a WAL segment: no SHA-256 and MD5 of every segment shipped).
     */
    default boolean createOrSame(String key, byte[] content) {
        return SameContent.createOrSame(this, key, content);
    }

    /** An upload that a {@link #createResuming} began and did not finish (killed, or the network failed). */
    record PendingUpload(String key, java.time.Instant initiated) {
        public PendingUpload {
            java.util.Objects.requireNonNull(key, "key");
            java.util.Objects.requireNonNull(initiated, "initiated");
        }
    }

    /** What a {@link #createResuming} sent: bytes found already uploaded (verified, not sent again) and bytes sent. */
    record Resumed(long skippedBytes, long sentBytes) {
    }

    /**
     * Creates {@code key} as {@link #create} does, but resumably (docs/OPERATIONS.md "Resumable base
     * backups"): if this call fails, what it uploaded stays as a pending upload of {@code key}
     * ({@link #pendingUploads}) instead of being discarded, and if a pending upload of {@code key} is
     * there when it starts, every part already uploaded is compared with the same range of
     * {@code content} and skipped, not sent again. A part that differs (other bytes, other size, or a
     * part that cannot be checked) aborts the pending upload and throws {@link ResumeMismatchException}:
     * the caller starts over with fresh content; an upload whose parts do not match the content is
     * never completed. The create is as atomic and as conditional as {@link #create}.
     *
     * <p>Stores that cannot resume create as {@link #create} does (nothing skipped).
     *
     * @throws ObjectExistsException   if the key exists
     * @throws ResumeMismatchException if a pending upload's parts differ from the content (it was aborted)
     */
    default Resumed createResuming(String key, InputStream content) {
        CountingInputStream counted = new CountingInputStream(content, false);
        create(key, counted);
        return new Resumed(0, counted.count());
    }

    /**
     * {@link #createResuming}, but only as the resumption of a pending upload of {@code key} that holds
     * bytes ({@link #pendingBytes} &gt; 0): if there is none when the store looks (it vanished since the
     * caller saw it: a lifecycle rule aborted it, another process discarded it) nothing is sent and
     * {@link ResumeMismatchException} is thrown, so a caller that sealed {@code content} under a data key
     * recovered from that upload never sends it under that key without the parts having been compared.
     * With {@code resumeOnly} false it is {@link #createResuming}.
     */
    default Resumed createResuming(String key, InputStream content, boolean resumeOnly) {
        if (resumeOnly) {
            throw new ResumeMismatchException(key, "no upload is pending any more");
        }
        return createResuming(key, content);
    }

    /**
     * How many bytes the parts of the pending upload of {@code key} hold (the newest, if several): what a
     * {@link #createResuming} would compare and skip. 0 if none is pending, or it has no part (an upload
     * record whose upload is gone counts as none).
     */
    default long pendingBytes(String key) {
        return 0;
    }

    /** {@link #createResuming} with the lost-answer rule of {@link #createOrSame(String, InputStream)}. */
    default boolean createOrSameResuming(String key, InputStream content) {
        return SameContent.createOrSame(this, key, content, this::createResuming);
    }

    /** Uploads {@link #createResuming} left unfinished whose key starts with {@code prefix}, oldest first. */
    default List<PendingUpload> pendingUploads(String prefix) {
        return List.of();
    }

    /** How many of a pending upload's first bytes {@link #pendingHead} gives. */
    int PENDING_HEAD_BYTES = 64;

    /**
     * The first {@link #PENDING_HEAD_BYTES} bytes (fewer if it holds fewer) of the pending upload of
     * {@code key}, which S3 cannot read back from an unfinished multipart upload (a sealed object's
     * header: its wrapped data key); empty if there is none or they are not known.
     */
    default Optional<byte[]> pendingHead(String key) {
        return Optional.empty();
    }

    /** Discards every pending upload of {@code key} (its parts stop costing storage); none is not an error. */
    default void abortPending(String key) {
    }

    /** Largest document the compare-and-swap calls take: one PUT, held in memory. */
    int MAX_VERSIONED_BYTES = 1 << 20;

    /** A small document's bytes and the ETag they had when read together. */
    record Versioned(byte[] content, String etag) {
        public Versioned {
            java.util.Objects.requireNonNull(content, "content");
            java.util.Objects.requireNonNull(etag, "etag");
        }
    }

    /**
     * Creates the small document {@code key} if absent, atomically, and returns its ETag.
     *
     * @throws ObjectExistsException if the key exists (unchanged)
     * @throws IllegalArgumentException if the key is not under {@link ArchiveLayout#MUTABLE_PREFIXES}
     *                                  or the content is larger than {@link #MAX_VERSIONED_BYTES}
     */
    String createReturningEtag(String key, byte[] content);

    /**
     * Replaces the small document {@code key} with {@code content} only if it still has
     * {@code expectedEtag} (S3 {@code If-Match}; the local store compares under a lock that other
     * processes honour too), and returns the new ETag.
     *
     * @throws PreconditionFailedException if the object has another ETag or is absent (unchanged)
     * @throws IllegalArgumentException    as {@link #createReturningEtag}
     */
    String replaceIfMatch(String key, String expectedEtag, byte[] content);

    /** A small document's bytes with their ETag, read together; empty if absent. */
    Optional<Versioned> getVersioned(String key);

    /**
     * {@link #createReturningEtag}, but a key already holding exactly these bytes is this caller's own
     * document, created by an attempt whose answer was lost (the SDK's retry got 412): its ETag is
     * returned.
     *
     * @throws ObjectExistsException if the key holds other bytes
     */
    default String createReturningEtagOrSame(String key, byte[] content) {
        try {
            return createReturningEtag(key, content);
        } catch (ObjectExistsException e) {
            return SameContent.ownVersion(this, key, content).orElseThrow(() -> e);
        }
    }

    /**
     * {@link #replaceIfMatch}, but when the precondition fails because the document now holds exactly
     * these bytes, that is this caller's own replace whose answer was lost (retried with the old
     * ETag, answered 412): its new ETag is returned.
     *
     * @throws PreconditionFailedException if the document holds other bytes or is gone
     */
    default String replaceIfMatchOrSame(String key, String expectedEtag, byte[] content) {
        try {
            return replaceIfMatch(key, expectedEtag, content);
        } catch (PreconditionFailedException e) {
            return SameContent.ownVersion(this, key, content).orElseThrow(() -> e);
        }
    }

    /** The object's bytes; close the stream. */
    InputStream get(String key);

    /** {@code length} bytes from {@code offset} (fewer at the end of the object); close the stream. */
    InputStream getRange(String key, long offset, long length);

    /** The object's size and time, or empty if it does not exist. */
    Optional<ObjectInfo> head(String key);

    /** Every object whose key starts with {@code prefix} and sorts after {@code startAfter} (null: all), in key order. */
    List<ObjectInfo> list(String prefix, String startAfter);

    /**
     * The first {@code limit} objects (fewer if there are fewer) whose key starts with {@code prefix},
     * in key order. Where the store can bound a listing (S3's {@code max-keys}) this is one request
     * whatever the number of keys: for a question one key answers (whose WAL is this?).
     */
    default List<ObjectInfo> listFirst(String prefix, int limit) {
        if (limit < 1) {
            throw new IllegalArgumentException("limit must be positive: " + limit);
        }
        List<ObjectInfo> all = list(prefix, null);
        return all.size() <= limit ? all : List.copyOf(all.subList(0, limit));
    }

    /** Deletes the object; deleting a missing key is not an error. Only retention deletes. */
    void delete(String key);

    /** Checks that the store is reachable and usable (bucket exists, credentials work). */
    void verifyAccess();

    /**
     * {@link #verifyAccess} for a command that only reads: a local directory must exist and be
     * readable, not writable (a read-only mount or snapshot can be restored from); nothing is created.
     */
    default void verifyReadAccess() {
        verifyAccess();
    }

    /** Where this store points, safe to print (never credentials). */
    String describe();

    @Override
    void close();
}
