package io.walship.wal;

/**
 * Log sequence numbers: one per commit, strictly increasing, never reused across timelines.
 *
 * <p>The canonical printed form is 16 upper-case hex digits, used everywhere (CLI, HTTP, JSON and
 * object keys) so that lexical order equals LSN order. {@link #parse} also accepts a plain decimal
 * number, since that is what people type. Thread-safe (stateless).
 */
public final class Lsn {
    /** "Nothing": no commit yet, no horizon recorded. */
    public static final long NONE = 0;

    private Lsn() {
    }

    public static String format(long lsn) {
        String hex = Long.toHexString(lsn).toUpperCase();
        return "0".repeat(16 - hex.length()) + hex;
    }

    /**
     * Parses the canonical 16-hex-digit form, a {@code 0x}-prefixed hex number, or a decimal number.
     *
     * @throws IllegalArgumentException with a one-line reason
     */
    public static long parse(String text) {
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
