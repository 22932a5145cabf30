package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import software.amazon.awssdk.http.ExecutableHttpRequest;
import software.amazon.awssdk.http.HttpExecuteRequest;
import software.amazon.awssdk.http.HttpExecuteResponse;
import software.amazon.awssdk.http.SdkHttpClient;
import software.amazon.awssdk.http.SdkHttpMethod;
import software.amazon.awssdk.http.SdkHttpRequest;
import software.amazon.awssdk.http.apache.ApacheHttpClient;

/**
 * Review: a resumable upload's requests whose reply is lost after the server executed them, retried by
 * the SDK (S3Proxy, or MinIO with WALSHIP_TEST_S3_ENDPOINT): the upload record's PUT (If-None-Match: *,
 * retried → 412 on our own record) and the completion (retried after it completed). Neither is another
 * attempt's doing: the upload must finish (or recognize its own object), not fail or start over.
 */
class ResumableLostAnswerReviewTest {
    static final int PART = S3ObjectStore.MIN_PART_SIZE;
    static TestS3Server s3;
    static final long SEED = System.nanoTime();

    @BeforeAll
    static void start() throws Exception {
        s3 = TestS3Server.start();
        System.out.println("ResumableLostAnswerReviewTest seed " + SEED);
    }

    @AfterAll
    static void stop() throws Exception {
        s3.close();
    }

    /** Drops the reply of the first request {@code which} picks, after the server executed it. */
    static final class DropFirstAnswer implements SdkHttpClient {
        private final SdkHttpClient delegate = ApacheHttpClient.builder().build();
        private final Predicate<SdkHttpRequest> which;
        final AtomicInteger dropped = new AtomicInteger();

        DropFirstAnswer(Predicate<SdkHttpRequest> which) {
            this.which = which;
        }

        @Override
        public ExecutableHttpRequest prepareRequest(HttpExecuteRequest request) {
            ExecutableHttpRequest real = delegate.prepareRequest(request);
            if (dropped.get() > 0 || !which.test(request.httpRequest())) {
                return real;
            }
            return new ExecutableHttpRequest() {
                @Override
                public HttpExecuteResponse call() throws IOException {
                    HttpExecuteResponse r = real.call();
                    r.responseBody().ifPresent(b -> {
                        try (b) {
                            b.readAllBytes();
                        } catch (IOException ignored) {
                            // dropping it anyway
                        }
                    });
                    dropped.incrementAndGet();
                    throw new IOException("injected: connection reset after the server executed the request");
                }

                @Override
                public void abort() {
                    real.abort();
                }
            };
        }

        @Override
        public void close() {
            delegate.close();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"record", "complete"})
    void aResumableUploadWhoseAnswerIsLostFinishes(String lost) throws IOException {
        byte[] image = new byte[2 * PART + 5];
        new Random(SEED).nextBytes(image);
        String key = "backups/1-0000000000000010/image-0123abcd.zst";
        Predicate<SdkHttpRequest> which = lost.equals("record")
                ? r -> r.method() == SdkHttpMethod.PUT && r.encodedPath().contains(ArchiveLayout.UPLOADS)
                : r -> r.method() == SdkHttpMethod.POST && r.firstMatchingRawQueryParameter("uploadId").isPresent();
        DropFirstAnswer http = new DropFirstAnswer(which);
        try (ObjectStore store = new S3ObjectStore(s3.newArchive("resume-test", "lost-" + UUID.randomUUID()), PART, http)) {
            store.createOrSameResuming(key, new ByteArrayInputStream(image));
            assertEquals(1, http.dropped.get(), "the answer was dropped");
            try (InputStream in = store.get(key)) {
                assertArrayEquals(image, in.readAllBytes());
            }
            assertTrue(store.pendingUploads("").isEmpty(), "nothing left pending: " + store.pendingUploads(""));
        }
    }
}
