package io.walship.archive;

import java.util.UUID;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The leader lease tests on an in-process S3Proxy: If-Match and If-None-Match PUTs through the SDK. */
class S3ProxyLeaderLeaseTest extends LeaderLeaseTest {
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
        return new S3ObjectStore(server.newArchive("walship-test", "lease-" + UUID.randomUUID()));
    }
}
