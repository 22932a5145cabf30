package io.walship.archive;

/** Opens the {@link ObjectStore} an {@link ArchiveUri} names. Stateless. */
public final class ObjectStores {
    private ObjectStores() {
    }

    public static ObjectStore open(ArchiveUri uri) {
        if (uri instanceof ArchiveUri.Local l) {
            return new LocalObjectStore(l.root());
        }
        return new S3ObjectStore((ArchiveUri.S3) uri);
    }

    public static ObjectStore open(String uri) {
        return open(ArchiveUri.parse(uri));
    }

    /**
     * Opens the store and checks that it is usable ({@link ObjectStore#verifyAccess}: the bucket
     * exists, the credentials work), closing it again if not. The caller closes it.
     */
    public static ObjectStore openVerified(String uri) {
        ObjectStore store = open(uri);
        try {
            store.verifyAccess();
            return store;
        } catch (RuntimeException e) {
            store.close();
            throw e;
        }
    }
}
