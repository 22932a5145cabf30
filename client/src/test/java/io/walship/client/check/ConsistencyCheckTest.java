package io.walship.client.check;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.reflect.Method;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;

import io.walship.client.FollowerStandIn;
import io.walship.client.WalshipClient;
import io.walship.client.check.ConsistencyChecker.Kind;
import io.walship.client.check.ConsistencyChecker.Report;
import io.walship.server.LeaderServer;
import io.walship.wal.Store;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

/**
 * The consistency check: concurrent sessions with LSN tokens, through {@link WalshipClient},
 * against a leader and its followers; {@link ConsistencyChecker} then verifies read-your-writes,
 * monotonic reads and that every read reflects its LSN.
 *
 * <p>{@link #check} takes the leader's and the followers' URLs, so the same check runs against a
 * leader alone (the default suite, {@code walship.check.ops} = 10,000 operations), a leader with
 * follower stand-ins, and — with {@code -Dwalship.check.leader=URL
 * -Dwalship.check.followers=URL,URL} or the {@code consistency} Maven profile — running nodes.
 * Sessions, keys and the seed come from {@code walship.check.sessions}, {@code walship.check.keys}
 * and {@code walship.check.seed} (0: a new seed); the seed is printed.
 */
class ConsistencyCheckTest {
    private static final int OPS = Integer.getInteger("walship.check.ops", 10_000);
    private static final int SESSIONS = Integer.getInteger("walship.check.sessions", 8);
    private static final int KEYS = Integer.getInteger("walship.check.keys", 64);
    private static final long SEED = seed();

    @TempDir
    Path tmp;
    private Store store;
    private LeaderServer leader;
    private String leaderUrl;
    private final List<FollowerStandIn> standIns = new java.util.ArrayList<>();

    private static long seed() {
        long s = Long.getLong("walship.check.seed", 0);
        return s != 0 ? s : new Random().nextLong();
    }

    /** The leader given with -Dwalship.check.leader, or "" (then the in-process runs are made). */
    private static String runningLeader() {
        return System.getProperty("walship.check.leader", "").trim();
    }

    @BeforeEach
    void startLeader(TestInfo info) throws IOException {
        if (info.getTestMethod().map(Method::getName).filter("runningNodes"::equals).isPresent()) {
            return; // it checks the nodes it is given
        }
        Assumptions.assumeTrue(runningLeader().isEmpty(), "-Dwalship.check.leader given: checking running nodes only");
        store = Store.open(tmp.resolve("leader"));
        leader = new LeaderServer(store, new InetSocketAddress("127.0.0.1", 0)).start();
        leaderUrl = "http://127.0.0.1:" + leader.address().getPort();
    }

    @AfterEach
    void stop() {
        standIns.forEach(FollowerStandIn::close);
        if (leader != null) {
            leader.close();
            store.close();
        }
    }

    private FollowerStandIn standIn() throws IOException {
        FollowerStandIn f = new FollowerStandIn(leaderUrl);
        standIns.add(f);
        return f;
    }

    /**
     * Runs the workload against {@code leaderUrl} and {@code followerUrls} and checks it. Its keys
     * start with {@code keyPrefix}, which must be new to the store: the checker needs every write
     * of them in the history.
     */
    static Report check(String name, String leaderUrl, List<String> followerUrls, int ops, String keyPrefix)
            throws InterruptedException {
        Workload.Config config = new Workload.Config(SESSIONS, ops, KEYS, SEED, keyPrefix);
        System.out.println("consistency check " + name + ": seed=" + SEED + " (-Dwalship.check.seed=" + SEED + ") " + config
                + " leader " + leaderUrl + " followers " + followerUrls);
        long start = System.nanoTime();
        History history;
        try (WalshipClient client = WalshipClient.builder(leaderUrl).followers(followerUrls)
                .requestTimeout(Duration.ofSeconds(30)).build()) {
            history = Workload.run(client, config);
        }
        long ms = (System.nanoTime() - start) / 1_000_000;
        Report report = ConsistencyChecker.check(history);
        System.out.println("consistency check " + name + ": " + ops + " operations in " + ms + " ms (seed " + SEED + ")\n"
                + report.summary());
        return report;
    }

    /** A clean run: no violation, nothing failed or unknown, and the checks really ran. */
    private static void assertClean(Report r) {
        assertTrue(r.ok(), r.summary());
        assertEquals(0, r.unknownWrites(), r.summary());
        assertEquals(0, r.failedReads(), r.summary());
        assertTrue(r.readYourWritesChecks() > r.reads() / 20, "read-your-writes was exercised: " + r.summary());
        assertTrue(r.monotonicChecks() > r.reads() / 4, "monotonic reads were exercised: " + r.summary());
    }

