package io.walship.wal;

/**
 * Data that must be trusted is not what it claims to be: a checksum mismatch, a gap or break in
 * LSN order, a format-version mismatch. Never recovered from silently (exit code 3 in the CLI).
 */
public class IntegrityException extends WalshipException {
    public IntegrityException(String message) {
        super(message);
    }

    public IntegrityException(String message, Throwable cause) {
        super(message, cause);
    }
}
