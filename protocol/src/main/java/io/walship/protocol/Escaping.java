package io.walship.protocol;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * How keys and values travel as text: in {@code GET /scan} answers and in what {@code kv dump} and
 * {@code kv scan} print, one {@link #pair} per line. UTF-8 text with {@code \t}, {@code \n},
 * {@code \r} and {@code \\} escaped; bytes that are not valid UTF-8 or are other control
 * characters appear as {@code \xNN}. {@link #unescape} reverses it. Stateless.
 */
public final class Escaping {
    private Escaping() {
    }

    /** One {@code key<TAB>value} line without its line end, both sides escaped. */
    public static String pair(byte[] key, byte[] value) {
        return escape(key) + '\t' + escape(value);
    }

    public static String escape(byte[] bytes) {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            StringBuilder sb = new StringBuilder();
            for (byte b : bytes) {
                int v = b & 0xFF;
                if (v >= 0x20 && v < 0x7F && v != '\\') {
                    sb.append((char) v);
                } else {
                    sb.append(String.format("\\x%02x", v));
                }
            }
            return sb.toString();
        }
        StringBuilder sb = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '\t' -> sb.append("\\t");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\\' -> sb.append("\\\\");
                default -> {
                    if (c < 0x20 || c == 0x7F) {
                        sb.append(String.format("\\x%02x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.toString();
    }

    /**
     * The bytes {@link #escape} turned into {@code s}.
     *
     * @throws BadInputException on an escape that {@link #escape} never writes: an unknown
     *                           {@code \c}, a {@code \} at the end, {@code \x} without two hex digits
     */
    public static byte[] unescape(String s) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] raw = s.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < raw.length; i++) {
            if (raw[i] != '\\') {
                out.write(raw[i]);
                continue;
            }
            if (i + 1 >= raw.length) {
                throw new BadInputException("bad escape at offset " + i + ": a backslash at the end (write \\\\)");
            }
            char n = (char) raw[++i];
            switch (n) {
                case 't' -> out.write('\t');
                case 'n' -> out.write('\n');
                case 'r' -> out.write('\r');
                case '\\' -> out.write('\\');
                case 'x' -> {
                    int hi = i + 1 < raw.length ? KeyPaths.hex((char) raw[i + 1]) : -1;
                    int lo = i + 2 < raw.length ? KeyPaths.hex((char) raw[i + 2]) : -1;
                    if (hi < 0 || lo < 0) {
                        throw new BadInputException("bad escape at offset " + (i - 1) + ": \\x needs two hex digits");
                    }
                    out.write(hi << 4 | lo);
                    i += 2;
                }
                default -> throw new BadInputException("bad escape at offset " + (i - 1) + ": \\"
                        + (n < 0x80 && n >= 0x20 ? String.valueOf(n) : String.format("x%02x", raw[i] & 0xFF))
                        + " (known: \\t \\n \\r \\\\ \\xNN)");
            }
        }
        return out.toByteArray();
    }
}
