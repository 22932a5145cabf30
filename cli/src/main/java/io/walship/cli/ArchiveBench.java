package io.walship.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.UUID;

import io.walship.archive.ArchiveUri;
import io.walship.archive.BackupManifest;
import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.archive.S3ObjectStore;
import io.walship.shipper.BaseBackup;
import io.walship.shipper.WalShipper;
import io.walship.wal.Durability;
import io.walship.wal.Snapshot;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import io.walship.wal.WalReader;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.model.CompletedPart;

/**
 * The archive benchmarks behind {@code walship bench ship|backup}, each beside a plain SDK
 * baseline against the same endpoint in the same run: PutObject of the same uncompressed bytes
 * (ship), and a plain multipart upload of a file of the image's size (backup).
 */
final class ArchiveBench {
    private ArchiveBench() {
    }

    /** Fills a store with random puts until its WAL holds about {@code walBytes}. */
    static void fill(Store store, long walBytes, int valueSize) {
        SplittableRandom rnd = new SplittableRandom(11);
        byte[] v = new byte[valueSize];
        long start = store.stats().walBytes();
        int i = 0;
        while (store.stats().walBytes() - start < walBytes) {
            for (int j = 0; j < v.length; j += 8) {
                v[j] = (byte) rnd.nextInt(); // half-random values: compressible, like real data
            }
            store.put(String.format("user:%012d", rnd.nextLong(1_000_000_000_000L)).getBytes(), v.clone(),
                    ++i % 1000 == 0 ? Durability.DURABLE : Durability.ASYNC);
        }
    }

    /** Seconds for shipping everything the WAL holds into a fresh prefix. */
    static WalShipper.Result ship(Path data, ObjectStore archive, Codec codec, long[] nanos) {
        try (WalShipper shipper = new WalShipper(data, archive, new WalShipper.Options(codec, 16L << 20))) {
            long t0 = System.nanoTime();
            WalShipper.Result r = shipper.shipOnce();
            nanos[0] = System.nanoTime() - t0;
            return r;
        }
    }

    /** The WAL's bytes, cut into 16 MiB chunks, as the raw baseline uploads them. */
    static List<byte[]> walChunks(Path data) {
        List<byte[]> chunks = new ArrayList<>();
        java.io.ByteArrayOutputStream cur = new java.io.ByteArrayOutputStream(16 << 20);
        try (WalReader r = WalReader.open(data)) {
            r.seek(r.firstAvailableLsn()).headersOnly();
            while (r.next() != null) {
                byte[] e = r.lastEntryBytes();
                cur.write(e, 0, e.length);
                if (cur.size() >= 16 << 20) {
                    chunks.add(cur.toByteArray());
                    cur.reset();
                }
            }
        }
        if (cur.size() > 0) {
            chunks.add(cur.toByteArray());
        }
        return chunks;
    }

    static S3Client rawClient(ArchiveUri.S3 uri) {
        S3ClientBuilder b = S3Client.builder().region(Region.of(uri.region())).forcePathStyle(uri.pathStyle())
                .credentialsProvider(DefaultCredentialsProvider.builder().build())
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED);
        if (uri.endpoint() != null) {
            b.endpointOverride(uri.endpoint());
        }
        return b.build();
    }

    /** Plain PutObject of each chunk; returns nanoseconds. */
    static long rawPut(S3Client s3, ArchiveUri.S3 uri, List<byte[]> chunks) {
        String prefix = (uri.prefix().isEmpty() ? "" : uri.prefix() + "/") + "raw-" + UUID.randomUUID() + "/";
        long t0 = System.nanoTime();
        int n = 0;
        for (byte[] c : chunks) {
            String key = prefix + (n++);
            s3.putObject(r -> r.bucket(uri.bucket()).key(key), RequestBody.fromBytes(c));
        }
        return System.nanoTime() - t0;
    }

    /** A base backup of an open store; returns nanoseconds (digest excluded, as it is not upload work). */
    static BackupManifest backup(Store store, ObjectStore archive, Codec codec, long[] nanos) {
        try (Snapshot snap = store.snapshot()) {
            StateDigest d = StateDigest.of(snap.pages(), snap.lsn());
            long t0 = System.nanoTime();
            BackupManifest m = BaseBackup.upload(snap, d, archive, codec, x -> { });
            nanos[0] = System.nanoTime() - t0;
            return m;
        }
    }

    /** Plain multipart upload (8 MiB parts, like ours) of {@code file}; returns nanoseconds. */
    static long rawMultipart(S3Client s3, ArchiveUri.S3 uri, Path file) throws IOException {
        String key = (uri.prefix().isEmpty() ? "" : uri.prefix() + "/") + "raw-" + UUID.randomUUID();
        int part = S3ObjectStore.DEFAULT_PART_SIZE;
        long t0 = System.nanoTime();
        String id = s3.createMultipartUpload(r -> r.bucket(uri.bucket()).key(key)).uploadId();
        List<CompletedPart> parts = new ArrayList<>();
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[part];
            int n;
            int no = 1;
            while ((n = in.readNBytes(buf, 0, part)) > 0) {
                int pn = no++;
                byte[] data = n == part ? buf : java.util.Arrays.copyOf(buf, n);
                String etag = s3.uploadPart(r -> r.bucket(uri.bucket()).key(key).uploadId(id).partNumber(pn),
                        RequestBody.fromBytes(data)).eTag();
                parts.add(CompletedPart.builder().partNumber(pn).eTag(etag).build());
            }
        }
        s3.completeMultipartUpload(r -> r.bucket(uri.bucket()).key(key).uploadId(id).multipartUpload(m -> m.parts(parts)));
        return System.nanoTime() - t0;
    }

    /** Writes the store's snapshot image to a file, for the raw baseline to upload. */
    static long imageToFile(Store store, Path file) throws IOException {
        try (Snapshot snap = store.snapshot(); InputStream in = snap.openStream();
             OutputStream out = Files.newOutputStream(file)) {
            return in.transferTo(out);
        }
    }

    /** Plain GetObject of every object under the store (one by one), decompressed to nowhere; returns nanoseconds. */
    static long rawDownloadAndDecompress(S3Client s3, ArchiveUri.S3 uri, ObjectStore store) throws IOException {
        String prefix = uri.prefix().isEmpty() ? "" : uri.prefix() + "/";
        List<String> keys = new ArrayList<>();
        for (io.walship.archive.ObjectInfo o : store.list("", null)) {
            if (o.key().endsWith(".seg") || o.key().contains("/image-")) {
                keys.add(o.key());
            }
        }
        long t0 = System.nanoTime();
        for (String k : keys) {
            try (InputStream in = s3.getObject(r -> r.bucket(uri.bucket()).key(prefix + k))) {
                InputStream body = in;
                if (k.endsWith(".seg")) {
                    io.walship.archive.Segment.readHeader(body, k);
                }
                Codec.ZSTD.decompress(new java.io.BufferedInputStream(body, 1 << 16)).transferTo(OutputStream.nullOutputStream());
            }
        }
        return System.nanoTime() - t0;
    }
}
