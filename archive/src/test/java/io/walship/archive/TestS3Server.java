package io.walship.archive;

import java.net.URI;
import java.util.Properties;

import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.nio2blob.TransientNio2BlobStore;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * An S3 server for tests: S3Proxy in-process on 127.0.0.1 (in-memory), or a real one (MinIO)
 * when {@code WALSHIP_TEST_S3_ENDPOINT}, {@code WALSHIP_TEST_S3_ACCESS_KEY} and
 * {@code WALSHIP_TEST_S3_SECRET_KEY} are set ({@code scripts/minio.sh env} prints them).
 */
public final class TestS3Server implements AutoCloseable {
    public static final String ACCESS = "walship-test";
    public static final String SECRET = "walship-test-secret";
    private final S3Proxy proxy;
    private final URI endpoint;
    private final String access;
    private final String secret;

    private TestS3Server(S3Proxy proxy, URI endpoint, String access, String secret) {
        this.proxy = proxy;
        this.endpoint = endpoint;
        this.access = access;
        this.secret = secret;
    }

    /**
     * One server for a whole test class, with the AWS default credentials pointed at it:
     * {@code @RegisterExtension static final TestS3Server.Shared s3 = TestS3Server.shared();}
     */
    public static Shared shared() {
        return new Shared();
    }

    /**
     * A JUnit 5 extension (register it on a static field) that, before all tests of the class, starts
     * {@link #start()} and sets the {@code aws.accessKeyId} / {@code aws.secretAccessKey} system
     * properties to its credentials, and closes it after all. The properties are left set, as the
     * per-class setups it replaces left them.
     */
    public static final class Shared implements BeforeAllCallback, AfterAllCallback {
        private TestS3Server server;

        private Shared() {
        }

        @Override
        public void beforeAll(ExtensionContext context) throws Exception {
            server = start();
            // the archive URI carries no credentials: the AWS default chain reads these
            System.setProperty("aws.accessKeyId", server.access());
            System.setProperty("aws.secretAccessKey", server.secret());
        }

        @Override
        public void afterAll(ExtensionContext context) throws Exception {
            if (server != null) {
                server.close();
                server = null;
            }
        }

        /** The running server. */
        public TestS3Server server() {
            if (server == null) {
                throw new IllegalStateException("TestS3Server.Shared used outside its test class's lifecycle");
            }
            return server;
        }

        public URI endpoint() {
            return server().endpoint();
        }

        public ArchiveUri.S3 newArchive(String bucket, String prefix) {
            return server().newArchive(bucket, prefix);
        }

        public String newArchiveUri(String bucket, String prefix) {
            return server().newArchiveUri(bucket, prefix);
        }

        public String access() {
            return server().access();
        }

        public String secret() {
            return server().secret();
        }

        public S3Client client() {
            return server().client();
        }
    }

    /** The external server if the environment names one (MinIO in CI), else an in-process S3Proxy. */
    public static TestS3Server start() throws Exception {
        TestS3Server external = external();
        return external != null ? external : startS3Proxy();
    }

    /** An in-process S3Proxy. */
    public static TestS3Server startS3Proxy() throws Exception {
        Properties p = new Properties();
        p.setProperty("s3proxy.endpoint", "http://127.0.0.1:0");
        p.setProperty("s3proxy.authorization", "aws-v2-or-v4");
        p.setProperty("s3proxy.identity", ACCESS);
        p.setProperty("s3proxy.credential", SECRET);
        S3Proxy proxy = S3Proxy.Builder.fromProperties(p).blobStore(new TransientNio2BlobStore()).build();
        proxy.start();
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (!"STARTED".equals(proxy.getState())) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("S3Proxy did not start: " + proxy.getState());
            }
            Thread.sleep(5);
        }
        return new TestS3Server(proxy, URI.create("http://127.0.0.1:" + proxy.getPort()), ACCESS, SECRET);
    }

    /** The external server named by the environment, or null if none is configured. */
    public static TestS3Server external() {
        String ep = System.getenv("WALSHIP_TEST_S3_ENDPOINT");
        if (ep == null || ep.isBlank()) {
            return null;
        }
        return new TestS3Server(null, URI.create(ep), System.getenv("WALSHIP_TEST_S3_ACCESS_KEY"),
                System.getenv("WALSHIP_TEST_S3_SECRET_KEY"));
    }

    public URI endpoint() {
        return endpoint;
    }

    /** Creates a bucket and returns an archive URI (with credentials) for a prefix in it. */
    public ArchiveUri.S3 newArchive(String bucket, String prefix) {
        try (S3Client c = client()) {
            try {
                c.createBucket(b -> b.bucket(bucket));
            } catch (software.amazon.awssdk.services.s3.model.BucketAlreadyOwnedByYouException ignored) {
                // reused between tests
            }
        }
        return ((ArchiveUri.S3) ArchiveUri.parse("s3://" + bucket + "/" + prefix + "?endpoint=" + endpoint
                + "&region=us-east-1&path-style=true")).withCredentials(access, secret);
    }

    /** Creates a bucket and returns an archive URI text for a prefix in it (credentials: {@link #access}, {@link #secret}). */
    public String newArchiveUri(String bucket, String prefix) {
        newArchive(bucket, prefix);
        return "s3://" + bucket + "/" + prefix + "?endpoint=" + endpoint + "&region=us-east-1&path-style=true";
    }

    public String access() {
        return access;
    }

    public String secret() {
        return secret;
    }

    public S3Client client() {
        return S3Client.builder().endpointOverride(endpoint).region(Region.US_EAST_1).forcePathStyle(true)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(access, secret)))
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED).build();
    }

    @Override
    public void close() throws Exception {
        if (proxy != null) {
            proxy.stop();
        }
    }
}
