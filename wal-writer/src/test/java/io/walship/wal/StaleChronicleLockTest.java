package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A writer killed (kill -9, an OOM kill, a power loss) while Chronicle held its append lock leaves
 * that lock in the queue's {@code metadata.cq4t}, naming the dead writer's process id. Chronicle
 * breaks such a lock only if that process is dead; when the id belongs to a live process — after a
 * reboot, or in a container where the JVM always has the same small pid, the opening process
 * itself — every append timed out and the reopened store stopped at its first commit, at every
 * restart. The store's own {@code LOCK} already proves no other writer is running, so opening the
 * store releases the stale lock.
 */
class StaleChronicleLockTest {
    private static final String WRITE_LOCK = "chronicle.write.lock";

    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void aStaleChronicleLockNamingALiveProcessDoesNotStopTheReopenedStore() {
        Path dir = tmp.resolve("d");
        try (Store store = Store.open(dir)) {
            store.put(b("before"), b("the crash"));
        }
        // what a writer that died inside an append leaves behind, its pid now being this process's
        try (SingleChronicleQueue q = SingleChronicleQueueBuilder.binary(dir.resolve(WalLog.DIR_NAME).toFile()).build()) {
            q.tableStorePut(WRITE_LOCK, ProcessHandle.current().pid());
        }
        try (Store store = Store.open(dir)) {
            store.put(b("after"), b("the restart"));
            assertFalse(store.failure().isPresent());
            assertArrayEquals(b("the crash"), store.get(b("before")));
        }
        try (Store store = Store.open(dir)) {
            assertArrayEquals(b("the restart"), store.get(b("after")));
        }
    }
}
