package io.walship.archive;

import java.time.Instant;
import java.util.Objects;

/**
 * A listed object: its key (relative to the store's prefix), size and modification time, and,
 * where the store reports one, its ETag without quotes (null otherwise). An S3 ETag is the MD5 of
 * the content only for single-part uploads without SSE-KMS; {@link SameContent} uses it only then.
 */
public record ObjectInfo(String key, long size, Instant lastModified, String etag) {
    public ObjectInfo {
        Objects.requireNonNull(key, "key");
    }

    public ObjectInfo(String key, long size, Instant lastModified) {
        this(key, size, lastModified, null);
    }
}
