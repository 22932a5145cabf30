package io.walship.client;

import java.net.URI;

/**
 * The answer to a digest: the state digest of the whole store at {@code lsn} (equal digests at
 * equal LSNs mean equal stores) and the node that answered.
 *
 * @param lsn    the LSN the digest reflects
 * @param pairs  how many key/value pairs it counted
 * @param sha256 SHA-256 of the content, hex
 * @param node   the base URL of the node that answered
 */
public record DigestResult(long lsn, long pairs, String sha256, URI node) {
}
