package io.walship.archive;

import java.util.UUID;

import org.junit.jupiter.api.condition.EnabledIfEnvironmentVariable;

/** The contract against a real S3 server (MinIO in CI), when WALSHIP_TEST_S3_ENDPOINT is set. */
@EnabledIfEnvironmentVariable(named = "WALSHIP_TEST_S3_ENDPOINT", matches = ".+")
class ExternalS3ObjectStoreTest extends ObjectStoreContract {
    @Override
    protected ObjectStore newStore() {
        return new S3ObjectStore(TestS3Server.external().newArchive("walship-test", "p-" + UUID.randomUUID()));
    }
}
