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
     * The key a raw (still encoded) path segment names. A {@code +} stays a {@code +}; other
     * characters stand for their UTF-8 bytes.
     *
     * @throws IllegalArgumentException on a {@code %} not followed by two hex digits
     */
    public static byte[] decode(String raw) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(raw.length());
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c == '%') {
                if (i + 2 >= raw.length() || Character.digit(raw.charAt(i + 1), 16) < 0
                        || Character.digit(raw.charAt(i + 2), 16) < 0) {
                    throw new IllegalArgumentException("bad percent-encoding in key");
                }
                out.write(Integer.parseInt(raw.substring(i + 1, i + 3), 16));
                i += 2;
            } else {
                byte[] b = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
                out.write(b, 0, b.length);
            }
        }
        return out.toByteArray();
    }
}
