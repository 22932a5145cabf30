package io.walship.archive;

/**
 * The archive's encryption and the keys given do not fit: a key is missing, wrong, or unreadable,
 * or the archive's mode differs from the writer's. Never carries key material. Retrying will not
 * help; the CLI reports it with exit code 2, and long-running loops stop on it instead of retrying.
 */
public final class EncryptionKeyException extends StorageException {
    public EncryptionKeyException(String message) {
        super(message);
    }

    /** A key error met on the way to something larger, {@code message} saying what that was (and {@code cause}'s own). */
    public EncryptionKeyException(String message, EncryptionKeyException cause) {
        super(message, cause);
    }
}
