package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of branch encrypt: a sealed object truncated at a chunk boundary (its last chunk gone) has
 * a valid sealed size, so head/list report the shorter plaintext size; a ranged read of exactly
 * that size (what {@link ParallelGet} does for backup images) must still fail, since the last chunk
 * it returns does not carry the last-chunk flag. get() catches it; getRange does not.
 */
class EncryptedRangeTruncationTest {
    static final long SEED = Long.getLong("walship.seed", System.nanoTime());
    static final String IMG = "backups/00000001-0000000000000001/image";

    @TempDir
    Path tmp;

    static byte[] read(InputStream in) {
        try (in) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private ObjectStore[] truncatedImage() {
        System.out.println("EncryptedRangeTruncationTest seed " + SEED);
        byte[] k = new byte[32];
        Arrays.fill(k, (byte) 0x11);
        ObjectStore raw = new LocalObjectStore(tmp.resolve("a"));
        ObjectStore enc = new EncryptedObjectStore(raw, EncryptionKeys.of(List.of(k)));
        byte[] plain = new byte[3 * Sealed.CHUNK + 100]; // four chunks
        new Random(SEED).nextBytes(plain);
        enc.create(IMG, new ByteArrayInputStream(plain));
        byte[] sealed = read(raw.get(IMG));
        raw.delete(IMG);
        raw.create(IMG, new ByteArrayInputStream(Arrays.copyOf(sealed, Sealed.HEADER_BYTES + 3 * Sealed.SEALED_CHUNK)));
        return new ObjectStore[] {raw, enc};
    }

    @Test
    void anExactRangeOverAnObjectTruncatedAtAChunkBoundaryIsCorruption() {
        ObjectStore enc = truncatedImage()[1];
        assertThrows(CorruptObjectException.class, () -> read(enc.get(IMG)), "get() sees the truncation");
        long size = enc.head(IMG).orElseThrow().size(); // 3 * 64 KiB: a valid sealed size
        assertThrows(CorruptObjectException.class, () -> read(enc.getRange(IMG, 0, size)),
                "getRange(0, head size) returned the truncated object as valid");
    }

    @Test
    void aParallelGetOfAnObjectTruncatedAtAChunkBoundaryIsCorruption() {
        ObjectStore enc = truncatedImage()[1];
        long size = enc.list("backups/", null).get(0).size();
        assertThrows(CorruptObjectException.class, () -> read(new ParallelGet(enc, IMG, size, 2, Sealed.CHUNK)),
                "ParallelGet (backup image download) accepted a sealed object whose last chunk is gone");
    }
}
