package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of branch encrypt: a flipped byte in a sealed header's key id is tampering, and the reader
 * holds the key that unwraps the data key (AES key wrap has its own integrity check, so trying the
 * held keys tells a tampered id from a missing key). It is reported as a missing key instead (exit
 * 2, "give that key's file"), sending the operator to look for a key that never existed, rather
 * than exit 3 naming the damaged object.
 */
class EncryptedKeyIdTamperTest {
    static final String SEG = "wal/00000001/0000000000000001-0000000000000009.seg";

    @TempDir
    Path tmp;

    static byte[] read(InputStream in) {
        try (in) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void aFlippedKeyIdByteIsCorruptionNotAMissingKey() {
        byte[] k = new byte[32];
        Arrays.fill(k, (byte) 0x11);
        ObjectStore raw = new LocalObjectStore(tmp.resolve("a"));
        ObjectStore enc = new EncryptedObjectStore(raw, EncryptionKeys.of(List.of(k)));
        enc.create(SEG, new ByteArrayInputStream(new byte[1000]));
        byte[] sealed = read(raw.get(SEG));
        for (int at = 5; at < 5 + Sealed.KEY_ID_BYTES; at++) {
            byte[] t = sealed.clone();
            t[at] ^= 0x01;
            raw.delete(SEG);
            raw.create(SEG, new ByteArrayInputStream(t));
            int where = at;
            assertThrows(CorruptObjectException.class, () -> read(enc.get(SEG)), "key id byte " + where + " flipped");
        }
    }
}
