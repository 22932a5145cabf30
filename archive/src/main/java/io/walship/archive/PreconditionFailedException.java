package io.walship.archive;

/**
 * A conditional replace ({@link ObjectStore#replaceIfMatch}) found the object changed since the
 * caller read it (another ETag) or gone: the object is unchanged by this call. For a lease this
 * means someone else wrote it.
 */
public final class PreconditionFailedException extends StorageException {
    public PreconditionFailedException(String key, String expectedEtag, String why) {
        super("replace " + key + " if its ETag is " + expectedEtag + ": " + why);
    }
}
