package io.walship.client;

import java.net.URI;

/** HTTP 400: the request itself is wrong (a key or value over its limit, a bad batch, a bad query parameter); retrying it cannot help. */
public class BadRequestException extends WalshipException {
    public BadRequestException(URI node, String reason) {
        super(node, 400, reason);
    }
}
