package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code file://} store's compare-and-swap lock held by another process that does not let go
 * (a walship process stopped with SIGSTOP inside a lease renewal): a replace used to wait in
 * {@code FileChannel.lock()} for as long as that process stayed stopped, hanging the thread (an
 * automatic failover's only thread, in one Jepsen round). It fails after a deadline now, and
 * works again once the lock is free.
 */
class LocalCasLockTest {
    @TempDir
    Path tmp;

    /** A child JVM that takes the lock, says so, and holds it until its stdin closes. */
    private Process holder(Path lockFile) throws IOException {
        Path src = tmp.resolve("HoldLock.java");
        Files.writeString(src, """
                import java.nio.channels.FileChannel;
                import java.nio.file.*;
                public class HoldLock {
                    public static void main(String[] a) throws Exception {
                        try (FileChannel ch = FileChannel.open(Path.of(a[0]), StandardOpenOption.CREATE,
                                StandardOpenOption.WRITE); var l = ch.lock()) {
                            System.out.println("locked");
                            System.out.flush();
                            System.in.read();
                        }
                    }
                }
                """);
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                src.toString(), lockFile.toString()).redirectErrorStream(true).start();
        String first = new String(p.getInputStream().readNBytes("locked".length()), StandardCharsets.UTF_8);
        assertEquals("locked", first, "the child JVM did not take the lock");
        return p;
    }

    @Test
    @Timeout(120)
    void aReplaceGivesUpOnALockHeldByAStoppedProcessAndWorksOnceItIsFree() throws Exception {
        LocalObjectStore store = new LocalObjectStore(tmp.resolve("archive"));
        store.verifyAccess();
        String etag = store.createReturningEtag("lease/leader.json", "v1".getBytes(StandardCharsets.UTF_8));
        store.casLockWait = Duration.ofMillis(500);
        Process p = holder(tmp.resolve("archive").resolve(".tmp").resolve("cas.lock"));
        try {
            long t0 = System.nanoTime();
            StorageException e = assertThrows(StorageException.class,
                    () -> store.replaceIfMatch("lease/leader.json", etag, "v2".getBytes(StandardCharsets.UTF_8)));
            assertTrue(e.getMessage().contains("held by another process") && e.getMessage().contains("stopped"),
                    e.getMessage());
            assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(60), "gave up after the deadline");
            assertEquals("v1", new String(store.getVersioned("lease/leader.json").orElseThrow().content(),
                    StandardCharsets.UTF_8), "nothing replaced");
        } finally {
            p.getOutputStream().close(); // the holder lets go and exits
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        }
        store.replaceIfMatch("lease/leader.json", etag, "v2".getBytes(StandardCharsets.UTF_8));
        assertEquals("v2", new String(store.getVersioned("lease/leader.json").orElseThrow().content(),
                StandardCharsets.UTF_8));
    }
}
