package io.walship.archive;

/**
 * The archive is wrongly configured: a malformed URI, a missing bucket, rejected credentials.
 * Retrying will not help; the CLI reports it with exit code 2.
 */
public final class ArchiveConfigException extends StorageException {
    public ArchiveConfigException(String message) {
        super(message);
    }

    public ArchiveConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
