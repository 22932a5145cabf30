package io.walship.archive;

/**
 * Opens the {@link ObjectStore} an {@link ArchiveUri} names, always inside an
 * {@link EncryptedObjectStore} with the keys given (none: a plaintext archive). Stateless.
 */
public final class ObjectStores {
    private ObjectStores() {
    }

    public static ObjectStore open(ArchiveUri uri) {
        return open(uri, UploadLimit.NONE);
    }

    /** With an upload rate limit on what {@link ObjectStore#create} sends (share one per process). */
    public static ObjectStore open(ArchiveUri uri, UploadLimit limit) {
        return open(uri, limit, EncryptionKeys.none());
    }

    /** With an upload rate limit and the archive's encryption keys (none: plaintext). */
    public static ObjectStore open(ArchiveUri uri, UploadLimit limit, EncryptionKeys keys) {
        ObjectStore raw = uri instanceof ArchiveUri.Local l ? new LocalObjectStore(l.root(), limit)
                : new S3ObjectStore((ArchiveUri.S3) uri, S3ObjectStore.DEFAULT_PART_SIZE, null, limit);
        return new EncryptedObjectStore(raw, keys);
    }

    public static ObjectStore open(String uri, EncryptionKeys keys) {
        return open(ArchiveUri.parse(uri), UploadLimit.NONE, keys);
    }

    public static ObjectStore open(String uri) {
        return open(ArchiveUri.parse(uri));
    }

    /**
     * Opens the store and checks that it is usable ({@link ObjectStore#verifyAccess}: the bucket
     * exists, the credentials work), closing it again if not. The caller closes it.
     */
    public static ObjectStore openVerified(String uri) {
        return openVerified(uri, UploadLimit.NONE);
    }

    /** {@link #openVerified(String)} with an upload rate limit. */
    public static ObjectStore openVerified(String uri, UploadLimit limit) {
        return openVerified(uri, limit, EncryptionKeys.none());
    }

    /** {@link #openVerified(String)} with an upload rate limit and the archive's encryption keys. */
    public static ObjectStore openVerified(String uri, UploadLimit limit, EncryptionKeys keys) {
        return checked(open(ArchiveUri.parse(uri), limit, keys), ObjectStore::verifyAccess);
    }

    /** Runs {@code check} on the store and returns it, or closes it and rethrows what the check threw. */
    public static ObjectStore checked(ObjectStore store, java.util.function.Consumer<ObjectStore> check) {
        try {
            check.accept(store);
            return store;
        } catch (RuntimeException e) {
            store.close();
            throw e;
        }
    }

    /**
     * Opens an archive that must already exist, for a command that reads it ({@link
     * ObjectStore#verifyReadAccess}): a local archive directory that does not exist is a mistyped
     * URI, as a missing bucket is ({@link ArchiveConfigException}), and is not created (a writer's
     * {@link ObjectStore#verifyAccess} creates it); a read-only one is fine. The caller closes it.
     */
    public static ObjectStore openExisting(String uri, EncryptionKeys keys) {
        ArchiveUri parsed = ArchiveUri.parse(uri);
        if (parsed instanceof ArchiveUri.Local l && java.nio.file.Files.exists(l.root())
                && !java.nio.file.Files.isDirectory(l.root())) {
            throw new ArchiveConfigException("archive path " + l.root() + " is not a directory");
        }
        return checked(open(parsed, UploadLimit.NONE, keys), ObjectStore::verifyReadAccess);
    }

    /**
     * Closes a stream from {@link ObjectStore#get}/{@link ObjectStore#getRange} that will not be
     * read to its end: an S3 response is aborted (its connection dropped) instead of being drained
     * to the end of the object, which is what closing it would do. Errors closing are ignored: the
     * caller is done with the object.
     */
    public static void abandon(java.io.InputStream in) {
        if (in instanceof software.amazon.awssdk.http.Abortable a) {
            a.abort();
        }
        try {
            in.close();
        } catch (java.io.IOException | RuntimeException ignored) {
            // abandoned on purpose: nothing of it is used
        }
    }
}
