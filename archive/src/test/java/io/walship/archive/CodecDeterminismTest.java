package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Random;

import org.junit.jupiter.api.Test;

/**
 * A resumed base backup checks each part already uploaded against the bytes it compresses again, so
 * it resumes only if compression is deterministic: the same image through the same codec gives the
 * same bytes, whatever the number of zstd workers (zstd-jni's multithreaded mode, as BaseBackup uses
 * it with one worker per core, at most {@link Codec#MAX_WORKERS}) and whichever run. A codec that
 * broke this would make every resume a mismatch (a start over, never a wrong backup).
 */
class CodecDeterminismTest {
    static byte[] compress(Codec codec, byte[] in, int workers) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (OutputStream c = codec.compress(out, workers)) {
            for (int off = 0; off < in.length; off += 256 << 10) { // as BaseBackup writes: 256 KiB at a time
                c.write(in, off, Math.min(256 << 10, in.length - off));
            }
        }
        return out.toByteArray();
    }

    @Test
    void theSameImageCompressesToTheSameBytes() throws IOException {
        long seed = System.nanoTime();
        System.out.println("CodecDeterminismTest seed " + seed);
        Random r = new Random(seed);
        byte[] image = new byte[3 << 20]; // random text, compressible as values are
        for (int i = 0; i < image.length; i++) {
            image[i] = (byte) ('A' + r.nextInt(52));
        }
        for (Codec codec : Codec.values()) {
            byte[] one = compress(codec, image, 1);
            assertArrayEquals(one, compress(codec, image, 1), codec + ", again");
            assertArrayEquals(one, compress(codec, image, 2), codec + ", 2 workers");
            assertArrayEquals(one, compress(codec, image, Runtime.getRuntime().availableProcessors()), codec + ", all cores");
        }
    }
}
