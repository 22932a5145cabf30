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
 * {@link Store#applyAll} applies entries one by one; when the disk fills up half-way the entries
 * before stay applied and visible. Reads that wait for one of them ({@code min_lsn}) are woken by
 * {@link Store#onApplied}: it must hear of that prefix too, not only of whole batches.
 */
class ApplyAllPartialTest {
    @TempDir
    Path tmp;

    @Test
    void aBatchCutShortByAFullDiskStillAnnouncesTheEntriesItApplied() throws Exception {
        Path followerDir = tmp.resolve("follower");
        List<WalEntry> entries = new ArrayList<>();
        SnapshotLoader.Info info;
        try (Store leader = Store.open(tmp.resolve("leader"))) {
            leader.put("seed".getBytes(StandardCharsets.UTF_8), new byte[10]);
            try (Snapshot snap = leader.snapshot(); InputStream in = snap.openStream()) {
                info = SnapshotLoader.load(in, followerDir);
            }
            byte[] v = new byte[1000];
            for (int i = 0; i < 300; i++) { // ~3 MiB of WAL: more than one claim of WAL space
                WriteBatch wb = new WriteBatch();
                for (int j = 0; j < 10; j++) {
                    wb.put(("k" + i + "." + j).getBytes(StandardCharsets.UTF_8), v);
                }
                leader.write(wb, Durability.ASYNC);
            }
            leader.awaitDurable(leader.lastLsn(), Duration.ofSeconds(30));
            try (WalReader r = leader.walReader()) {
                r.seek(info.lsn() + 1);
                for (WalEntry e; (e = r.next()) != null; ) {
                    entries.add(e);
                }
            }
        }
        ControlFile.read(followerDir).asStandby().write(followerDir);
        TestSpace space = new TestSpace();
        try (Store follower = Store.open(followerDir, StoreOptions.defaults(), WalSeams.defaults().withSpace(() -> space))) {
            List<Long> announced = new CopyOnWriteArrayList<>();
            follower.onApplied(announced::add);
            follower.applyAll(entries.subList(0, 10), Durability.DURABLE); // the WAL's first claim of space
            announced.clear();
            long before = follower.lastLsn();
            List<WalEntry> rest = entries.subList(10, entries.size());
            space.full = true;
            assertThrows(StorageFullException.class, () -> follower.applyAll(rest, Durability.DURABLE));
            long applied = follower.lastLsn();
            assertTrue(applied > before && applied < before + rest.size(),
                    "cut short half-way: applied up to " + applied + " of " + (before + rest.size()));
            assertTrue(follower.failure().isEmpty(), "a full disk does not stop the store");
            assertEquals(List.of(applied), announced, "the applied prefix is announced to waiting reads");
            space.full = false;
            follower.applyAll(rest.subList((int) (applied - before), rest.size()), Durability.DURABLE);
            assertEquals(before + rest.size(), follower.lastLsn());
        }
    }
}
