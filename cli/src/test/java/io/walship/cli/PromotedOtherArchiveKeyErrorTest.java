package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import io.walship.archive.ArchiveListing;
import io.walship.archive.EncryptionKeyException;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ObjectStore;
import io.walship.protocol.StatusResponse;
import io.walship.shipper.ShipLoops;
import io.walship.wal.Durability;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A promoted follower with several archives treats a key error as walship leader does: on a
 * further required archive it stops the node ({@link LiveFollower#fatal()}), on an optional one it
 * is shown in /status archives[] and never fatal, while the primary goes on receiving the WAL.
 */
class PromotedOtherArchiveKeyErrorTest {
    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    @Timeout(90)
    void aKeyErrorOnAnOptionalArchiveIsShownNotFatal() throws Exception {
        AtomicInteger refused = new AtomicInteger();
        LocalObjectStore primary = new LocalObjectStore(tmp.resolve("a"));
        primary.verifyAccess();
        try (LiveFollower live = follower(primary, new ShipLoops.Target(PromotableStandby.keyless(tmp.resolve("c"), refused), false)).start()) {
            var promoted = live.promote(false, List.of());
            promoted.leader().put(b("after"), b("promotion"), Durability.DURABLE);
            await(() -> failing(promoted.leader().status()) || live.fatal() != null, "the optional archive never failed");
            assertTrue(refused.get() > 0, "the test injected no key error");
            // the primary goes on: a later write reaches it, and the node did not stop meanwhile
            promoted.leader().put(b("later"), b("write"), Durability.DURABLE);
            long last = promoted.leader().store().lastLsn();
            await(() -> ArchiveListing.of(primary).lastArchivedLsn(2) >= last || live.fatal() != null,
                    "the primary did not receive the WAL");
            assertNull(live.fatal(), "a key error on an optional archive stopped the promoted node");
        }
    }

    @Test
    @Timeout(90)
    void aKeyErrorOnAFurtherRequiredArchiveIsFatal() throws Exception {
        AtomicInteger refused = new AtomicInteger();
        LocalObjectStore primary = new LocalObjectStore(tmp.resolve("a"));
        primary.verifyAccess();
        try (LiveFollower live = follower(primary, new ShipLoops.Target(PromotableStandby.keyless(tmp.resolve("b"), refused), true)).start()) {
            var promoted = live.promote(false, List.of());
            promoted.leader().put(b("after"), b("promotion"), Durability.DURABLE);
            await(() -> live.fatal() != null, "a key error on a required archive did not stop the node");
            assertTrue(refused.get() > 0, "the test injected no key error");
            assertInstanceOf(EncryptionKeyException.class, live.fatal());
        }
    }

    private static boolean failing(StatusResponse st) {
        return st.archives() != null && st.archives().size() == 2 && st.archives().get(1).failing()
                && String.valueOf(st.archives().get(1).lastError()).contains("test: no key");
    }

    private static void await(BooleanSupplier done, String message) {
        long deadline = System.nanoTime() + Duration.ofSeconds(40).toNanos();
        while (!done.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, message);
            java.util.concurrent.locks.LockSupport.parkNanos(Duration.ofMillis(10).toNanos()); // polling
        }
    }

    private LiveFollower follower(ObjectStore primary, ShipLoops.Target other) throws Exception {
        Path fdir = tmp.resolve("f1");
        PromotableStandby.ofTenRows(tmp.resolve("leader"), fdir);
        return new LiveFollower(PromotableStandby.config(fdir, primary, List.of(other)), Store.open(fdir));
    }
}
