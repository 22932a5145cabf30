package io.walship.archive;

/**
 * A store whose compare-and-swap calls fail on demand: {@link #down} fails every call before it
 * reaches the archive (a 5xx or timeout after all retries); {@link #failAfterWrite} lets the next
 * replace through and then fails it (the write happened, the caller sees an error); {@link #conflictOnce}
 * refuses the next replace as a conflict without writing.
 */
public final class FaultyLeaseStore extends ForwardingObjectStore {
    public volatile boolean down;
    public volatile boolean failAfterWrite;
    /** The next replace answers as S3's 409 ConditionalRequestConflict (another conditional write in flight), writing nothing. */
    public volatile boolean conflictOnce;

    public FaultyLeaseStore(ObjectStore inner) {
        super(inner);
    }

    private void check(String op, String key) {
        if (down) {
            throw new StorageException(op + " " + key + ": injected: HTTP 503 after every retry");
        }
    }

    @Override
    public String createReturningEtag(String key, byte[] content) {
        check("create", key);
        return inner.createReturningEtag(key, content);
    }

    @Override
    public String replaceIfMatch(String key, String expectedEtag, byte[] content) {
        check("replace", key);
        if (conflictOnce) {
            conflictOnce = false;
            throw new PreconditionFailedException(key, expectedEtag, "a concurrent conditional write (HTTP 409)");
        }
        String etag = inner.replaceIfMatch(key, expectedEtag, content);
        if (failAfterWrite) {
            failAfterWrite = false;
            throw new StorageException("replace " + key + ": injected: timed out after the archive wrote it");
        }
        return etag;
    }

    @Override
    public java.util.Optional<Versioned> getVersioned(String key) {
        check("get", key);
        return inner.getVersioned(key);
    }

    @Override
    public java.util.List<ObjectInfo> list(String prefix, String startAfter) {
        check("list", prefix);
        return inner.list(prefix, startAfter);
    }
}
