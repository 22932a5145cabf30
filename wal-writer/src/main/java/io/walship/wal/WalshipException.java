package io.walship.wal;

/** Base of walship's domain exceptions; the CLI maps subclasses to exit codes. */
public class WalshipException extends RuntimeException {
    public WalshipException(String message) {
        super(message);
    }

    public WalshipException(String message, Throwable cause) {
        super(message, cause);
    }
}
