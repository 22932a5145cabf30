package io.walship.client;

/**
 * The LSN's text forms as the HTTP API uses them (the same rules as {@code io.walship.wal.Lsn},
 * which lives in the store module this client does not depend on): printed as 16 upper-case hex
 * digits; read from that form, {@code 0x…} or decimal. Stateless.
 */
final class Lsns {
    private Lsns() {
    }

    static String format(long lsn) {
        String hex = Long.toHexString(lsn).toUpperCase();
        return "0".repeat(16 - hex.length()) + hex;
    }

    /** @throws IllegalArgumentException with a one-line reason */
    static long parse(String text) {
        if (text == null) {
            throw new IllegalArgumentException("not an LSN: null");
        }
        String s = text.trim();
        try {
            if (s.length() == 16 && s.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
                return Long.parseUnsignedLong(s, 16);
            }
            if (s.startsWith("0x") || s.startsWith("0X")) {
                return Long.parseUnsignedLong(s.substring(2), 16);
            }
            long v = Long.parseLong(s);
            if (v < 0) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not an LSN: '" + text
                    + "' (expected 16 hex digits such as 000000000000002A, 0x2A, or a decimal number)");
        }
    }
}
