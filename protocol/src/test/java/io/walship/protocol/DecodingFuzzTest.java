package io.walship.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

/**
 * Fuzzes the text codecs a client's input goes through: key/percent decoding ({@link KeyPaths},
 * used for {@code /kv/{key}} and the {@code /scan} bounds) and dump escaping ({@link Escaping}).
 * Any bytes round-trip exactly; any string either decodes or fails with the one documented
 * exception, {@link BadInputException} (HTTP 400, exit 2) — never an index or number-format
 * error. jqwik prints the seed of a failing run.
 */
class DecodingFuzzTest {

    @Property(tries = 3_000)
    void anyKeyRoundTripsThroughItsPathSegment(@ForAll @Size(max = 64) byte[] key) {
        String seg = KeyPaths.encode(key);
        assertTrue(seg.chars().allMatch(c -> c < 0x80 && c != '/' && c != '?' && c != '&' && c != '#' && c != '+'), seg);
        assertArrayEquals(key, KeyPaths.decode(seg));
    }

    @Property(tries = 5_000)
    void percentDecodingOnlyFailsAsBadInput(@ForAll("pathish") String raw) {
        byte[] b;
        try {
            b = KeyPaths.decode(raw);
        } catch (BadInputException e) {
            assertTrue(e.getMessage().startsWith("bad "), e.getMessage());
            return;
        }
        // what decoded is exactly what encodes back to an equivalent segment
        assertArrayEquals(b, KeyPaths.decode(KeyPaths.encode(b)));
        if (raw.indexOf('%') < 0) {
            assertArrayEquals(raw.getBytes(StandardCharsets.UTF_8), b, "without '%' a segment is its UTF-8 bytes");
        }
    }

    @Property(tries = 3_000)
    void anyBytesRoundTripThroughEscaping(@ForAll @Size(max = 80) byte[] bytes) {
        String escaped = Escaping.escape(bytes);
        assertEquals(-1, escaped.indexOf('\t'));
        assertEquals(-1, escaped.indexOf('\n'));
        assertEquals(-1, escaped.indexOf('\r'));
        assertArrayEquals(bytes, Escaping.unescape(escaped), escaped);
    }

    @Property(tries = 5_000)
    void unescapeOnlyFailsAsBadInput(@ForAll("escapish") String s) {
        byte[] b;
        try {
            b = Escaping.unescape(s);
        } catch (BadInputException e) {
            assertTrue(e.getMessage().startsWith("bad escape"), e.getMessage());
            return;
        }
        assertArrayEquals(b, Escaping.unescape(Escaping.escape(b)));
    }

    @Test
    void malformedInputIsNamedNotMisread() {
        for (String bad : new String[] {"%-1", "%G0", "%4", "%", "a%+f", "%\uFF11\uFF11", "x%0"}) {
            assertThrows(BadInputException.class, () -> KeyPaths.decode(bad), bad);
        }
        assertThrows(BadInputException.class, () -> KeyPaths.decode("a\uD800b"), "unpaired surrogate");
        assertArrayEquals(new byte[] {(byte) 0xF0, (byte) 0x9F, (byte) 0x98, (byte) 0x80}, KeyPaths.decode("\uD83D\uDE00"),
                "a character outside the BMP is its 4 UTF-8 bytes");
        assertArrayEquals("a+b".getBytes(StandardCharsets.UTF_8), KeyPaths.decode("a+b"));
        for (String bad : new String[] {"\\x", "ab\\x4", "\\", "a\\", "\\x-1", "\\x+f", "\\xG0", "\\q", "\\\u00e9"}) {
            assertThrows(BadInputException.class, () -> Escaping.unescape(bad), bad);
        }
    }

    @Provide
    Arbitrary<String> pathish() {
        return Arbitraries.oneOf(
                Arbitraries.strings().withChars("%0123456789abcdefABCDEFGg-+./~ ").ofMaxLength(12),
                Arbitraries.strings().all().ofMaxLength(12),
                Arbitraries.strings().withChars("%\uFF11\uD800\uDC00\u00e9a").ofMaxLength(8));
    }

    @Provide
    Arbitrary<String> escapish() {
        return Arbitraries.oneOf(
                Arbitraries.strings().withChars("\\xtnr0123456789abcdefFG-+q\u00e9").ofMaxLength(12),
                Arbitraries.strings().all().ofMaxLength(12));
    }
}
