package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class LsnTest {
    @Test
    void formatAndParseRoundTrip() {
        for (long v : new long[] {0, 1, 42, 0xFFFF, Long.MAX_VALUE, -1L}) {
            assertEquals(v, Lsn.parse(Lsn.format(v)));
            assertEquals(16, Lsn.format(v).length());
        }
        assertEquals("000000000000002A", Lsn.format(42));
        assertEquals(42, Lsn.parse("42"));
        assertEquals(42, Lsn.parse("0x2a"));
    }

    @Test
    void lexicalOrderIsNumericOrder() {
        assertEquals(-1, Integer.signum(Lsn.format(9).compareTo(Lsn.format(10))));
        assertEquals(-1, Integer.signum(Lsn.format(0xFF).compareTo(Lsn.format(0x100))));
    }

    @Test
    void rejectsGarbage() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Lsn.parse("12ab"));
        assertEquals(true, e.getMessage().startsWith("not an LSN: '12ab'"));
        assertThrows(IllegalArgumentException.class, () -> Lsn.parse("-5"));
    }
}
