package io.walship.client;

import java.net.URI;

/** HTTP 507: the leader has no space for the WAL; the write was rolled back, its LSN unused. Writes work again as soon as space is freed. */
public class InsufficientStorageException extends WalshipException {
    public InsufficientStorageException(URI node, String reason) {
        super(node, 507, reason);
    }
}
