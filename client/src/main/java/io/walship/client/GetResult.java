package io.walship.client;

import java.net.URI;
import java.nio.charset.StandardCharsets;

/**
 * The answer to a get: the value (null if the key is absent), the LSN the read reflects (its
 * {@code Walship-LSN}; the session's token has already moved to it) and the node that answered.
 * The arrays are the caller's; the record does not copy them.
 *
 * @param key   the key read
 * @param value the value, or null if the key is absent at {@code lsn}
 * @param lsn   the LSN of the state the value was read from
 * @param node  the base URL of the node that answered
 */
public record GetResult(byte[] key, byte[] value, long lsn, URI node) {
    /** Whether the key exists at {@link #lsn}. */
    public boolean found() {
        return value != null;
    }

    /** The value as UTF-8 text, or null if absent. */
    public String valueString() {
        return value == null ? null : new String(value, StandardCharsets.UTF_8);
    }
}
