package io.walship.restorer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

import io.walship.archive.Codec;
import io.walship.archive.ForwardingObjectStore;
import io.walship.archive.ObjectInfo;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.StorageException;
import io.walship.shipper.BaseBackup;
import io.walship.shipper.WalShipper;
import io.walship.wal.ControlFile;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * review24: fix23 reads the parent's retention watermarks after restore --promote's claim (Promotion.forkUnprotected),
 * outside the try that turns a failed backup into "timeline T is claimed and DIR takes writes on it ... take one now".
 * A transient failure of that listing (a 503) escapes as a bare StorageException: the CLI prints the storage error
 * alone (exit 6, "unavailable") and nothing says that the directory is restored, promoted and the timeline claimed.
 * An operator who reruns the restore (--force) claims yet another timeline and throws this one away.
 */
class Review24PromoteAfterClaimErrorTest {
    @TempDir
    Path tmp;

    /** Fails every listing of retention/ once timeline 2 is claimed (the look after the claim). */
    private static final class RetentionListFailsAfterClaim extends ForwardingObjectStore {
        RetentionListFailsAfterClaim(ObjectStore inner) {
            super(inner);
        }

        @Override
        public List<ObjectInfo> list(String prefix, String startAfter) {
            if (prefix.startsWith("retention") && inner.head("timelines/00000002.history").isPresent()) {
                throw new StorageException("LIST " + prefix + ": 503 Service Unavailable (test)");
            }
            return super.list(prefix, startAfter);
        }
    }

    @Test
    void aStorageErrorReadingWatermarksAfterTheClaimDoesNotSayThePromotionStands() {
        Path data = tmp.resolve("leader");
        Path promoted = tmp.resolve("promoted");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            try (Store s = Store.open(data)) {
                for (int i = 0; i < 50; i++) {
                    s.put(("k" + i).getBytes(StandardCharsets.UTF_8), ("v" + i).getBytes(StandardCharsets.UTF_8));
                }
                try (Snapshot snap = s.snapshot()) {
                    BaseBackup.upload(snap, StateDigest.of(snap.pages(), snap.lsn()), a, Codec.ZSTD, x -> { });
                }
                for (int i = 0; i < 20; i++) {
                    s.put(("k" + i).getBytes(StandardCharsets.UTF_8), ("w" + i).getBytes(StandardCharsets.UTF_8));
                }
            }
            try (WalShipper w = new WalShipper(data, a, new WalShipper.Options(Codec.ZSTD, 4096))) {
                w.shipOnce();
            }
            RuntimeException e = assertThrows(RuntimeException.class, () -> Restore.run(new RetentionListFailsAfterClaim(a),
                    promoted, Restore.Options.defaults().withPromote(true), new Restore.Listener() { }));
            ControlFile c = ControlFile.read(promoted);
            assertEquals(2, c.timeline(), "the directory is promoted onto timeline 2, claimed in the archive");
            assertTrue(e.getMessage().contains("timeline 2") && e.getMessage().contains("claimed"),
                    "the error hides that the restore finished and promoted (" + e.getClass().getSimpleName() + ": "
                            + e.getMessage() + ")");
        }
    }
}
