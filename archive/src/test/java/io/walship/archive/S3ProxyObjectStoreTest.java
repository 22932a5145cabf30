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
