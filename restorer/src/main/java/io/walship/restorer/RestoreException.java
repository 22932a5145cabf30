package io.walship.restorer;

import io.walship.wal.WalshipException;

/**
 * The archive cannot give what a restore asked for: a gap in the WAL, a target before every base
 * backup or past the archived end, a timeline that does not exist. Exit code 3, like corruption:
 * nothing was skipped and the target directory is not a store.
 */
public final class RestoreException extends WalshipException {
    public RestoreException(String message) {
        super(message);
    }
}
