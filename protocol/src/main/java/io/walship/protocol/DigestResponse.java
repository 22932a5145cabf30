package io.walship.protocol;

/**
 * The answer to {@code GET /digest} and what {@code kv digest --json} prints:
 * {@code {"lsn":…,"pairs":…,"sha256":…}}. Equal digests at equal LSNs mean equal stores. Immutable.
 *
 * @param lsn    the LSN the digest reflects, 16 hex digits
 * @param pairs  how many key/value pairs it counted
 * @param sha256 SHA-256 of the content, hex
 */
public record DigestResponse(String lsn, long pairs, String sha256) {
}
