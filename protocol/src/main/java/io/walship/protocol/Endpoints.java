package io.walship.protocol;

/**
 * The endpoints and query parameters of walship's HTTP API (README, "HTTP API"), shared by the
 * node that serves them and every client. Paths are absolute; a client resolves them against
 * its base URL. Constants only.
 */
public final class Endpoints {
    /** {@code /kv/{key}}: GET, PUT, DELETE one key; the key is one path segment, see {@link KeyPaths}. */
    public static final String KV = "/kv/";
    /** POST a {@link BatchRequest}: one atomic commit. */
    public static final String BATCH = "/batch";
    /** GET {@code key<TAB>value} lines ({@link Escaping#pair}) for {@code from <= key < to}. */
    public static final String SCAN = "/scan";
    /** GET a {@link DigestResponse}. */
    public static final String DIGEST = "/digest";
    /** GET a {@link StatusResponse}. */
    public static final String STATUS = "/status";
    /** GET a point-in-time image of the store, with {@link Headers#LSN} and the digest headers. */
    public static final String SNAPSHOT = "/snapshot";
    /** GET Prometheus text. */
    public static final String METRICS = "/metrics";

    /**
     * POST on a follower: promote it (stop following, fetch what more advanced {@link #PEERS} hold,
     * claim the next timeline in the archive, take writes); answers {@link PromoteResponse}.
     */
    public static final String PROMOTE = "/promote";
    /** Query parameter of {@link #PROMOTE}: {@code true} promotes even if a peer's WAL cannot be fetched. */
    public static final String FORCE = "force";
    /** Query parameter of {@link #PROMOTE}: the other followers' HTTP URLs, comma-separated. */
    public static final String PEERS = "peers";
    /**
     * GET {@code /wal?from=LSN}: the node's durable WAL entries from LSN on, as they are in its WAL
     * ({@link WalStream}); what a promoting follower fetches from a more advanced one.
     */
    public static final String WAL = "/wal";

    /** Query parameter of writes: {@code durable} (default) or {@code async}. */
    public static final String DURABILITY = "durability";
    /** Query parameter on writes: {@code async}, {@code semi-sync} or {@code sync}, no stronger than the leader's mode. */
    public static final String SYNC = "sync";
    /** Query parameters of {@link #SCAN}: first key (inclusive), end key (exclusive), most pairs. */
    public static final String FROM = "from";
    public static final String TO = "to";
    public static final String LIMIT = "limit";
    /**
     * Query parameter of reads ({@code GET /kv/{key}}, {@link #SCAN}, {@link #DIGEST}): answer only
     * from a state at or after this LSN (16 hex digits, {@code 0x…} or decimal); a follower waits
     * up to its {@code --read-wait} for it, then answers 503.
     */
    public static final String MIN_LSN = "min_lsn";
    /**
     * Query parameter of {@link #SNAPSHOT}: {@code for=}{@value #FOR_FOLLOWER} asks for the image a
     * new follower bootstraps from — as new as the WAL the replication stream would send it
     * (durable on the leader, maybe not yet acknowledged by followers), and needing the write token
     * when the leader has one. Without it the image is a read like any other: bounded by the
     * leader's commit point.
     */
    public static final String FOR = "for";
    public static final String FOR_FOLLOWER = "follower";

    private Endpoints() {
    }
}
