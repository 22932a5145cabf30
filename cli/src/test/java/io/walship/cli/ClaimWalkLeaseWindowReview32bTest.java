package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ForwardingObjectStore;
import io.walship.archive.LeaderLease;
import io.walship.archive.LeaseRecord;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ManualLeaseClock;
import io.walship.archive.ObjectStore;
import io.walship.archive.TimelineHistory;
import io.walship.protocol.HostPort;
import io.walship.restorer.Promotion;
import io.walship.restorer.follow.FollowerLoop;
import io.walship.server.ConflictException;
import io.walship.shipper.repl.ReplicationOptions;
import io.walship.wal.ControlFile;
import io.walship.wal.Snapshot;
import io.walship.wal.SnapshotLoader;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * review32b (adapted once a restarting leader is fenced by any newer claim, so that another follower's promotion is
 * what takes the lapsed lease here): a live promotion renews its lease on the old timeline, then walks T+1, T+2, … over offline claims. The
 * walk costs two archive requests per claim passed over (the conditional create answered 412, then the record read),
 * with no bound on time and no look at the lease's deadline: with enough inspection copies (the docs call promoting
 * them into the production archive normal), or a slow archive, the lease on T lapses mid-walk. The old leader,
 * restarted then, takes it back on T (an offline claim supersedes nobody now) and acknowledges writes on T; the walk
 * then lands its live claim anyway, forked where this node stopped. Its lease keeper waits for the old leader's lease,
 * and takes it once that leader dies or stops: T is the claim's parent, so neither offAncestry nor anything else
 * refuses, and the new timeline lacks everything the old leader acknowledged meanwhile. A claim that lands after the
 * lease on T lapsed must not be made (or not be led).
 */
class ClaimWalkLeaseWindowReview32bTest {
    @TempDir
    Path tmp;

    @Test
    @Timeout(120)
    void aClaimWalkThatOutlivesTheLeaseOnTheOldTimelineClaimsNothing() throws Exception {
        Path fdir = tmp.resolve("f1");
        try (Store leader = Store.open(tmp.resolve("leader"))) {
            for (int i = 0; i < 10; i++) {
                leader.put(("k" + i).getBytes(StandardCharsets.UTF_8), ("v" + i).getBytes(StandardCharsets.UTF_8));
            }
            try (Snapshot s = leader.snapshot(); InputStream in = s.openStream()) {
                SnapshotLoader.load(in, fdir);
            }
        }
        ControlFile.read(fdir).asStandby().write(fdir);
        LocalObjectStore real = new LocalObjectStore(tmp.resolve("archive"));
        real.verifyAccess();
        ManualLeaseClock clock = new ManualLeaseClock(1_700_000_000_000_000L);
        Duration ttl = Duration.ofSeconds(10);
        Duration margin = Duration.ofSeconds(1);
        LeaseRecord.Holder old = new LeaseRecord.Holder("l0", "http://l0:1", "l0:2");
        LeaseRecord.Holder other = new LeaseRecord.Holder("f2", "http://f2:1", "f2:2"); // another follower of 1
        LeaderLease.acquire(real, old, 1, ttl, margin, clock); // the leader of timeline 1, then it dies
        clock.advance(Duration.ofSeconds(60));
        int copies = 20;
        for (int i = 0; i < copies; i++) { // inspection copies promoted into this archive while it led
            Promotion.claim(real, 1, 0x20 + i, 0, "restore --promote to LSN " + Long.toHexString(0x20 + i));
        }
        // the archive answers each history request in 1 s once this node has renewed its lease before the claim
        // (its second lease write: the take, then the renewal); 12 s into the walk the old leader is restarted
        AtomicInteger leaseWrites = new AtomicInteger();
        AtomicInteger slow = new AtomicInteger();
        AtomicBoolean oldBack = new AtomicBoolean();
        AtomicReference<Throwable> failed = new AtomicReference<>();
        AtomicReference<LeaderLease> oldLease = new AtomicReference<>();
        ObjectStore archive = new ForwardingObjectStore(real) {
            @Override
            public String replaceIfMatch(String key, String expectedEtag, byte[] content) {
                String etag = super.replaceIfMatch(key, expectedEtag, content);
                if (key.equals(ArchiveLayout.LEASE) && new String(content, StandardCharsets.UTF_8).contains("\"f1\"")) {
                    leaseWrites.incrementAndGet();
                }
                return etag;
            }

            @Override
            public InputStream get(String key) {
                if (key.startsWith(ArchiveLayout.TIMELINES) && leaseWrites.get() >= 2) {
                    clock.advance(Duration.ofSeconds(1));
                    if (slow.incrementAndGet() >= 12 && oldBack.compareAndSet(false, true)) {
                        try {
                            oldLease.set(LeaderLease.acquireToPromote(real, other, 1, ttl, margin, clock));
                        } catch (Throwable t) {
                            failed.set(t);
                        }
                    }
                }
                return super.get(key);
            }
        };
        FollowerLoop.Options options = FollowerLoop.Options.defaults(List.of(new HostPort("127.0.0.1", 1)))
                .withBackoff(Duration.ofSeconds(10), Duration.ofSeconds(10), 42);
        LiveFollower.Config config = new LiveFollower.Config(fdir, archive, options, null, null, null,
                ReplicationOptions.defaults(), ReplicationOptions.defaults(), Duration.ofSeconds(1),
                Duration.ZERO, null, "f1", null, new LiveFollower.Lease("f1", ttl, margin, clock,
                PromotionLease.maxWait(ttl, margin), d -> clock.advance(d)));
        try (Store mine = Store.open(fdir); LiveFollower live = new LiveFollower(config, mine).start()) {
            Throwable outcome = null;
            try {
                live.promote(false, List.of());
            } catch (Throwable t) {
                outcome = t;
            }
            assertTrue(oldBack.get(), "the walk took longer than the lease's TTL (" + slow.get() + " slow reads)");
            if (failed.get() != null) {
                // the renewal before each create kept the lease on timeline 1 this node's: f2 found it held, and this
                // promotion claimed the first free timeline past the copies
                assertTrue(failed.get() instanceof io.walship.archive.LeaseException.Held, "f2's take: " + failed.get());
                assertEquals(null, outcome, "promoted");
                assertEquals(copies + 2, live.store().timeline(), "claimed past the " + copies + " copies");
            } else {
                assertEquals("f2", LeaderLease.current(real).orElseThrow().nodeId(), "f2 holds the lease on timeline 1");
                List<Integer> liveClaims = io.walship.archive.ArchiveListing.of(real).histories().stream()
                        .filter(t -> TimelineHistory.readOne(real, t).live()).sorted().toList();
                assertEquals(List.of(), liveClaims, "a timeline was claimed live after the lease on timeline 1 lapsed"
                        + " mid-walk and another node took it (promote's outcome: " + outcome + ")");
                assertTrue(outcome instanceof ConflictException, "refused: " + outcome);
            }
            // the old leader, restarted, cannot take the lease back on timeline 1: the copies' offline claims are newer
            // and the lease is no longer its own (review32b: an offline claim fences a restarting leader)
            assertThrows(io.walship.archive.LeaseException.Superseded.class,
                    () -> LeaderLease.acquire(real, old, 1, ttl, margin, clock));
        }
    }
}
