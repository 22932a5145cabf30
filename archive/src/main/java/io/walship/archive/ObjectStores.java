package io.walship.archive;

/** Opens the {@link ObjectStore} an {@link ArchiveUri} names. */
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
}
