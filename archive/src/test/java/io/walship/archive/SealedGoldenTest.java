package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docs/FORMAT.md "Sealed objects": the golden object (archive key 32 x 0x11, data key 0x40..0x5F,
 * key {@value #KEY}, the plaintext below) keeps opening, and sealing it again gives exactly its bytes.
 * Regenerate with -Dwalship.golden.write=DIR only for a new format version.
 */
class SealedGoldenTest {
    static final String KEY = "wal/00000001/0000000000000001-0000000000000002.seg";
    static final byte[] PLAIN = "walship sealed golden object\n".getBytes(StandardCharsets.UTF_8);

    @TempDir
    Path tmp;

    static byte[] dataKey() {
        byte[] k = new byte[32];
        for (int i = 0; i < 32; i++) {
            k[i] = (byte) (0x40 + i);
        }
        return k;
    }

    static EncryptionKeys archiveKey() {
        byte[] k = new byte[32];
        java.util.Arrays.fill(k, (byte) 0x11);
        return EncryptionKeys.of(List.of(k));
    }

    @Test
    void theGoldenSealedObjectOpensAndSealingGivesItsBytes() throws Exception {
        byte[] golden;
        try (InputStream in = SealedGoldenTest.class.getResourceAsStream("/golden/sealed-v1.bin")) {
            golden = in.readAllBytes();
        }
        byte[] sealed = new Sealed.SealingStream(KEY, archiveKey().current(), dataKey(), new ByteArrayInputStream(PLAIN))
                .readAllBytes();
        String dir = System.getProperty("walship.golden.write");
        if (dir != null) {
            Files.write(Path.of(dir, "sealed-v1.bin"), sealed);
        }
        assertArrayEquals(golden, sealed);
        LocalObjectStore raw = new LocalObjectStore(tmp);
        raw.create(KEY, new ByteArrayInputStream(golden));
        raw.create(EncryptedObjectStore.MARKER, new ByteArrayInputStream(EncryptedObjectStore.marker("aes-256-gcm")));
        try (InputStream in = new EncryptedObjectStore(raw, archiveKey()).get(KEY)) {
            assertArrayEquals(PLAIN, in.readAllBytes());
        }
    }
}
