package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ArchiveUri;
import io.walship.archive.BackupManifest;
import io.walship.archive.Codec;
import io.walship.archive.EncryptedObjectStore;
import io.walship.archive.EncryptionKeys;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.S3ObjectStore;
import io.walship.archive.StorageException;
import io.walship.archive.TestS3Server;
import io.walship.shipper.BackupSource;
import io.walship.wal.ChildJvm;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import io.walship.wal.WriteBatch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import software.amazon.awssdk.http.ExecutableHttpRequest;
import software.amazon.awssdk.http.HttpExecuteRequest;
import software.amazon.awssdk.http.SdkHttpClient;
import software.amazon.awssdk.http.apache.ApacheHttpClient;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * Resumable base backups for real (issue 14): a {@code walship backup --data} process is killed with
 * SIGKILL while its image is half uploaded (to S3: S3Proxy, or MinIO with WALSHIP_TEST_S3_ENDPOINT; and
 * to a file:// archive; plain and encrypted), and the next backup of the same stopped store sends only the parts that were
 * missing (counted as UploadPart HTTP requests) and gives a backup that restores to the source's
 * digest. And in one process: the network fails mid-upload, and the retry resumes from the last part
 * that got through.
 */
class BackupResumeKillTest {
    static final int PART = S3ObjectStore.DEFAULT_PART_SIZE;
    static TestS3Server s3;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() throws Exception {
        s3 = TestS3Server.start();
    }

    @AfterAll
    static void stop() throws Exception {
        s3.close();
    }

    /** A stopped store of {@code rows} rows of 1,000 random (incompressible) bytes. */
    static StateDigest fill(Path dir, int rows, long seed) throws IOException {
        System.out.println("BackupResumeKillTest seed " + seed);
        Random r = new Random(seed);
        try (Store store = Store.open(dir)) {
            WriteBatch b = new WriteBatch();
            for (int i = 0; i < rows; i++) {
                byte[] v = new byte[1000];
                r.nextBytes(v);
                b.put(String.format("key-%08d", i).getBytes(StandardCharsets.US_ASCII), v);
                if (b.size() >= 500) {
                    store.write(b);
                    b = new WriteBatch();
                }
            }
            if (b.size() > 0) {
                store.write(b);
            }
            store.checkpoint();
            return store.digest();
        }
    }

    /** An HTTP client for the SDK that counts UploadPart requests and can cut the network. */
    static final class Wire implements SdkHttpClient {
        final SdkHttpClient delegate = ApacheHttpClient.builder().build();
        final AtomicInteger uploadParts = new AtomicInteger();
        final AtomicBoolean down = new AtomicBoolean();
        volatile int downAfterParts = Integer.MAX_VALUE;

        @Override
        public ExecutableHttpRequest prepareRequest(HttpExecuteRequest request) {
            boolean part = request.httpRequest().firstMatchingRawQueryParameter("partNumber").isPresent()
                    && request.httpRequest().method().name().equals("PUT");
            if (part && uploadParts.get() >= downAfterParts) {
                down.set(true);
            }
            if (down.get()) {
                return new ExecutableHttpRequest() {
                    @Override
                    public software.amazon.awssdk.http.HttpExecuteResponse call() throws IOException {
                        throw new IOException("injected: network down");
                    }

                    @Override
                    public void abort() {
                    }
                };
            }
            if (part) {
                uploadParts.incrementAndGet();
            }
            return delegate.prepareRequest(request);
        }

        @Override
        public void close() {
            delegate.close();
        }
    }

    /**
     * Parts of the pending multipart uploads of the archive: their keys from the store (MinIO lists uploads
     * only by exact key, so from the upload records), their parts from ListParts.
     */
    static int partsThere(S3Client c, ObjectStore store, String bucket, String prefix) {
        int n = 0;
        for (ObjectStore.PendingUpload p : store.pendingUploads("")) {
            String k = prefix + p.key();
            for (var u : c.listMultipartUploads(r -> r.bucket(bucket).prefix(k)).uploads()) {
                if (u.key().equals(k)) {
                    n += c.listParts(r -> r.bucket(bucket).key(k).uploadId(u.uploadId())).parts().size();
                }
            }
        }
        return n;
    }

    static long pendingFileBytes(Path archive) throws IOException {
        Path dir = archive.resolve(".tmp/pending");
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        try (var files = Files.list(dir)) {
            return files.mapToLong(f -> f.toFile().length()).sum();
        }
    }

    /** Starts a backup process, waits until {@code progress} reaches {@code atLeast}, and kills it with SIGKILL. */
    Process killMidUpload(Path source, String uri, List<String> jvm, List<String> extra, LongSupplier progress,
                          long atLeast) throws Exception {
        Path log = tmp.resolve("backup-" + UUID.randomUUID() + ".log");
        List<String> opts = new ArrayList<>(List.of("-Xmx128m"));
        opts.addAll(jvm);
        // slow enough to be caught mid-upload: a 40 MB image takes about 10 s
        List<String> args = new ArrayList<>(List.of("backup", "--data", source.toString(), "--archive", uri,
                "--max-upload-rate", "4MiB/s"));
        args.addAll(extra);
        Process p = ChildJvm.start(Main.class, opts, args, log);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (progress.getAsLong() < atLeast) {
            assertTrue(p.isAlive(), "the backup ended before it was killed: " + Files.readString(log));
            assertTrue(System.nanoTime() < deadline, "no upload progress in 120 s: " + Files.readString(log));
            Thread.onSpinWait();
            p.waitFor(20, TimeUnit.MILLISECONDS); // a poll interval that ends early if the process does
        }
        p.destroyForcibly(); // SIGKILL
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertNotEquals(0, p.exitValue());
        return p;
    }

    void restoresTo(String uri, List<String> jvm, List<String> extra, StateDigest want) throws Exception {
        Path target = tmp.resolve("restored-" + UUID.randomUUID());
        Path log = tmp.resolve("restore.log");
        List<String> opts = new ArrayList<>(List.of("-Xmx128m"));
        opts.addAll(jvm);
        List<String> args = new ArrayList<>(List.of("restore", "--archive", uri, "--target", target.toString()));
        args.addAll(extra);
        Process p = ChildJvm.start(Main.class, opts, args, log);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "restore did not finish");
        assertEquals(0, p.exitValue(), Files.readString(log));
        try (Store s = Store.open(target)) {
            StateDigest got = s.digest();
            assertEquals(want.lsn(), got.lsn());
            assertEquals(want.sha256(), got.sha256(), "the restored store is the source");
        }
    }

    static BackupManifest manifest(ObjectStore store, StateDigest d) throws IOException {
        ArchiveLayout.BackupName name = new ArchiveLayout.BackupName(1, d.lsn());
        try (InputStream in = store.get(name.manifestKey())) {
            return BackupManifest.read(in, name.manifestKey());
        }
    }

    @ParameterizedTest(name = "sealed={0}")
    @ValueSource(booleans = {false, true})
    void aBackupKilledMidUploadToS3ResumesWithOnlyTheMissingParts(boolean sealed) throws Exception {
        Path source = tmp.resolve("source");
        StateDigest d = fill(source, 40_000, 1401);
        String bucket = "resume-kill";
        String prefix = "k-" + UUID.randomUUID();
        ArchiveUri.S3 uri = s3.newArchive(bucket, prefix);
        String text = s3.newArchiveUri(bucket, prefix);
        List<String> creds = List.of("-Daws.accessKeyId=" + s3.access(), "-Daws.secretAccessKey=" + s3.secret());
        byte[] key = new byte[32];
        new Random(1401).nextBytes(key);
        Path keyFile = Files.write(tmp.resolve("archive.key"), key);
        List<String> keyArgs = sealed ? List.of("--encryption-key-file", keyFile.toString()) : List.of();
        int before;
        try (S3Client c = s3.client(); ObjectStore look = new S3ObjectStore(uri)) {
            killMidUpload(source, text, creds, keyArgs, () -> partsThere(c, look, bucket, prefix + "/"), 2);
            before = partsThere(c, look, bucket, prefix + "/");
        }
        assertTrue(before >= 2, "parts uploaded before the kill: " + before);

        Wire wire = new Wire();
        ObjectStore raw = new S3ObjectStore(uri, PART, wire);
        try (ObjectStore store = sealed ? new EncryptedObjectStore(raw, EncryptionKeys.of(List.of(key))) : raw) {
            assertTrue(store.head(new ArchiveLayout.BackupName(1, d.lsn()).manifestKey()).isEmpty(),
                    "the killed backup wrote no manifest");
            BackupManifest m = new BackupSource.StoppedStore(source).backup(store, Codec.ZSTD, total -> n -> { });
            long stored = raw.head(m.imageKey()).orElseThrow().size();
            int parts = (int) ((stored + PART - 1) / PART);
            assertTrue(parts > before, "the kill came before the last part: " + parts + " parts, " + before + " there");
            assertEquals(parts - before, wire.uploadParts.get(),
                    "only the parts missing were sent (" + parts + " parts, " + before + " were there)");
            assertEquals(d.sha256(), m.digestSha256());
            assertTrue(store.pendingUploads("").isEmpty(), "nothing is left pending");
            assertTrue(raw.list(ArchiveLayout.UPLOADS, null).isEmpty(), "no upload record is left");
        }
        restoresTo(text, creds, keyArgs, d);
    }

    @Test
    void aBackupKilledMidUploadToAFileArchiveResumesFromWhatItWrote() throws Exception {
        Path source = tmp.resolve("source");
        StateDigest d = fill(source, 40_000, 1402);
        Path archive = tmp.resolve("archive");
        String uri = "file://" + archive.toAbsolutePath();
        killMidUpload(source, uri, List.of(), List.of(), () -> {
            try {
                return pendingFileBytes(archive);
            } catch (IOException e) {
                return 0;
            }
        }, 2L * PART);
        long there = pendingFileBytes(archive);

        long[] skipped = {-1};
        long[] sent = {-1};
        try (ObjectStore store = new io.walship.archive.ForwardingObjectStore(new LocalObjectStore(archive)) {
            @Override
            public Resumed createResuming(String key, InputStream content) {
                Resumed r = super.createResuming(key, content);
                skipped[0] = r.skippedBytes();
                sent[0] = r.sentBytes();
                return r;
            }
        }) {
            BackupManifest m = new BackupSource.StoppedStore(source).backup(store, Codec.ZSTD, total -> n -> { });
            assertEquals(there, skipped[0], "what the killed process wrote was kept");
            assertEquals(m.objectBytes() - there, sent[0], "only the rest was written");
            assertEquals(d.sha256(), m.digestSha256());
            assertEquals(0, pendingFileBytes(archive));
        }
        restoresTo(uri, List.of(), List.of(), d);
    }

    @Test
    void aNetworkFailureMidUploadIsResumedFromTheLastPartThatGotThrough() throws Exception {
        Path source = tmp.resolve("source");
        StateDigest d = fill(source, 30_000, 1403);
        ArchiveUri.S3 uri = s3.newArchive("resume-net", "n-" + UUID.randomUUID());
        Wire wire = new Wire();
        wire.downAfterParts = 2;
        try (ObjectStore store = new S3ObjectStore(uri, PART, wire)) {
            BackupSource src = new BackupSource.StoppedStore(source);
            StorageException e = assertThrows(StorageException.class, () -> src.backup(store, Codec.ZSTD, t -> n -> { }));
            assertTrue(e.getMessage().contains("network down") || String.valueOf(e.getCause()).contains("network down"),
                    e.toString());
            assertEquals(2, wire.uploadParts.get());
            wire.down.set(false);
            wire.downAfterParts = Integer.MAX_VALUE;
            wire.uploadParts.set(0);
            BackupManifest m = src.backup(store, Codec.ZSTD, t -> n -> { });
            int parts = (int) ((m.objectBytes() + PART - 1) / PART);
            assertEquals(parts - 2, wire.uploadParts.get(), "the retry sent only the parts after the two that got through");
            assertEquals(d.sha256(), m.digestSha256());
            Optional<ObjectStore.PendingUpload> left = store.pendingUploads("").stream().findAny();
            assertFalse(left.isPresent(), "nothing left pending: " + left);
        }
    }
}
