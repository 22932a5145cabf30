package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;

/**
 * In fallocate mode ({@code -Dwalship.wal.preallocate=fallocate}) {@link Preallocator} keeps one
 * descriptor per path until {@link Preallocator#release}. {@link WalAppender#prepareNewFile} calls
 * {@code reserve(pre, ...)} then {@code release(pre)}, so when the reserve fails (ENOSPC) the
 * descriptor of that {@code NAME.precreated} inode stays in the map; the next attempt deletes and
 * re-creates the file under the same path, and {@code reserve} fallocates the old, deleted inode
 * through the stale descriptor: the new file gets no space (0 bytes), the claim is silently lost
 * (a full disk is then a fault in Chronicle's mapped write, not a StorageFullException), and the
 * deleted inode's blocks stay held until the store closes.
 *
 * <p>Needs a small file system to run out of: {@code -Dreview14.smallFs=/mnt/1MiB-tmpfs} (skipped
 * without it). This test replays prepareNewFile's calls on the Preallocator directly.
 */
class PreallocatorFallocateStaleFdReview14Test {
    @Test
    void aFailedClaimOnAPrecreatedFileDoesNotLeaveItsDescriptorForTheNextFileOfThatName() throws Exception {
        String small = System.getProperty("review14.smallFs", "");
        assumeFalse(small.isEmpty(), "no -Dreview14.smallFs");
        Path pre = Path.of(small).resolve("20261205.cq4.precreated");
        String old = System.getProperty(Preallocator.MODE_PROPERTY);
        System.setProperty(Preallocator.MODE_PROPERTY, "fallocate");
        try (Preallocator p = new Preallocator()) {
            Files.deleteIfExists(pre);
            Files.createFile(pre);
            // as prepareNewFile: reserve, then release; the reserve fails, so release is never reached
            assertThrows(IOException.class, () -> p.reserve(pre, 0, 64L << 20), "the small file system is full");
            // the next append: prepareNewFile again, a smaller entry that fits
            Files.deleteIfExists(pre);
            Files.createFile(pre);
            p.reserve(pre, 0, 64 << 10);
            p.release(pre);
            assertEquals(64 << 10, Files.size(pre), "the re-created pre-created file got the space it was claimed");
        } finally {
            Files.deleteIfExists(pre);
            if (old == null) {
                System.clearProperty(Preallocator.MODE_PROPERTY);
            } else {
                System.setProperty(Preallocator.MODE_PROPERTY, old);
            }
        }
    }
}
