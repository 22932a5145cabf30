package io.walship.shipper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

import io.walship.archive.BackupManifest;
import io.walship.archive.Codec;
import io.walship.archive.ObjectInfo;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.wal.Durability;
import io.walship.wal.IntegrityException;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A base backup whose state digest is computed beside the image (a stopped store's backup): the
 * image is ended only once the digest is there, so a digest that fails (a damaged page met by the
 * tree walk) or names another LSN stores nothing, and the failure comes out as it was; a digest that
 * arrives only after the whole image was read goes into the manifest. The digest is completed by
 * the test itself after the image was read through, so no timing is involved.
 */
class BaseBackupLateDigestTest {
    private static final long SEED = 20261203L;

    @TempDir
    Path tmp;

    private Store storeWith(int values) {
        System.out.println("seed " + SEED);
        Store store = Store.open(tmp.resolve("data"));
        Random rnd = new Random(SEED);
        for (int i = 0; i < values; i++) {
            byte[] v = new byte[100];
            rnd.nextBytes(v);
            store.put(String.format("k%08d", i).getBytes(StandardCharsets.UTF_8), v, Durability.ASYNC);
        }
        return store;
    }

    private static List<String> keys(ObjectStore archive) {
        return archive.list("", null).stream().map(ObjectInfo::key).toList();
    }

    private BackupManifest upload(Snapshot snap, ObjectStore archive, CompletableFuture<StateDigest> digest,
                                  Runnable atEnd) throws Exception {
        boolean[] done = {false};
        try (InputStream image = snap.openStream()) {
            return BaseBackup.upload(image, digest, archive, Codec.ZSTD, read -> {
                if (read == snap.imageSize() && !done[0]) {
                    done[0] = true;
                    assertTrue(!digest.isDone(), "the digest is still missing when the image has been read");
                    atEnd.run();
                }
            });
        }
    }

    @Test
    void aDigestThatArrivesAfterTheImageGoesIntoTheManifest() throws Exception {
        try (Store store = storeWith(3_000);
             ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"));
             Snapshot snap = store.snapshot()) {
            StateDigest expected = StateDigest.of(snap.pages(), snap.lsn());
            CompletableFuture<StateDigest> digest = new CompletableFuture<>();
            BackupManifest m = upload(snap, archive, digest, () -> digest.complete(expected));
            assertEquals(expected.sha256(), m.digestSha256());
            assertEquals(3_000L, m.digestPairs());
            assertEquals(2, keys(archive).size(), "one image and its manifest: " + keys(archive));
        }
    }

    @Test
    void aDigestThatFailsStoresNothingAndIsTheFailure() throws Exception {
        IntegrityException damaged = new IntegrityException("page 12: checksum mismatch");
        try (Store store = storeWith(3_000);
             ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"));
             Snapshot snap = store.snapshot()) {
            CompletableFuture<StateDigest> digest = new CompletableFuture<>();
            IntegrityException t = assertThrows(IntegrityException.class,
                    () -> upload(snap, archive, digest, () -> digest.completeExceptionally(damaged)));
            assertSame(damaged, t);
            assertEquals(List.of(), keys(archive), "no image without its digest");
        }
    }

    @Test
    void aDigestOfAnotherLsnStoresNothing() throws Exception {
        try (Store store = storeWith(3_000);
             ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"));
             Snapshot snap = store.snapshot()) {
            StateDigest other = new StateDigest(snap.lsn() - 1, 2_999, "00");
            CompletableFuture<StateDigest> digest = new CompletableFuture<>();
            IllegalArgumentException t = assertThrows(IllegalArgumentException.class,
                    () -> upload(snap, archive, digest, () -> digest.complete(other)));
            assertTrue(t.getMessage().contains("digest is for LSN"), t.getMessage());
            assertEquals(List.of(), keys(archive), "no image with a digest of another LSN");
        }
    }
}
