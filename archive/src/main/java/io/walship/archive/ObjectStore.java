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

    /** The object's bytes; close the stream. */
    InputStream get(String key);

    /** {@code length} bytes from {@code offset} (fewer at the end of the object); close the stream. */
    InputStream getRange(String key, long offset, long length);

    /** The object's size and time, or empty if it does not exist. */
    Optional<ObjectInfo> head(String key);

    /** Every object whose key starts with {@code prefix} and sorts after {@code startAfter} (null: all), in key order. */
    List<ObjectInfo> list(String prefix, String startAfter);

    /** Deletes the object; deleting a missing key is not an error. Only retention deletes. */
    void delete(String key);

    /** Checks that the store is reachable and usable (bucket exists, credentials work). */
    void verifyAccess();

    /** Where this store points, safe to print (never credentials). */
    String describe();

    @Override
    void close();
}