    @Test
    void leaderAlone() throws Exception {
        Report r = check("leader alone", leaderUrl, List.of(), OPS, "");
        assertClean(r);
        assertEquals(Map.of(leaderUrl, r.reads()), r.readsByNode());
        assertTrue(r.writes() + r.reads() >= OPS, r.summary());
    }

    /**
     * A leader and two followers — today stand-ins that serve reads from the leader's state and,
     * like a lagging follower, refuse a read's min_lsn now and then (503: one a third of the time,
     * the other a quarter), so the client moves reads to the other follower and to the leader
     * while eight sessions run. The same check against live followers — a {@code walship leader
     * --repl} and two {@code walship follow} processes — is {@code ConsistencyProcessTest} in cli.
     */
    @Test
    void leaderAndTwoFollowerStandIns() throws Exception {
        Random lag = new Random(SEED);
        List<String> followers = List.of(standIn().applied(() -> behindOneIn(lag, 3)).url(),
                standIn().applied(() -> behindOneIn(lag, 4)).url());
        Report r = check("leader and two follower stand-ins", leaderUrl, followers, OPS / 4, "");
        assertClean(r);
        for (String f : followers) {
            assertTrue(r.readsByNode().getOrDefault(f, 0L) > r.reads() / 5, "reads served by " + f + ": " + r.summary());
        }
        assertTrue(r.readsByNode().getOrDefault(leaderUrl, 0L) > 0, "some reads fell back to the leader: " + r.summary());
    }

    /** The applied LSN of a stand-in that is behind every session one time in {@code n}. */
    private static long behindOneIn(Random random, int n) {
        synchronized (random) {
            return random.nextInt(n) == 0 ? 0 : Long.MAX_VALUE;
        }
    }

    /**
     * The checker catches a follower that answers from an old state while claiming a fresh LSN
     * (which the client cannot tell): half of its reads of a key return the first answer it ever
     * gave for that key.
     */
    @Test
    void aLyingFollowerIsCaught() throws Exception {
        Map<String, byte[]> firstAnswer = new ConcurrentHashMap<>();
        Map<String, Integer> firstStatus = new ConcurrentHashMap<>();
        Random coin = new Random(SEED);
        String liar = standIn().override((ex, query, fromLeader) -> {
            String path = ex.getRequestURI().getRawPath();
            if (!path.startsWith("/kv/")) {
                return false;
            }
            firstStatus.putIfAbsent(path, fromLeader.statusCode());
            firstAnswer.putIfAbsent(path, fromLeader.body());
            boolean lie;
            synchronized (coin) {
                lie = coin.nextBoolean();
            }
            if (!lie) {
                return false;
            }
            ex.getResponseHeaders().set(io.walship.protocol.Headers.LSN,
                    fromLeader.headers().firstValue(io.walship.protocol.Headers.LSN).orElseThrow());
            FollowerStandIn.sendBytes(ex, firstStatus.get(path), firstAnswer.get(path));
            return true;
        }).url();
        Report r = check("a lying follower", leaderUrl, List.of(liar), 2_000, "");
        assertFalse(r.ok());
        assertTrue(r.count(Kind.READ_YOUR_WRITES) > 0, r.summary());
        assertTrue(r.count(Kind.MONOTONIC_READS) > 0, r.summary());
        assertTrue(r.count(Kind.WRONG_STATE) > 0, r.summary());
    }

    /** The same check against running nodes: {@code -Dwalship.check.leader=URL [-Dwalship.check.followers=URL,…]}. */
    @Test
    void runningNodes() throws Exception {
        String leaderProp = runningLeader();
        Assumptions.assumeFalse(leaderProp.isEmpty(), "no -Dwalship.check.leader given");
        List<String> followers = Arrays.stream(System.getProperty("walship.check.followers", "").split(","))
                .map(String::trim).filter(s -> !s.isEmpty()).toList();
        // a key space no earlier run wrote
        Report r = check("running nodes", leaderProp, followers, OPS, "check-" + Long.toHexString(SEED) + "-"
                + Long.toHexString(System.currentTimeMillis()) + "/");
        assertTrue(r.ok(), r.summary());
        assertEquals(0, r.unknownWrites(), r.summary());
    }
}
