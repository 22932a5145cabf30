package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import io.walship.archive.FollowerStatus;
import io.walship.archive.LeaseClock;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ObjectStore;
import io.walship.protocol.HostPort;
import io.walship.protocol.StatusResponse;
import io.walship.restorer.follow.FollowerLoop;
import io.walship.server.ConflictException;
import io.walship.server.FollowerNode;
import io.walship.server.SwitchingNode;
import io.walship.shipper.repl.ReplicationOptions;
import io.walship.wal.Lsn;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One election of {@link AutoFailover} over a real archive, the promotion recorded instead of run:
 * whom the winner asks for WAL (every follower on its timeline — manual and stale ones too), that a
 * garbage object or one from the future changes nothing, and that a follower waiting for a winner
 * reads the archive once per status interval, not every tick.
 */
class AutoFailoverPeersTest {
    private static final long NOW = 1_780_000_100_000_000L;
    private static final AutoFailover.Options OPTIONS = AutoFailover.Options.of(Duration.ofSeconds(5),
            Duration.ofSeconds(1), Duration.ofSeconds(10), Duration.ofSeconds(1));

    @TempDir
    Path tmp;

    private static final LeaseClock CLOCK = new LeaseClock() {
        @Override
        public long wallMicros() {
            return NOW;
        }

        @Override
        public long nanoTime() {
            return 0;
        }
    };

    /** {@code store}, counting its LISTs. */
    private static ObjectStore counting(ObjectStore store, AtomicInteger lists) {
        return (ObjectStore) Proxy.newProxyInstance(ObjectStore.class.getClassLoader(), new Class<?>[] {ObjectStore.class},
                (proxy, m, args) -> {
                    if (m.getName().equals("list")) {
                        lists.incrementAndGet();
                    }
                    try {
                        return m.invoke(store, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    private static FollowerStatus st(String node, int timeline, long lsn, long ageMicros, String failover) {
        return new FollowerStatus(1, node, timeline, Lsn.format(lsn), "http://" + node + ".test:7080", "", NOW - ageMicros,
                failover);
    }

    private record Setup(AutoFailover failover, List<List<String>> promotions, Store store) {
    }

    private Setup setup(ObjectStore archive) throws Exception {
        Store store = Store.open(tmp.resolve("f1"));
        FollowerLoop.Options options = FollowerLoop.Options.defaults(List.of(new HostPort("127.0.0.1", 1)))
                .withBackoff(Duration.ofSeconds(10), Duration.ofSeconds(10), 42);
        LiveFollower.Config config = new LiveFollower.Config(tmp.resolve("f1"), archive, options, null, null, null,
                ReplicationOptions.defaults(), ReplicationOptions.defaults(), Duration.ofSeconds(1), Duration.ZERO, null,
                "f1", null, new LiveFollower.Lease("f1", Duration.ofSeconds(10), Duration.ofSeconds(1), CLOCK,
                Duration.ofSeconds(3), PromotionLease.REAL));
        LiveFollower live = new LiveFollower(config, store); // not started: the election only reads its store
        StatusResponse.Follower view = new StatusResponse.Follower("stream", "stream", "127.0.0.1:1",
                "http://127.0.0.1:1", null, null, 0, 0, 0, null);
        List<List<String>> promotions = new ArrayList<>();
        SwitchingNode node = new SwitchingNode(new FollowerNode(store, () -> view, Duration.ZERO, null), (force, peers) -> {
            promotions.add(peers);
            throw new ConflictException("recorded, not promoted");
        });
        AutoFailover af = new AutoFailover(live, node, archive, "f1", true, () -> "http://f1.test:7080", () -> "",
                OPTIONS, CLOCK);
        return new Setup(af, promotions, store);
    }

    @Test
    void theWinnerAsksEveryFollowerOnItsTimelineAndGarbageOrFutureObjectsChangeNothing() throws Exception {
        LocalObjectStore archive = new LocalObjectStore(tmp.resolve("archive"));
        archive.verifyAccess();
        long stale = OPTIONS.freshness().toNanos() / 1000 + OPTIONS.skewMargin().toNanos() / 1000 + 1;
        // f2 runs --failover manual and holds the acknowledged commit: a peer, never a candidate
        FollowerStatus.publish(archive, st("f2", 1, 500, 0, FollowerStatus.MANUAL));
        // f3's status writes have failed for a while: stale, no candidate, still a peer
        FollowerStatus.publish(archive, st("f3", 1, 400, stale, FollowerStatus.AUTO));
        // f4 is on another timeline: neither
        FollowerStatus.publish(archive, st("f4", 2, 900, 0, FollowerStatus.AUTO));
        // f5 wrote from the future (beyond the skew margin): it would stay fresh for ever; a peer only
        FollowerStatus.publish(archive, st("f5", 1, 800, -OPTIONS.skewMargin().toNanos() / 1000 - 1_000_000,
                FollowerStatus.AUTO));
        // garbage that used to fail every election (Lsn.parse("zz"))
        archive.createReturningEtag(FollowerStatus.key("f6"), new String(st("f6", 1, 999, 0, "auto").toJson(),
                StandardCharsets.UTF_8).replace(Lsn.format(999), "zz").getBytes(StandardCharsets.UTF_8));
        Setup s = setup(archive);
        try (Store ignored = s.store(); AutoFailover af = s.failover()) {
            af.elect(1_000, 1);
            assertEquals(1, s.promotions().size(), "this node (the only fresh candidate) promotes: "
                    + af.status().lastEvent());
            assertEquals(List.of("http://f2.test:7080", "http://f3.test:7080", "http://f5.test:7080"),
                    s.promotions().get(0), "every follower on this timeline is asked for WAL it holds");
        }
    }

    @Test
    void whileWaitingForTheWinnerTheArchiveIsReadOncePerStatusInterval() throws Exception {
        AtomicInteger lists = new AtomicInteger();
        LocalObjectStore local = new LocalObjectStore(tmp.resolve("archive"));
        local.verifyAccess();
        ObjectStore archive = counting(local, lists);
        FollowerStatus.publish(archive, st("f2", 1, 500, 0, FollowerStatus.AUTO));
        Setup s = setup(archive);
        try (Store ignored = s.store(); AutoFailover af = s.failover()) {
            long t0 = 1_000_000_000L;
            lists.set(0);
            af.elect(t0, 1);
            assertEquals("WAITING_FOR_WINNER", af.status().state(), af.status().lastEvent());
            assertEquals("f2", af.status().winner());
            long tick = OPTIONS.tick().toNanos();
            long interval = OPTIONS.statusInterval().toNanos();
            for (long t = t0 + tick; t - t0 < interval; t += tick) {
                af.elect(t, 1);
            }
            assertEquals(1, lists.get(), "one LIST per status interval, not one per tick");
            af.elect(t0 + interval, 1);
            assertEquals(2, lists.get());
            assertTrue(s.promotions().isEmpty());
            // passing over a silent winner still happens (within one interval of the wait)
            long last = t0 + interval;
            while (!"LEADER_SILENT".equals(af.status().state()) && s.promotions().isEmpty()) {
                last += interval;
                af.elect(last, 1);
                assertTrue(last - t0 <= OPTIONS.winnerWait().toNanos() + 2 * interval, "never passed over");
            }
            assertEquals(1, s.promotions().size(), af.status().lastEvent());
            assertEquals(List.of("http://f2.test:7080"), s.promotions().get(0));
        }
    }
}
