package io.walship.wal;

/**
 * A batch over one of the limits of {@link WriteBatch} ({@link WriteBatch#MAX_OPS} operations,
 * {@link WriteBatch#MAX_BYTES} bytes of keys and values, {@link WriteBatch#MAX_ENTRY_BYTES}
 * bytes of WAL entry). Nothing of it is applied; the message names the limit. Split the batch.
 * The HTTP layer answers 413, the CLI exits with code 4.
 */
public final class BatchTooLargeException extends WalshipException {
    public BatchTooLargeException(String message) {
        super(message);
    }
}
