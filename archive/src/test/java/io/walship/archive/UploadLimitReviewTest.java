package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.util.Random;

import com.google.common.util.concurrent.FakeClockRateLimiter;
import org.junit.jupiter.api.Test;

/**
 * Review of pin-rate: an interrupted uploader waiting on the rate limit. Guava's acquire sleeps
 * uninterruptibly and the paced stream never looks at the interrupt, so an upload at a low rate
 * cannot be stopped (shutdown, the SDK's attempt timeout interrupting the thread) until the whole
 * content has been charged: 1 MiB at 1 KiB/s is ~17 minutes of ignoring the interrupt.
 */
class UploadLimitReviewTest {
    @Test
    void anInterruptedUploadStopsInsteadOfWaitingForTheWholeContent() {
        long seed = 0x5EEDL;
        System.out.println("seed " + seed);
        byte[] content = new byte[1 << 20];
        new Random(seed).nextBytes(content);
        FakeClockRateLimiter.Clock clock = new FakeClockRateLimiter.Clock();
        UploadLimit limit = UploadLimit.of(FakeClockRateLimiter.create(1024, clock), 1024);
        InputStream paced = limit.pace(new ByteArrayInputStream(content));
        Thread.currentThread().interrupt();
        try {
            assertThrows(InterruptedIOException.class, () -> paced.transferTo(OutputStream.nullOutputStream()),
                    "an interrupted thread kept uploading");
        } finally {
            Thread.interrupted();
        }
        assertTrue(clock.sleptMicros() <= 2 * UploadLimit.CHUNK * 1_000_000L / 1024,
                "waited " + clock.sleptMicros() / 1_000_000 + " s on the limit after the interrupt");
    }
}
