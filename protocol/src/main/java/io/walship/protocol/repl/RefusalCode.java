package io.walship.protocol.repl;

/**
 * Why a leader refused a follower's HELLO (the u16 code of a {@link Frame.Refuse} frame,
 * docs/PROTOCOL.md). The leader closes the connection after sending the refusal.
 */
public enum RefusalCode {
    /** The HELLO's protocol version is not one the leader speaks. */
    UNSUPPORTED_VERSION(1),
    /** The follower belongs to another store (another system id): it must be rebuilt from this leader's archive. */
    SYSTEM_ID_MISMATCH(2),
    /** The follower's timeline is neither the leader's nor an ancestor the leader can follow from the start LSN. */
    UNKNOWN_TIMELINE(3),
    /** The leader no longer has the WAL from the start LSN on: the follower catches up from the archive. */
    WAL_NOT_AVAILABLE(4),
    /** The leader requires a token and the HELLO's token is missing or wrong. */
    AUTH_FAILED(5),
    /** The named slot was marked lost (it held back more WAL than allowed); the operator must recreate it. */
    SLOT_LOST(6),
    /** Another follower is streaming on the named slot right now. */
    SLOT_IN_USE(7),
    /** This node does not serve replication now (not a leader, at its session limit, or shutting down): retry later. */
    NOT_A_LEADER(8),
    /** The start LSN is past the leader's durable LSN + 1: the follower has WAL the leader never had (rewind or rebuild). */
    FOLLOWER_AHEAD(9);

    private final int code;

    RefusalCode(int code) {
        this.code = code;
    }

    /** The code on the wire. */
    public int code() {
        return code;
    }

    /**
     * The refusal with wire code {@code code}.
     *
     * @throws ProtocolException if no refusal has that code
     */
    public static RefusalCode of(int code) throws ProtocolException {
        for (RefusalCode c : values()) {
            if (c.code == code) {
                return c;
            }
        }
        throw new ProtocolException("unknown refusal code " + code);
    }
}
