package io.walship.client;

import java.net.URI;

/** HTTP 401: the node wants {@code Authorization: Bearer <token>} (a leader started with {@code --auth-token-file} does on writes) and the client sent none or a wrong one. */
public class UnauthorizedException extends WalshipException {
    public UnauthorizedException(URI node, String reason) {
        super(node, 401, reason);
    }
}
