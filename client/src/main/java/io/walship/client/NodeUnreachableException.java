package io.walship.client;

import java.io.IOException;
import java.net.URI;

/**
 * No answer: the connection was refused or reset, or the request timed out. For a read the client
 * has tried every other node first. For a write the outcome is unknown — the leader may have
 * committed it — so the client never resends a write on its own.
 */
public class NodeUnreachableException extends WalshipException {
    public NodeUnreachableException(URI node, String reason, IOException cause) {
        super(node, 0, reason, cause);
    }
}
