package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A follower's side of the store: a batch of streamed entries goes to the follower's own WAL and
 * its pages with one sync, a gap applies nothing, readers are told of each applied LSN, and a
 * reopened follower resumes right after the last entry it had made durable.
 */
class ApplyAllTest {
    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void aBatchIsLoggedAppliedAndSyncedOnceAndAReopenResumesAfterIt() throws Exception {
        Path followerDir = tmp.resolve("follower");
        try (Store leader = Store.open(tmp.resolve("leader"))) {
            leader.put(b("base"), b("0"));
            try (Snapshot snap = leader.snapshot(); InputStream in = snap.openStream()) {
                SnapshotLoader.load(in, followerDir);
            }
            ControlFile.read(followerDir).asStandby().write(followerDir);
            for (int i = 0; i < 500; i++) {
                leader.put(b("k" + i), b("v" + i), Durability.ASYNC);
            }
            leader.awaitDurable(leader.lastLsn(), Duration.ofSeconds(10));
            List<WalEntry> entries = new ArrayList<>();
            try (WalReader r = leader.walReader()) {
                r.seek(ControlFile.read(followerDir).checkpointLsn() + 1);
                WalEntry e;
                while ((e = r.next()) != null) {
                    entries.add(e);
                }
            }
            assertEquals(500, entries.size());
            List<Long> seen = new CopyOnWriteArrayList<>();
            try (Store follower = Store.open(followerDir)) {
                assertTrue(follower.standby());
                Store.Registration reg = follower.onApplied(seen::add);
                long syncs0 = follower.stats().walSyncs();
                long last = follower.applyAll(entries.subList(0, 400), Durability.DURABLE);
                assertEquals(entries.get(399).lsn(), last);
                assertEquals(last, follower.durableLsn(), "DURABLE returns once the batch is synced");
                long syncs = follower.stats().walSyncs() - syncs0;
                assertTrue(syncs >= 1 && syncs <= 3, "one batch, about one sync, not 400: " + syncs);
                assertEquals(List.of(last), seen);

                // a gap inside a batch: nothing of it is applied
                List<WalEntry> gapped = new ArrayList<>(entries.subList(400, 450));
                gapped.remove(10);
                IntegrityException gap = assertThrows(IntegrityException.class,
                        () -> follower.applyAll(gapped, Durability.DURABLE));
                assertTrue(gap.getMessage().contains("gap"), gap.getMessage());
                assertEquals(last, follower.lastLsn());
                // an entry already applied is refused, too
                assertThrows(IntegrityException.class, () -> follower.applyAll(entries.subList(399, 401), Durability.DURABLE));
                assertEquals(last, follower.lastLsn());
                reg.close();
                follower.applyAll(entries.subList(400, 450), Durability.DURABLE);
                assertEquals(1, seen.size(), "a closed registration hears nothing");
                // the follower's own WAL holds what it applied, entry for entry
                try (WalReader own = follower.walReader()) {
                    own.seek(entries.get(0).lsn());
                    for (int i = 0; i < 450; i++) {
                        WalEntry got = own.next();
                        assertEquals(entries.get(i).lsn(), got.lsn());
                        assertEquals(entries.get(i).changes().size(), got.changes().size());
                    }
                }
                follower.abandonForTesting(); // a crash: no final checkpoint
            }
            try (Store follower = Store.open(followerDir)) {
                assertEquals(entries.get(449).lsn(), follower.lastLsn(), "resumes from its own WAL");
                follower.applyAll(entries.subList(450, 500), Durability.DURABLE);
                assertEquals(leader.digest(), follower.digest());
                assertThrows(WalshipException.class, () -> follower.put(b("x"), b("y")), "a follower takes no writes");
            }
        }
    }
}
