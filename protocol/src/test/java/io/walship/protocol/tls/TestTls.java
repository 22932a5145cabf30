package io.walship.protocol.tls;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The committed throwaway TLS files (src/test/resources/io/walship/protocol/tls, README there) as
 * files on disk, for tests in any module (protocol's test-jar): a CA, an RSA and an EC server
 * certificate for 127.0.0.1 and localhost, and bad keys.
 */
public final class TestTls {
    public static final List<String> FILES = List.of("ca.pem", "server.pem", "server.key", "ec-server.pem",
            "ec-server.key", "other.key", "encrypted.key", "pkcs1.key", "wrong-name.pem", "wrong-name.key");

    private TestTls() {
    }

    /** Copies every file into {@code dir} (created) and returns {@code dir}. */
    public static Path writeTo(Path dir) {
        try {
            Files.createDirectories(dir);
            for (String f : FILES) {
                try (InputStream in = TestTls.class.getResourceAsStream(f)) {
                    if (in == null) {
                        throw new IllegalStateException("test resource " + f + " missing");
                    }
                    Files.write(dir.resolve(f), in.readAllBytes());
                }
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
