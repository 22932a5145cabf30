package io.walship.client;

import java.net.URI;

/**
 * HTTP 500 (or another 5xx without its own class): the node failed, e.g. an integrity error
 * (a checksum mismatch) in its data. Reads fall back to the next node first; this is thrown when
 * the last node tried (the leader) answers so, or for a write.
 */
public class ServerErrorException extends WalshipException {
    public ServerErrorException(URI node, int status, String reason) {
        super(node, status, reason);
    }
}
