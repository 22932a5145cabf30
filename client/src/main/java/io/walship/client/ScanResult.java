package io.walship.client;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The answer to a scan: the pairs in key order, all from one state at {@code lsn}, and the node
 * that answered. Immutable list.
 *
 * @param entries the pairs, in key order
 * @param lsn     the LSN of the state they were read from
 * @param node    the base URL of the node that answered
 */
public record ScanResult(List<Entry> entries, long lsn, URI node) {
    public ScanResult {
        entries = List.copyOf(entries);
    }

    /** One key/value pair. */
    public record Entry(byte[] key, byte[] value) {
        public String keyString() {
            return new String(key, StandardCharsets.UTF_8);
        }

        public String valueString() {
            return new String(value, StandardCharsets.UTF_8);
        }
    }
}
