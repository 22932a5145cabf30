package io.walship.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

import io.walship.archive.Codec;
import io.walship.archive.ForwardingObjectStore;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.restorer.ArchiveVerifier;
import io.walship.restorer.Restore;
import io.walship.shipper.BaseBackup;
import io.walship.shipper.WalShipper;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * review30: verifybase2's default-restore check plans with {@code RestorePlan.make}, which reads every timeline
 * history again ({@code TimelineHistory.readAll}) and the chosen backup's manifest again, all of which verify had
 * just read. On main verify reads each once. An archive that has seen failovers and {@code restore --promote} copies
 * has one history per timeline, so every verify pays one GET per timeline twice (here 12 timelines: 12 extra GETs
 * of objects already in hand, each a request on S3).
 */
class VerifyRequestsReview30Test {
    @TempDir
    Path tmp;

    @Test
    void verifyReadsEachHistoryAndManifestOnce() {
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            Path leader = tmp.resolve("leader");
            try (Store s = Store.open(leader)) {
                for (int i = 0; i < 60; i++) {
                    s.put(("k" + i % 20).getBytes(StandardCharsets.UTF_8), ("v" + i).getBytes(StandardCharsets.UTF_8));
                }
                try (Snapshot snap = s.snapshot()) {
                    BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), a, Codec.ZSTD, x -> { });
                }
                for (int i = 0; i < 20; i++) {
                    s.put(("k" + i).getBytes(StandardCharsets.UTF_8), ("w" + i).getBytes(StandardCharsets.UTF_8));
                }
            }
            try (WalShipper w = new WalShipper(leader, a, new WalShipper.Options(Codec.ZSTD, 4096))) {
                w.shipOnce();
            }
            for (int i = 0; i < 12; i++) { // inspection copies / drills over time
                Restore.run(a, tmp.resolve("copy" + i), Restore.Options.defaults().withPromote(true),
                        new Restore.Listener() { });
            }
            Map<String, Integer> gets = new TreeMap<>();
            ObjectStore counting = new ForwardingObjectStore(a) {
                @Override
                public InputStream get(String key) {
                    gets.merge(key, 1, Integer::sum);
                    return super.get(key);
                }
            };
            ArchiveVerifier.Report r = ArchiveVerifier.verify(counting, 2, true, m -> { });
            assertTrue(r.ok(), r.problems().toString());
            Map<String, Integer> twice = new TreeMap<>();
            gets.forEach((k, n) -> {
                if (n > 1 && (k.endsWith(".history") || k.endsWith("manifest.json"))) {
                    twice.put(k, n);
                }
            });
            assertEquals(Map.of(), twice, "objects verify GETs more than once (histories: "
                    + gets.keySet().stream().filter(k -> k.endsWith(".history")).count() + ")");
        }
    }
}
