package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.UncheckedIOException;

import org.junit.jupiter.api.Test;

class ErrorsTest {
    @Test
    void firstLineOrTheClassName() {
        assertEquals("bad thing", Errors.oneLine(new IllegalStateException("bad thing\n  at detail")));
        assertEquals("NullPointerException", Errors.oneLine(new NullPointerException()));
    }

    @Test
    void causesThatTheLineDoesNotMention() {
        IOException io = new IOException("No space left on device");
        assertEquals("compress segment k: caused by IOException: No space left on device",
                Errors.withCauses(new UncheckedIOException("compress segment k", io)));
        assertEquals("write f: No space left on device",
                Errors.withCauses(new UncheckedIOException("write f: No space left on device", io)));
        assertEquals("x: caused by InterruptedException",
                Errors.withCauses(new IllegalStateException("x", new InterruptedException())));
    }
}
