package io.walship.client;

import java.net.URI;

/**
 * HTTP 421: the node is not the leader (a follower answers every write so) and the client could
 * not follow it to the leader — the answer named no leader ({@code Walship-Leader}), or the
 * redirects went on longer than the client's limit. A write answered 421 was not applied.
 */
public class MisdirectedRequestException extends WalshipException {
    private final String leader;

    /** @param leader the leader the node named, or null if it named none */
    public MisdirectedRequestException(URI node, String reason, String leader) {
        super(node, 421, reason);
        this.leader = leader;
    }

    /** The leader's URL as the node named it, or null. */
    public String leader() {
        return leader;
    }
}
