package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The default WAL space claim writes zeros: it extends the file, never changes data, and an interrupt does not break it. */
class PreallocatorTest {
    @TempDir
    Path tmp;

    @Test
    void zerosExtendTheFileAndKeepWhatIsThere() throws Exception {
        Path f = tmp.resolve("w.cq4");
        byte[] data = new byte[10_000];
        Arrays.fill(data, (byte) 7);
        Files.write(f, data);
        try (Preallocator p = new Preallocator()) {
            p.reserve(f, 5_000, 1 << 20);
        }
        byte[] after = Files.readAllBytes(f);
        assertEquals(1 << 20, after.length);
        assertArrayEquals(data, Arrays.copyOf(after, data.length), "data already there is unchanged");
        for (int i = data.length; i < after.length; i++) {
            if (after[i] != 0) {
                throw new AssertionError("byte " + i + " is " + after[i]);
            }
        }
    }

    @Test
    void anInterruptedThreadStillClaimsSpace() throws Exception {
        Path f = tmp.resolve("w.cq4");
        try (Preallocator p = new Preallocator()) {
            Thread.currentThread().interrupt();
            try {
                p.reserve(f, 0, 1 << 20);
            } finally {
                assertTrue(Thread.interrupted(), "the interrupt is kept");
            }
        }
        assertEquals(1 << 20, Files.size(f));
    }
}
