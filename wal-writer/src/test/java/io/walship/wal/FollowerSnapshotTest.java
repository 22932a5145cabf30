package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A snapshot of a store that takes a leader's entries ({@link Store#apply}) must stay at its LSN
 * while entries go on being applied: applying an entry changes pages in place, so it must hand
 * their before-images to the open snapshots as a write transaction does. It used not to: a scan,
 * digest or base backup taken on a follower or standby read pages changed after its LSN.
 */
class FollowerSnapshotTest {
    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void aFollowersSnapshotDoesNotSeeEntriesAppliedAfterIt() throws Exception {
        Path followerDir = tmp.resolve("follower");
        try (Store leader = Store.open(tmp.resolve("leader"))) {
            for (int i = 0; i < 500; i++) {
                leader.put(b(String.format("k%04d", i)), b("base" + i), Durability.ASYNC);
            }
            SnapshotLoader.Info info;
            try (Snapshot snap = leader.snapshot(); InputStream in = snap.openStream()) {
                info = SnapshotLoader.load(in, followerDir);
            }
            // entries the follower will apply after its own snapshot: they rewrite every key
            for (int i = 0; i < 500; i++) {
                leader.put(b(String.format("k%04d", i)), b("changed" + i), Durability.ASYNC);
            }
            leader.awaitDurable(leader.lastLsn(), Duration.ofSeconds(30));
            List<WalEntry> entries = new ArrayList<>();
            try (WalReader r = leader.walReader()) {
                r.seek(info.lsn() + 1);
                WalEntry e;
                while ((e = r.next()) != null) {
                    entries.add(e);
                }
            }
            assertEquals(leader.lastLsn() - info.lsn(), entries.size());

            try (Store follower = Store.open(followerDir)) {
                StateDigest before = follower.digest();
                try (Snapshot s = follower.snapshot()) {
                    assertEquals(before.lsn(), s.lsn());
                    for (WalEntry e : entries) {
                        follower.apply(e, Durability.ASYNC);
                    }
                    assertNotEquals(before, follower.digest(), "the applied entries changed the follower");
                    assertEquals(before, StateDigest.of(s.pages(), s.lsn()),
                            "the snapshot at LSN " + Lsn.format(s.lsn()) + " saw entries applied after it");
                }
                assertEquals(leader.digest(), follower.digest());
            }
        }
    }
}
