package io.walship.archive;

import java.io.InputStream;
import java.util.List;
import java.util.Optional;

/**
 * An {@link ObjectStore} that passes every call to another: a decorator overrides the calls it
 * watches ({@link CountingObjectStore}), tests those they fault.
 */
public class ForwardingObjectStore implements ObjectStore {
    protected final ObjectStore inner;

    public ForwardingObjectStore(ObjectStore inner) {
        this.inner = inner;
    }

    @Override
    public void create(String key, InputStream content) {
        inner.create(key, content);
    }

    @Override
    public String createReturningEtag(String key, byte[] content) {
        return inner.createReturningEtag(key, content);
    }

    @Override
    public String replaceIfMatch(String key, String expectedEtag, byte[] content) {
        return inner.replaceIfMatch(key, expectedEtag, content);
    }

    @Override
    public Optional<Versioned> getVersioned(String key) {
        return inner.getVersioned(key);
    }

    @Override
    public InputStream get(String key) {
        return inner.get(key);
    }

    @Override
    public InputStream getRange(String key, long offset, long length) {
        return inner.getRange(key, offset, length);
    }

    @Override
    public Optional<ObjectInfo> head(String key) {
        return inner.head(key);
    }

    @Override
    public List<ObjectInfo> list(String prefix, String startAfter) {
        return inner.list(prefix, startAfter);
    }

    @Override
    public List<ObjectInfo> listFirst(String prefix, int limit) {
        return inner.listFirst(prefix, limit);
    }

    @Override
    public void delete(String key) {
        inner.delete(key);
    }

    @Override
    public void verifyAccess() {
        inner.verifyAccess();
    }

    @Override
    public void verifyReadAccess() {
        inner.verifyReadAccess();
    }

    @Override
    public String describe() {
        return inner.describe();
    }

    @Override
    public void close() {
        inner.close();
    }

    @Override
    public Resumed createResuming(String key, InputStream content) {
        return inner.createResuming(key, content);
    }

    @Override
    public Resumed createResuming(String key, InputStream content, boolean resumeOnly) {
        // a subclass that overrides only the two-argument form still sees every ordinary resumable create
        return resumeOnly ? inner.createResuming(key, content, true) : createResuming(key, content);
    }

    @Override
    public long pendingBytes(String key) {
        return inner.pendingBytes(key);
    }

    @Override
    public List<PendingUpload> pendingUploads(String prefix) {
        return inner.pendingUploads(prefix);
    }

    @Override
    public void abortPending(String key) {
        inner.abortPending(key);
    }

    @Override
    public Optional<byte[]> pendingHead(String key) {
        return inner.pendingHead(key);
    }
}
