package io.walship.archive;

/** Opens the {@link ObjectStore} an {@link ArchiveUri} names. Stateless. */
public final class ObjectStores {
    private ObjectStores() {
    }

    public static ObjectStore open(ArchiveUri uri) {
        return open(uri, UploadLimit.NONE);
    }

    /** With an upload rate limit on what {@link ObjectStore#create} sends (share one per process). */
    public static ObjectStore open(ArchiveUri uri, UploadLimit limit) {
        if (uri instanceof ArchiveUri.Local l) {
            return new LocalObjectStore(l.root(), limit);
        }
        return new S3ObjectStore((ArchiveUri.S3) uri, S3ObjectStore.DEFAULT_PART_SIZE, null, limit);
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
        ObjectStore store = open(ArchiveUri.parse(uri), limit);
        try {
            store.verifyAccess();
            return store;
        } catch (RuntimeException e) {
            store.close();
            throw e;
        }
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
