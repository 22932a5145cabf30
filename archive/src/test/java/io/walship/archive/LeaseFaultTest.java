package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Random;
import java.util.UUID;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Two nodes keep the leader lease through S3 clients that fail a share of requests (503s, resets
 * before sending, resets after the server executed the request — lost answers), on S3Proxy or MinIO
 * when {@code WALSHIP_TEST_S3_ENDPOINT} is set, with a manual clock. The holder sometimes pauses (no
 * ticks for a while: a SIGSTOP, sometimes longer than the lease), so the lease changes hands.
 * Checked at every round: the two are never writable at once; a holder that ticked is never fenced
 * (the archive answers, after the SDK's retries, within the TTL); a node is fenced only after a
 * pause. Seeded; the seed is printed. The ticks run on one thread, so S3Proxy's lock-free conditional PUTs are not
 * raced (ObjectStoreContract races them on the local store and MinIO).
 */
class LeaseFaultTest {
    static final Duration TTL = Duration.ofSeconds(9);
    static final Duration MARGIN = Duration.ofSeconds(1);
    static TestS3Server server;

    @BeforeAll
    static void start() throws Exception {
        server = TestS3Server.start();
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
    }

    @Test
    void faultyClientsNeverGiveTwoLeadersAndNeverFenceAHealthyOne() {
        long seed = Long.getLong("lease.fault.seed", System.nanoTime());
        System.out.println("LeaseFaultTest seed " + seed + " (rerun with -Dlease.fault.seed=" + seed + ")");
        Random random = new Random(seed);
        ArchiveUri.S3 uri = server.newArchive("walship-test", "lease-faults-" + UUID.randomUUID());
        FaultyHttpClient httpA = new FaultyHttpClient(seed + 1, 0.2);
        FaultyHttpClient httpB = new FaultyHttpClient(seed + 2, 0.2);
        ManualLeaseClock clock = new ManualLeaseClock(1_780_000_000_000_000L);
        try (ObjectStore sa = new S3ObjectStore(uri, S3ObjectStore.DEFAULT_PART_SIZE, httpA);
             ObjectStore sb = new S3ObjectStore(uri, S3ObjectStore.DEFAULT_PART_SIZE, httpB)) {
            LeaseKeeper[] nodes = {LeaseKeeper.manual(sa, LeaderLeaseTest.A, 1, TTL, MARGIN, clock),
                    LeaseKeeper.manual(sb, LeaderLeaseTest.B, 1, TTL, MARGIN, clock)};
            nodes[0].tick();
            assertTrue(nodes[0].writable(), "A takes the lease first: " + nodes[0].status());
            int[] pausedFor = new int[2];
            int[] pauses = new int[2];
            int handovers = 0;
            for (int round = 0; round < 60; round++) {
                clock.advance(TTL.dividedBy(3));
                for (int n = 0; n < 2; n++) {
                    // the holder sometimes stops ticking for 2..6 thirds of the TTL: sometimes past expiry + margin
                    if (pausedFor[n] == 0 && nodes[n].writable() && random.nextInt(6) == 0) {
                        pausedFor[n] = 2 + random.nextInt(5);
                        pauses[n]++;
                    }
                }
                boolean[] held = {nodes[0].writable(), nodes[1].writable()};
                boolean[] ticked = new boolean[2];
                for (int n = 0; n < 2; n++) {
                    if (pausedFor[n] == 0) {
                        nodes[n].tick();
                        ticked[n] = true;
                    } else {
                        pausedFor[n]--;
                    }
                }
                String state = "round " + round + " seed " + seed + ": A " + nodes[0].status() + " / B "
                        + nodes[1].status();
                assertFalse(nodes[0].writable() && nodes[1].writable(), "two leaders: " + state);
                for (int n = 0; n < 2; n++) {
                    if (held[n] && ticked[n]) {
                        assertTrue(nodes[n].writable(), "a holder that ticked was fenced: " + state);
                    }
                    if (!held[n] && nodes[n].writable() && round > 0) {
                        handovers++;
                    }
                }
            }
            for (int n = 0; n < 2; n++) {
                assertTrue(nodes[n].status().fencings() <= pauses[n], "fenced only by its pauses: " + nodes[n].status());
            }
            System.out.printf("LeaseFaultTest: pauses A %d B %d, %d handovers; faults injected A %d/%d, B %d/%d"
                    + " requests%n", pauses[0], pauses[1], handovers, httpA.injected(), httpA.requests(),
                    httpB.injected(), httpB.requests());
            assertTrue(handovers > 0, "the lease changed hands at least once");
            assertTrue(httpA.injected() > 0 && httpB.injected() > 0, "faults were injected");
        }
    }
}
