package io.walship.server;

import java.nio.charset.StandardCharsets;

/**
 * The answer to a write, {@code {"lsn":"000000000000002A"}} and a line end, made without Jackson:
 * every PUT, DELETE and batch is answered with one, and Jackson's generator (a writer, a buffer
 * recycler, a string, then its UTF-8 bytes) and {@code Lsn.format} (a hex string, upper-cased, then
 * padded) cost a noticeable part of a PUT's CPU on the request thread. The bytes are the same as
 * {@code Json.write(new WriteResponse(Lsn.format(lsn))) + "\n"} for every LSN (16 hex digits need no
 * escaping; {@code WriteAnswerTest} compares the two). Immutable; thread-safe.
 */
final class WriteAnswer {
    private static final byte[] HEX = "0123456789ABCDEF".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] TEMPLATE = "{\"lsn\":\"0000000000000000\"}\n".getBytes(StandardCharsets.US_ASCII);
    /** Where the 16 digits start in {@link #TEMPLATE}. */
    private static final int DIGITS = 8;

    /** The JSON answer, as UTF-8 bytes. */
    final byte[] body;
    /** The LSN as {@code Lsn.format} writes it: 16 upper-case hex digits, zero-padded. */
    final String lsn;

    WriteAnswer(long lsn) {
        byte[] b = TEMPLATE.clone();
        long v = lsn;
        for (int i = DIGITS + 15; i >= DIGITS; i--) {
            b[i] = HEX[(int) (v & 0xF)];
            v >>>= 4;
        }
        this.body = b;
        this.lsn = new String(b, DIGITS, 16, StandardCharsets.ISO_8859_1);
    }
}
