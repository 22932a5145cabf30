package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.UUID;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The contract against an in-process S3Proxy (the default for `mvn test`). */
class S3ProxyObjectStoreTest extends ObjectStoreContract {
    static TestS3Server server;

    @BeforeAll
    static void start() throws Exception {
        server = TestS3Server.startS3Proxy();
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
    }

    @Override
    protected ObjectStore newStore() {
        return new S3ObjectStore(server.newArchive("walship-test", "p-" + UUID.randomUUID()));
    }

    /**
     * S3Proxy 4.1 honours {@code If-None-Match: *} and {@code If-Match} on PUT, but as check-then-put
     * around its blob store (no lock): two racing conditional PUTs can both succeed (seen: both replaces
     * of one version won). The sequential semantics (stale ETag refused, lost answers) are still
     * tested here; the races run against the local store and MinIO (.ci/run, ExternalS3ObjectStoreTest).
     */
    @Override
    protected String conditionalWritesNotAtomic() {
        return "S3Proxy 4.1 checks If-Match/If-None-Match before the put without a lock, so concurrent"
                + " conditional PUTs can both win; the race runs on the local store and MinIO";
    }

    @Test
    void missingBucketAndBadCredentialsAreConfigErrors() {
        ArchiveUri.S3 good = server.newArchive("walship-test", "x");
        ArchiveUri.S3 noBucket = new ArchiveUri.S3("no-such-bucket", "x", good.endpoint(), "us-east-1", true,
                good.accessKey(), good.secretKey());
        try (ObjectStore s = new S3ObjectStore(noBucket)) {
            ArchiveConfigException e = assertThrows(ArchiveConfigException.class, s::verifyAccess);
            assertTrue(e.getMessage().contains("bucket 'no-such-bucket' does not exist"), e.getMessage());
        }
        try (ObjectStore s = new S3ObjectStore(good.withCredentials("walship-test", "wrong-secret"))) {
            ArchiveConfigException e = assertThrows(ArchiveConfigException.class, s::verifyAccess);
            assertTrue(e.getMessage().contains("denied"), e.getMessage());
            assertTrue(!e.getMessage().contains("wrong-secret"), "secrets are never printed");
        }
    }
}
