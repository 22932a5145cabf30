package io.walship.client;

import java.net.URI;

/** HTTP 413: the request body is over the node's limit (4 MiB). */
public class PayloadTooLargeException extends WalshipException {
    public PayloadTooLargeException(URI node, String reason) {
        super(node, 413, reason);
    }
}
