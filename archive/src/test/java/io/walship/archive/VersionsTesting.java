package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/** What the {@link LocalVersions} tests share: bytes of a string, latches, a syncer that stops its caller. */
final class VersionsTesting {
    static final String LEASE = "lease/leader.json";

    private VersionsTesting() {
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String s(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    static void await(CountDownLatch l) {
        try {
            assertTrue(l.await(60, TimeUnit.SECONDS), "timed out");
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A syncer that, once armed, stops the caller in its next directory sync (right after a link). */
    static final class StoppingSyncer implements LocalObjectStore.Syncer {
        final AtomicBoolean armed = new AtomicBoolean();
        final CountDownLatch reached = new CountDownLatch(1);
        final CountDownLatch wake = new CountDownLatch(1);

        @Override
        public void directory(Path dir) throws IOException {
            LocalObjectStore.Syncer.super.directory(dir);
            if (armed.compareAndSet(true, false)) {
                reached.countDown();
                await(wake);
            }
        }

        @Override
        public void file(Path file, FileChannel ch) throws IOException {
            ch.force(true);
        }
    }
}
