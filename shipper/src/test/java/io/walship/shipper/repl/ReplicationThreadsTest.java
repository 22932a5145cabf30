package io.walship.shipper.repl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static io.walship.shipper.repl.ReplicationServerTest.await;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

import io.walship.protocol.repl.Frame;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A leader's replication endpoint must not leave something behind per follower session. It used to
 * start two fresh threads for every session; each thread that died after touching Chronicle left an
 * entry in Chronicle's thread-local registry, which every later queue open walks, so a follower that
 * keeps reconnecting made the leader's heap grow and its queue opens slower without bound (see
 * ShipThreadsTest, the shipper's same fix). As there, the test checks the cause: the threads are reused.
 */
class ReplicationThreadsTest {
    private static final int CYCLES = 30;
    private static final String NODE = "threads-test-follower";

    @TempDir
    Path tmp;

    /** Threads alive before the server started: those of earlier tests, not this server's. */
    private final Set<Thread> before = Collections.newSetFromMap(new IdentityHashMap<>());

    @Test
    void followerReconnectsReuseTheSessionThreadsWhichEndWithTheServer() throws Exception {
        Set<Thread> used = Collections.newSetFromMap(new IdentityHashMap<>());
        before.addAll(Thread.getAllStackTraces().keySet());
        try (Store store = Store.open(tmp.resolve("leader"))) {
            long lsn = store.put("k".getBytes(StandardCharsets.UTF_8), new byte[10]);
            try (ReplicationServer server = new ReplicationServer(store, new InetSocketAddress("127.0.0.1", 0),
                    ReplicationOptions.defaults()).start()) {
                for (int i = 0; i < CYCLES; i++) {
                    try (TestFollower f = TestFollower.connect(server.address())) {
                        assertInstanceOf(Frame.Welcome.class,
                                f.handshake(TestFollower.hello(store.systemId(), store.timeline(), 1, "", "", NODE)));
                        f.receiveThrough(lsn); // the sender runs
                        await("session " + i + "'s receiver and sender run", () -> sessionThreads().size() == 2);
                        used.addAll(sessionThreads());
                    }
                    // the follower is gone: its session ends (the next cycle must not find these busy)
                    await("session " + i + "'s threads are done", () -> sessionThreads().isEmpty());
                }
                assertTrue(used.size() <= 2, CYCLES + " follower sessions, one after another, ran on " + used.size()
                        + " threads; each of them that dies leaves a Chronicle thread-local entry");
                assertTrue(used.stream().allMatch(Thread::isAlive), "the session threads outlive the sessions");
            }
            // close() waits for them
            assertEquals(List.of(), used.stream().filter(Thread::isAlive).map(Thread::getName).toList(),
                    "the session threads end when the server is closed");
        }
    }

    /** The live threads running this test's follower sessions now (named after the session while they run one). */
    private Set<Thread> sessionThreads() {
        Set<Thread> out = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            String name = t.getName();
            if (t.isAlive() && !before.contains(t)
                    && (name.startsWith("walship-repl-send-" + NODE) || name.startsWith("walship-repl-recv-"))) {
                out.add(t);
            }
        }
        return out;
    }
}
