package io.walship.shipper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import io.walship.archive.EncryptedObjectStore;
import io.walship.archive.EncryptionKeyException;
import io.walship.archive.EncryptionKeys;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ObjectStore;
import io.walship.wal.Store;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * The ship loop of {@code leader --archive} and the scheduler stops for good on a key error (a
 * keyless writer of an encrypted archive, a keyed one of a plaintext archive) instead of warning and
 * retrying forever: the leader then exits 2.
 */
class ShipLoopKeyErrorTest {
    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void aKeyErrorStopsTheShipLoopForGood(boolean keyed) {
        Path data = tmp.resolve("d");
        try (Store store = Store.open(data)) {
            for (int i = 0; i < 20; i++) {
                store.put(("k" + i).getBytes(StandardCharsets.UTF_8), ("v" + i).getBytes(StandardCharsets.UTF_8));
            }
        }
        LocalObjectStore raw = new LocalObjectStore(tmp.resolve("archive"));
        String mode = keyed ? "none" : "aes-256-gcm"; // the other mode than this writer's
        raw.create(EncryptedObjectStore.MARKER, new ByteArrayInputStream(
                ("{\"formatVersion\":1,\"mode\":\"" + mode + "\"}").getBytes(StandardCharsets.US_ASCII)));
        byte[] key = new byte[32];
        key[0] = 7;
        EncryptionKeys keys = keyed ? EncryptionKeys.of(List.of(key)) : EncryptionKeys.none();
        List<ShipLoop.Tick> ticks = new java.util.concurrent.CopyOnWriteArrayList<>();
        ShipLoop.Listener l = new ShipLoop.Listener() {
            @Override
            public void finished(ShipLoop.Tick t) {
                ticks.add(t);
            }
        };
        try (ObjectStore archive = new EncryptedObjectStore(raw, keys);
             ShipLoop loop = new ShipLoop(data, archive, WalShipper.Options.defaults(), Duration.ofHours(1), l)) {
            loop.tick();
            assertTrue(loop.stopped(), loop.status().toString());
            assertInstanceOf(EncryptionKeyException.class, loop.fatal());
            assertTrue(loop.status().lastError().startsWith(ShipLoop.STOPPED_PREFIX), loop.status().lastError());
            loop.tick();
            assertEquals(1, ticks.size(), "no tick runs after the fatal one");
        }
        assertEquals(1, ticks.size(), "closing does not ship again either");
        assertEquals(List.of(), raw.list("wal/", null));
    }
}
