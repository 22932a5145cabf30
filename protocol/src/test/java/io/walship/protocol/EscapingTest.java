package io.walship.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

class EscapingTest {
    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void textStaysReadableAndSeparatorsAreEscaped() {
        assertEquals("tab\\there\\nnew\\r\\\\ é", Escaping.escape(utf8("tab\there\nnew\r\\ é")));
        assertEquals("a\\x01b\\x7f", Escaping.escape(utf8("a\u0001b\u007f")));
        assertEquals("\\xff\\xfeab", Escaping.escape(new byte[] {(byte) 0xFF, (byte) 0xFE, 'a', 'b'}));
        assertEquals("k\\tey\tv", Escaping.pair(utf8("k\tey"), utf8("v")));
    }

    @Test
    void anyBytesRoundTrip() {
        SplittableRandom rnd = new SplittableRandom(7);
        for (int i = 0; i < 2_000; i++) {
            byte[] b = new byte[rnd.nextInt(40)];
            for (int j = 0; j < b.length; j++) {
                b[j] = (byte) (rnd.nextBoolean() ? 'a' + rnd.nextInt(26) : rnd.nextInt(256));
            }
            String escaped = Escaping.escape(b);
            assertEquals(-1, escaped.indexOf('\t'));
            assertEquals(-1, escaped.indexOf('\n'));
            assertArrayEquals(b, Escaping.unescape(escaped), escaped);
        }
    }

    @Test
    void unknownEscapeIsRefused() {
        assertThrows(BadInputException.class, () -> Escaping.unescape("a\\qb"));
    }
}
