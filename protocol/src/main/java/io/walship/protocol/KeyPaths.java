package io.walship.protocol;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * How a key travels as the one path segment of {@code /kv/{key}}: percent-encoding of every byte
 * outside {@code A-Z a-z 0-9 - . _ ~}, so {@code /kv/user%2F1} is the key {@code user/1} and any
 * byte string round-trips. Stateless.
 */
public final class KeyPaths {
    private KeyPaths() {
    }

    /** The path segment for {@code key}. */
    public static String encode(byte[] key) {
        StringBuilder sb = new StringBuilder(key.length);
        for (byte b : key) {
            int c = b & 0xFF;
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || "-._~".indexOf(c) >= 0) {
                sb.append((char) c);
            } else {
                sb.append('%').append(String.format("%02X", c));
            }
        }
        return sb.toString();
    }

    /**
     * The bytes a raw (still encoded) path segment or query value names: {@code %XX} (two ASCII hex
     * digits) is that byte, a {@code +} stays a {@code +}, any other character stands for its UTF-8
     * bytes. Byte-exact: whatever {@link #encode} wrote decodes to the same bytes.
     *
     * @throws BadInputException on a {@code %} not followed by two ASCII hex digits ({@code %-1},
     *                           {@code %G0}, a trailing {@code %4}) or an unpaired surrogate
     */
    public static byte[] decode(String raw) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(raw.length());
        for (int i = 0; i < raw.length(); ) {
            char c = raw.charAt(i);
            if (c == '%') {
                int hi = i + 1 < raw.length() ? hex(raw.charAt(i + 1)) : -1;
                int lo = i + 2 < raw.length() ? hex(raw.charAt(i + 2)) : -1;
                if (hi < 0 || lo < 0) {
                    throw new BadInputException("bad percent-encoding at offset " + i + ": '%' must be followed by"
                            + " two hex digits");
                }
                out.write(hi << 4 | lo);
                i += 3;
            } else if (c < 0x80) {
                out.write(c);
                i++;
            } else {
                int cp = raw.codePointAt(i);
                if (Character.isSurrogate((char) cp)) {
                    throw new BadInputException("bad character at offset " + i + ": an unpaired UTF-16 surrogate");
                }
                byte[] b = new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8);
                out.write(b, 0, b.length);
                i += Character.charCount(cp);
            }
        }
        return out.toByteArray();
    }

    /** The value of an ASCII hex digit, or -1 (unlike {@link Character#digit}, no other scripts' digits). */
    static int hex(char c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return -1;
    }
}
