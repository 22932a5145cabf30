package io.walship.archive;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * The archive keys a process holds (docs/OPERATIONS.md "Encryption"): none (the archive is
 * plaintext) or one or more 32-byte AES-256 keys, the first of which seals new objects; all are
 * tried, by key id, to open existing ones (rotation). Immutable; {@link #toString} never shows a key.
 */
public final class EncryptionKeys {
    public static final int KEY_BYTES = 32;
    /** What the key id hashes before the key, so that the id is no other use's hash of the key. */
    private static final byte[] ID_LABEL = "walship archive key id v1\0".getBytes(StandardCharsets.US_ASCII);
    private static final EncryptionKeys NONE = new EncryptionKeys(List.of());

    /** One key and its id (the first 8 bytes of SHA-256 over a fixed label and the key). */
    public record Key(byte[] id, byte[] material) {
        public String idHex() {
            return HexFormat.of().formatHex(id);
        }

        @Override
        public String toString() {
            return "key " + idHex();
        }
    }

    private final List<Key> keys;

    private EncryptionKeys(List<Key> keys) {
        this.keys = List.copyOf(keys);
    }

    public static EncryptionKeys none() {
        return NONE;
    }

    /** Keys from raw bytes, the first current (tests, and {@link #load}). */
    public static EncryptionKeys of(List<byte[]> materials) {
        List<Key> out = new ArrayList<>();
        for (byte[] m : materials) {
            if (m.length != KEY_BYTES) {
                throw new EncryptionKeyException("an archive key must be exactly " + KEY_BYTES + " bytes, not " + m.length);
            }
            out.add(new Key(id(m), m.clone()));
        }
        return new EncryptionKeys(out);
    }

    /**
     * Reads key files (each exactly 32 bytes, as {@code head -c 32 /dev/urandom} makes them), the
     * first current.
     *
     * @throws EncryptionKeyException naming the file (never its content) if one is unreadable or not 32 bytes
     */
    public static EncryptionKeys load(List<Path> files) {
        List<byte[]> materials = new ArrayList<>();
        for (Path f : files) {
            byte[] m;
            try {
                if (Files.size(f) != KEY_BYTES) {
                    throw new EncryptionKeyException("encryption key file " + f + " must hold exactly " + KEY_BYTES
                            + " bytes (make one with: head -c 32 /dev/urandom > FILE), it holds " + Files.size(f));
                }
                m = Files.readAllBytes(f);
            } catch (IOException e) {
                throw new EncryptionKeyException("cannot read encryption key file " + f + ": "
                        + e.getClass().getSimpleName());
            }
            if (m.length != KEY_BYTES) {
                throw new EncryptionKeyException("encryption key file " + f + " must hold exactly " + KEY_BYTES + " bytes");
            }
            materials.add(m);
        }
        return of(materials);
    }

    /**
     * The keys of the command-line files if any were given, else of {@code envList} (a
     * {@code :}-separated list of files, as {@code WALSHIP_ENCRYPTION_KEY_FILE} holds), else none.
     */
    public static EncryptionKeys resolve(List<Path> files, String envList) {
        if (files != null && !files.isEmpty()) {
            return load(files);
        }
        if (envList != null && !envList.isBlank()) {
            List<Path> paths = new ArrayList<>();
            for (String p : envList.split(":")) {
                if (!p.isBlank()) {
                    paths.add(Path.of(p.trim()));
                }
            }
            return load(paths);
        }
        return none();
    }

    public boolean isEmpty() {
        return keys.isEmpty();
    }

    /** The key that seals new objects. */
    Key current() {
        return keys.get(0);
    }

    Optional<Key> byId(byte[] id) {
        return keys.stream().filter(k -> MessageDigest.isEqual(k.id(), id)).findFirst();
    }

    /** The keys held, current first. */
    List<Key> all() {
        return keys;
    }

    /** The ids held, for messages. */
    public List<String> ids() {
        return keys.stream().map(Key::idHex).toList();
    }

    static byte[] id(byte[] material) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(ID_LABEL);
            sha.update(material);
            return java.util.Arrays.copyOf(sha.digest(), 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public String toString() {
        return isEmpty() ? "no encryption" : "encryption keys " + ids();
    }
}
