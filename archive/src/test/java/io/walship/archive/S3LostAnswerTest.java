package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.http.ExecutableHttpRequest;
import software.amazon.awssdk.http.HttpExecuteRequest;
import software.amazon.awssdk.http.HttpExecuteResponse;
import software.amazon.awssdk.http.SdkHttpClient;
import software.amazon.awssdk.http.SdkHttpMethod;
import software.amazon.awssdk.http.apache.ApacheHttpClient;

/**
 * A real lost answer against S3 (in-process S3Proxy, or MinIO when {@code WALSHIP_TEST_S3_ENDPOINT}
 * is set): the first PUT reaches the server and is executed, its reply is dropped, the SDK
 * retries with {@code If-None-Match: *} and gets 412 for its own object. {@code create} reports
 * that as taken; {@code createOrSame} recognizes the bytes as its own.
 */
class S3LostAnswerTest {
    static TestS3Server server;

    @BeforeAll
    static void start() throws Exception {
        server = TestS3Server.start();
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
    }

    /** Drops the reply of the first PUT after the server executed it. */
    static final class DropFirstPutAnswer implements SdkHttpClient {
        private final SdkHttpClient delegate = ApacheHttpClient.builder().build();
        final AtomicInteger dropped = new AtomicInteger();

        @Override
        public ExecutableHttpRequest prepareRequest(HttpExecuteRequest request) {
            ExecutableHttpRequest real = delegate.prepareRequest(request);
            if (request.httpRequest().method() != SdkHttpMethod.PUT || dropped.get() > 0) {
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
                    throw new IOException("injected: connection reset after the server executed the PUT");
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

    @Test
    void aRetriedPutMeetsItsOwnObject() {
        byte[] bytes = "timeline history bytes".getBytes(StandardCharsets.UTF_8);
        String prefix = "lost-" + UUID.randomUUID();
        DropFirstPutAnswer http = new DropFirstPutAnswer();
        try (ObjectStore s = new S3ObjectStore(server.newArchive("walship-test", prefix), S3ObjectStore.DEFAULT_PART_SIZE,
                http)) {
            s.verifyAccess();
            assertFalse(s.createOrSame("timelines/00000002.history", new ByteArrayInputStream(bytes)),
                    "the object is there from the first attempt");
            assertEquals(1, http.dropped.get());
            assertTrue(s.head("timelines/00000002.history").orElseThrow().etag() != null, "S3 reports an ETag");
            assertThrows(ObjectExistsException.class, () -> s.createOrSame("timelines/00000002.history",
                    new ByteArrayInputStream("someone else's history".getBytes(StandardCharsets.UTF_8))));
        }
    }

    /** The lease's writes through the real SDK retry: a create and a replace whose replies are dropped. */
    @Test
    void aRetriedConditionalLeaseWriteMeetsItsOwnVersion() {
        String prefix = "lost-lease-" + UUID.randomUUID();
        ArchiveUri.S3 uri = server.newArchive("walship-test", prefix);
        byte[] v1 = "lease term 1".getBytes(StandardCharsets.UTF_8);
        byte[] v2 = "lease term 1, renewed".getBytes(StandardCharsets.UTF_8);
        String e1;
        DropFirstPutAnswer http = new DropFirstPutAnswer();
        try (ObjectStore s = new S3ObjectStore(uri, S3ObjectStore.DEFAULT_PART_SIZE, http)) {
            e1 = s.createReturningEtagOrSame("lease/leader.json", v1); // If-None-Match: * retried → 412, ours
            assertEquals(1, http.dropped.get());
            assertEquals(e1, s.getVersioned("lease/leader.json").orElseThrow().etag());
        }
        DropFirstPutAnswer http2 = new DropFirstPutAnswer();
        try (ObjectStore s = new S3ObjectStore(uri, S3ObjectStore.DEFAULT_PART_SIZE, http2)) {
            assertThrows(PreconditionFailedException.class, () -> s.replaceIfMatch("lease/leader.json", e1, v2),
                    "without the content check the retry's 412 looks like a takeover");
        }
        DropFirstPutAnswer http3 = new DropFirstPutAnswer();
        try (ObjectStore s = new S3ObjectStore(uri, S3ObjectStore.DEFAULT_PART_SIZE, http3)) {
            String e2 = s.getVersioned("lease/leader.json").orElseThrow().etag();
            byte[] v3 = "lease term 1, renewed twice".getBytes(StandardCharsets.UTF_8);
            String e3 = s.replaceIfMatchOrSame("lease/leader.json", e2, v3); // If-Match retried → 412, ours
            assertEquals(1, http3.dropped.get());
            ObjectStore.Versioned now = s.getVersioned("lease/leader.json").orElseThrow();
            assertEquals(e3, now.etag());
            assertEquals("lease term 1, renewed twice", new String(now.content(), StandardCharsets.UTF_8));
        }
    }
}
