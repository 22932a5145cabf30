package io.walship.client;

import java.net.URI;

/** HTTP 404 for something other than an absent key (an absent key is a {@link GetResult} that is not {@linkplain GetResult#found() found}): usually a base URL that does not point at a walship node. */
public class NotFoundException extends WalshipException {
    public NotFoundException(URI node, String reason) {
        super(node, 404, reason);
    }
}
