package io.walship.archive;

import java.time.Instant;
import java.util.Objects;

/** A listed object: its key (relative to the store's prefix), size and modification time. */
public record ObjectInfo(String key, long size, Instant lastModified) {
    public ObjectInfo {
        Objects.requireNonNull(key, "key");
    }
}
