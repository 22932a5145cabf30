package io.walship.archive;

import java.util.UUID;

import org.junit.jupiter.api.condition.EnabledIfEnvironmentVariable;

/** The leader lease tests on a real S3 server (MinIO in CI), when WALSHIP_TEST_S3_ENDPOINT is set. */
@EnabledIfEnvironmentVariable(named = "WALSHIP_TEST_S3_ENDPOINT", matches = ".+")
class ExternalS3LeaderLeaseTest extends LeaderLeaseTest {
    @Override
    protected ObjectStore newStore() {
        return new S3ObjectStore(TestS3Server.external().newArchive("walship-test", "lease-" + UUID.randomUUID()));
    }
}
