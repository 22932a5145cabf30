package io.walship.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import io.walship.archive.EncryptionKeys;
import io.walship.archive.ObjectStore;
import picocli.CommandLine.Option;

/**
 * {@code --encryption-key-file FILE} (a picocli mixin) of every command that touches the archive
 * (docs/OPERATIONS.md "Encryption"): the key is read from a file, never given as a value.
 */
final class EncryptionOption {
    static final String ENV = "WALSHIP_ENCRYPTION_KEY_FILE";

    @Option(names = "--encryption-key-file", paramLabel = "FILE",
            description = "Encrypt the archive with the 32-byte key in FILE (head -c 32 /dev/urandom > FILE);"
                    + " repeat for rotation: the first seals new objects, all open old ones. The archive's mode is"
                    + " fixed by its first writer. Env: " + ENV + " (FILE[:FILE...]).")
    List<Path> files = new ArrayList<>();

    /** The keys given here or in the environment (none: a plaintext archive); a bad key file is exit 2. */
    EncryptionKeys keys() {
        return EncryptionKeys.resolve(files, System.getenv(ENV));
    }

    /** {@code raw} inside the encryption layer with these keys (the benchmarks open S3 stores themselves). */
    ObjectStore wrap(ObjectStore raw) {
        return new io.walship.archive.EncryptedObjectStore(raw, keys());
    }
}
