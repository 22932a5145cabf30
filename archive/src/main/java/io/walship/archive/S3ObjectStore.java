package io.walship.archive;

import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * An {@link ObjectStore} on S3 or an S3-compatible server (MinIO, S3Proxy), through AWS SDK v2.
 *
 * <p>Choices made deliberately:
 * <ul>
 * <li><b>Checksums</b>: the SDK's default flexible checksums (CRC32 trailers over aws-chunked
 *     encoding) are switched to {@code WHEN_REQUIRED}, because several S3-compatible servers
 *     reject or mishandle them. Instead every PUT and every part carries a {@code Content-MD5},
 *     which every S3 implementation verifies, and walship's own objects carry their own
 *     checksums inside.</li>
 * <li><b>Never overwrite</b>: single PUTs and multipart completions send {@code If-None-Match: *};
 *     a 412 answer becomes {@link ObjectExistsException}.</li>
 * <li><b>Retries</b>: the SDK's standard strategy with exponential backoff and jitter, 6
 *     attempts, for throttling, 5xx and I/O errors; each attempt times out after 2 minutes.</li>
 * <li><b>Compare-and-swap</b> (the leader lease): {@link #replaceIfMatch} is a PUT with
 *     {@code If-Match} on the ETag read before; 412 (another ETag) and 404 (gone) become
 *     {@link PreconditionFailedException}, and so does 409 {@code ConditionalRequestConflict}
 *     (S3's answer while another conditional write to the key is in flight: the caller reads the
 *     document again, as after a 412). S3 and MinIO support conditional PUTs; so does S3Proxy 4.</li>
 * <li><b>Large objects</b>: content is read a part at a time (8 MiB by default) and sent as a
 *     multipart upload, so nothing is held whole in memory; a failed upload is aborted.</li>
 * </ul>
 * Credentials: explicit keys if given, else the default AWS provider chain; never logged.
 * Thread-safe.
 */
public final class S3ObjectStore implements ObjectStore {
    private static final Logger LOG = LoggerFactory.getLogger(S3ObjectStore.class);
    public static final int DEFAULT_PART_SIZE = 8 << 20;
    /** S3's smallest part size (all parts but the last). */
    public static final int MIN_PART_SIZE = 5 << 20;
    /**
     * Each attempt of a compare-and-swap call (the lease: at most 1 MiB) gives up after this, so one
     * request lost in a black hole costs a retry, not the 2 minutes a large upload may take: a lease
     * renewed every TTL/3 must not be fenced by a single stuck connection.
     */
    static final Duration VERSIONED_ATTEMPT_TIMEOUT = Duration.ofSeconds(2);

    private final ArchiveUri.S3 uri;
    private final S3Client client;
    private final String bucket;
    private final String prefix;
    private final int partSize;
    private final UploadLimit limit;

    public S3ObjectStore(ArchiveUri.S3 uri) {
        this(uri, DEFAULT_PART_SIZE);
    }

    public S3ObjectStore(ArchiveUri.S3 uri, int partSize) {
        this(uri, partSize, null);
    }

    /** With a given HTTP client (tests inject faults through it); null means the SDK's default. */
    public S3ObjectStore(ArchiveUri.S3 uri, int partSize, software.amazon.awssdk.http.SdkHttpClient httpClient) {
        this(uri, partSize, httpClient, UploadLimit.NONE);
    }

    /**
     * With an upload rate limit ({@link UploadLimit}, shared with the process's other stores) on the
     * content of {@link #create}: single PUTs and multipart parts.
     */
    public S3ObjectStore(ArchiveUri.S3 uri, int partSize, software.amazon.awssdk.http.SdkHttpClient httpClient,
                         UploadLimit limit) {
        this.limit = java.util.Objects.requireNonNull(limit, "limit");
        if (partSize < MIN_PART_SIZE) {
            throw new IllegalArgumentException("part size must be at least " + MIN_PART_SIZE);
        }
        this.uri = uri;
        this.bucket = uri.bucket();
        this.prefix = uri.prefix().isEmpty() ? "" : uri.prefix() + "/";
        this.partSize = partSize;
        AwsCredentialsProvider creds = uri.accessKey() != null
                ? StaticCredentialsProvider.create(AwsBasicCredentials.create(uri.accessKey(), uri.secretKey()))
                : DefaultCredentialsProvider.builder().build();
        S3ClientBuilder b = S3Client.builder()
                .region(Region.of(uri.region()))
                .forcePathStyle(uri.pathStyle())
                .credentialsProvider(creds)
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .overrideConfiguration(o -> o
                        .retryStrategy(AwsRetryStrategy.standardRetryStrategy().toBuilder().maxAttempts(6).build())
                        .apiCallAttemptTimeout(Duration.ofMinutes(2)));
        if (uri.endpoint() != null) {
            b.endpointOverride(uri.endpoint());
        }
        if (httpClient != null) {
            b.httpClient(httpClient);
        }
        this.client = b.build();
    }

    private String full(String key) {
        return prefix + Keys.check(key);
    }

    @Override
    public void create(String key, InputStream content) {
        String k = full(key);
        try {
            byte[] first = content.readNBytes(partSize);
            if (first.length < partSize) {
                client.putObject(r -> limited(r.bucket(bucket).key(k).ifNoneMatch("*").contentMD5(md5(first, first.length))
                        .contentLength((long) first.length), first.length), body(first, first.length));
                return;
            }
            multipart(key, k, first, content);
        } catch (IOException e) {
            throw new StorageException("create " + key + ": reading the content failed: " + e.getMessage(), e);
        } catch (S3Exception e) {
            throw translate("create", key, e);
        } catch (SdkClientException e) {
            throw clientError("create " + key + " at " + describe() + ": ", e);
        }
    }

    @Override
    public String createReturningEtag(String key, byte[] content) {
        Keys.checkVersioned(key, content);
        String k = full(key);
        try {
            return unquote(client.putObject(r -> r.bucket(bucket).key(k).ifNoneMatch("*").contentMD5(md5(content,
                    content.length)).contentLength((long) content.length)
                    .overrideConfiguration(o -> o.apiCallAttemptTimeout(VERSIONED_ATTEMPT_TIMEOUT)),
                    RequestBody.fromBytes(content)).eTag());
        } catch (S3Exception e) {
            throw translate("create", key, e);
        } catch (SdkClientException e) {
            throw clientError("create " + key + " at " + describe() + ": ", e);
        }
    }

    @Override
    public String replaceIfMatch(String key, String expectedEtag, byte[] content) {
        Keys.checkVersioned(key, content);
        java.util.Objects.requireNonNull(expectedEtag, "expectedEtag");
        String k = full(key);
        try {
            return unquote(client.putObject(r -> r.bucket(bucket).key(k).ifMatch("\"" + expectedEtag + "\"")
                    .contentMD5(md5(content, content.length)).contentLength((long) content.length)
                    .overrideConfiguration(o -> o.apiCallAttemptTimeout(VERSIONED_ATTEMPT_TIMEOUT)),
                    RequestBody.fromBytes(content)).eTag());
        } catch (S3Exception e) {
            String code = e.awsErrorDetails() == null ? null : e.awsErrorDetails().errorCode();
            if (e.statusCode() == 412 || "PreconditionFailed".equals(code)) {
                throw new PreconditionFailedException(key, expectedEtag, "its ETag is another (HTTP 412)");
            }
            if (e.statusCode() == 404 || "NoSuchKey".equals(code)) {
                throw new PreconditionFailedException(key, expectedEtag, "the object does not exist (HTTP 404)");
            }
            if (e.statusCode() == 409 || "ConditionalRequestConflict".equals(code)) {
                throw new PreconditionFailedException(key, expectedEtag, "a concurrent conditional write (HTTP 409)");
            }
            throw translate("replace", key, e);
        } catch (SdkClientException e) {
            throw clientError("replace " + key + " at " + describe() + ": ", e);
        }
    }

    @Override
    public Optional<Versioned> getVersioned(String key) {
        Keys.checkVersioned(key, null);
        try (software.amazon.awssdk.core.ResponseInputStream<software.amazon.awssdk.services.s3.model.GetObjectResponse> in =
                     client.getObject(r -> r.bucket(bucket).key(full(key))
                             .overrideConfiguration(o -> o.apiCallAttemptTimeout(VERSIONED_ATTEMPT_TIMEOUT)))) {
            byte[] bytes = in.readAllBytes();
            return Optional.of(new Versioned(bytes, unquote(in.response().eTag())));
        } catch (NoSuchKeyException e) {
            return Optional.empty();
        } catch (S3Exception e) {
            if (e.statusCode() == 404) {
                return Optional.empty();
            }
            throw translate("get", key, e);
        } catch (SdkClientException e) {
            throw clientError("get " + key + " from " + describe() + ": ", e);
        } catch (IOException e) {
            throw new StorageException("get " + key + " from " + describe() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Resumes the newest pending multipart upload of {@code key} (ListMultipartUploads, ListParts):
     * a part already there is skipped when its size and ETag (the MD5 of a part's bytes, on S3, MinIO
     * and S3Proxy alike; a part uploaded under SSE-KMS has another ETag and is a mismatch) equal
     * those of the same range of {@code content}. On any failure but a mismatch the upload is left
     * pending for the next attempt.
     */
    @Override
    public Resumed createResuming(String key, InputStream content) {
        return createResuming(key, content, false);
    }

    /**
     * With {@code resumeOnly}, a pending upload with parts must be there, and must stay there: none
     * found, or one that vanishes under a part upload or the completion (S3 answers 404
     * {@code NoSuchUpload}), is a {@link ResumeMismatchException}, never a new upload of the same bytes.
     */
    @Override
    public Resumed createResuming(String key, InputStream content, boolean resumeOnly) {
        String k = full(key);
        String uploadId = null;
        boolean keep = true;
        try {
            List<software.amazon.awssdk.services.s3.model.MultipartUpload> pending = uploads(k);
            java.util.Map<Integer, software.amazon.awssdk.services.s3.model.Part> had = new java.util.HashMap<>();
            if (!pending.isEmpty()) {
                uploadId = pending.get(pending.size() - 1).uploadId();
                parts(k, uploadId).forEach(p -> had.put(p.partNumber(), p));
            }
            if (resumeOnly && had.isEmpty()) {
                keep = false;
                if (uploadId == null) {
                    deleteRecord(key); // the record of an upload that is gone
                }
                throw new ResumeMismatchException(key, "the pending upload is gone, or holds no part, so nothing can be compared");
            }
            if (uploadId == null && head(key).isPresent()) {
                // completed by an attempt killed before it deleted the record: taken, before a byte is sent
                // (the caller compares it once) instead of after all of them (then refused, then compared)
                deleteRecord(key);
                throw new ObjectExistsException(key);
            }
            byte[] buf = content.readNBytes(partSize);
            int len = buf.length;
            if (uploadId == null && len < partSize) {
                byte[] one = buf;
                client.putObject(r -> limited(r.bucket(bucket).key(k).ifNoneMatch("*").contentMD5(md5(one, one.length))
                        .contentLength((long) one.length), one.length), body(one, one.length));
                return new Resumed(0, len);
            }
            if (uploadId == null) {
                // the record first: an upload is never pending without one (MinIO lists uploads only by exact key)
                String record = full(ArchiveLayout.UPLOADS + key);
                byte[] head = java.util.Arrays.copyOf(buf, Math.min(len, PENDING_HEAD_BYTES));
                client.deleteObject(r -> r.bucket(bucket).key(record)); // a dead attempt's, of no upload
                try {
                    client.putObject(r -> r.bucket(bucket).key(record).ifNoneMatch("*").contentMD5(md5(head, head.length))
                            .contentLength((long) head.length), RequestBody.fromBytes(head));
                } catch (S3Exception e) {
                    // 412 with our own bytes there: the SDK retried our PUT after its answer was lost
                    if (e.statusCode() != 412 || !recordHolds(key, head)) {
                        throw e;
                    }
                }
                uploadId = client.createMultipartUpload(r -> r.bucket(bucket).key(k)).uploadId();
            } else {
                LOG.info("resuming the interrupted upload of {}: {} parts are there, each checked before it is skipped",
                        key, had.size());
            }
            String id = uploadId;
            List<CompletedPart> parts = new ArrayList<>();
            long skipped = 0;
            long sent = 0;
            int partNo = 1;
            while (len > 0 || partNo == 1) {
                int n = partNo;
                int size = len;
                byte[] data = buf;
                String mine = HexFormat.of().formatHex(md5Bytes(data, size));
                software.amazon.awssdk.services.s3.model.Part there = had.get(n);
                String etag;
                if (there != null) {
                    String theirs = unquote(there.eTag());
                    if (there.size() == null || there.size() != size || !mine.equalsIgnoreCase(theirs)) {
                        keep = false;
                        throw new ResumeMismatchException(key, "part " + n + " holds " + there.size() + " bytes with ETag "
                                + theirs + ", this attempt's " + size + " bytes have MD5 " + mine);
                    }
                    etag = there.eTag();
                    skipped += size;
                } else {
                    try {
                        etag = client.uploadPart(r -> limited(r.bucket(bucket).key(k).uploadId(id).partNumber(n)
                                        .contentLength((long) size).contentMD5(md5(data, size)), size),
                                body(data, size)).eTag();
                    } catch (S3Exception e) {
                        if (noSuchUpload(e)) {
                            keep = false;
                            throw new ResumeMismatchException(key, "the upload vanished before part " + n + " was sent");
                        }
                        throw e;
                    }
                    sent += size;
                }
                parts.add(CompletedPart.builder().partNumber(n).eTag(etag).build());
                partNo++;
                if (len < partSize) {
                    break;
                }
                buf = new byte[partSize];
                len = content.readNBytes(buf, 0, partSize);
            }
            try {
                client.completeMultipartUpload(r -> r.bucket(bucket).key(k).uploadId(id).ifNoneMatch("*")
                        .multipartUpload(m -> m.parts(parts)));
            } catch (S3Exception e) {
                if (e.statusCode() == 412) {
                    keep = false; // the key is taken: this upload can never complete
                }
                if (noSuchUpload(e)) {
                    keep = false;
                    throw new ResumeMismatchException(key, "the upload vanished before it was completed");
                }
                throw e;
            }
            deleteRecord(key);
            uploadId = null; // complete: nothing to abort
            if (skipped > 0) {
                LOG.info("resumed upload of {} complete: {} bytes were there already (checked, not sent again), {} sent",
                        key, skipped, sent);
            }
            return new Resumed(skipped, sent);
        } catch (IOException e) {
            throw new StorageException("create " + key + ": reading the content failed: " + e.getMessage(), e);
        } catch (S3Exception e) {
            throw translate("create", key, e);
        } catch (SdkClientException e) {
            throw clientError("create " + key + " at " + describe() + ": ", e);
        } finally {
            if (uploadId != null && !keep) {
                abort(key, k, uploadId);
                deleteRecord(key);
            } else if (uploadId != null) {
                LOG.warn("the upload of {} stopped; its parts are kept for the next attempt to resume", key);
            }
        }
    }

    /** Whether the upload record of {@code key} holds exactly {@code head}. */
    private boolean recordHolds(String key, byte[] head) {
        try (InputStream in = get(ArchiveLayout.UPLOADS + key)) {
            return java.util.Arrays.equals(in.readAllBytes(), head);
        } catch (ObjectNotFoundException e) {
            return false;
        } catch (IOException e) {
            throw new StorageException("get " + ArchiveLayout.UPLOADS + key + ": " + e.getMessage(), e);
        }
    }

    private static boolean noSuchUpload(S3Exception e) {
        String code = e.awsErrorDetails() == null ? null : e.awsErrorDetails().errorCode();
        return "NoSuchUpload".equals(code) || (e.statusCode() == 404 && code == null);
    }

    /** The parts of the multipart upload {@code uploadId} of the full key {@code k}. */
    private List<software.amazon.awssdk.services.s3.model.Part> parts(String k, String uploadId) {
        List<software.amazon.awssdk.services.s3.model.Part> out = new ArrayList<>();
        for (software.amazon.awssdk.services.s3.model.ListPartsResponse page
                : client.listPartsPaginator(r -> r.bucket(bucket).key(k).uploadId(uploadId))) {
            out.addAll(page.parts());
        }
        return out;
    }

    /** The bytes in the parts of the newest pending multipart upload of {@code key}; 0 without one (a record alone). */
    @Override
    public long pendingBytes(String key) {
        String k = full(key);
        try {
            List<software.amazon.awssdk.services.s3.model.MultipartUpload> u = uploads(k);
            if (u.isEmpty()) {
                return 0;
            }
            long n = 0;
            for (software.amazon.awssdk.services.s3.model.Part p : parts(k, u.get(u.size() - 1).uploadId())) {
                n += p.size() == null ? 0 : p.size();
            }
            return n;
        } catch (S3Exception e) {
            if (noSuchUpload(e)) {
                return 0; // gone between the two requests
            }
            throw translate("list uploads", key, e);
        } catch (SdkClientException e) {
            throw clientError("list uploads " + key + " at " + describe() + ": ", e);
        }
    }

    /** Pending multipart uploads of exactly the full key {@code k}, oldest first. */
    private List<software.amazon.awssdk.services.s3.model.MultipartUpload> uploads(String k) {
        List<software.amazon.awssdk.services.s3.model.MultipartUpload> out = new ArrayList<>();
        for (software.amazon.awssdk.services.s3.model.ListMultipartUploadsResponse page
                : client.listMultipartUploadsPaginator(r -> r.bucket(bucket).prefix(k))) {
            page.uploads().stream().filter(u -> u.key().equals(k)).forEach(out::add);
        }
        out.sort(java.util.Comparator.comparing(software.amazon.awssdk.services.s3.model.MultipartUpload::initiated,
                java.util.Comparator.nullsFirst(java.util.Comparator.naturalOrder())));
        return out;
    }

    /**
     * Pending uploads found two ways: ListMultipartUploads by prefix (S3, S3Proxy; MinIO answers it
     * only for an exact key) and the upload records under {@link ArchiveLayout#UPLOADS} (everywhere),
     * each of which is looked up by its exact key. A record whose upload is gone (an attempt killed
     * between the two) is listed too, with the record's time, so that it gets discarded.
     */
    @Override
    public List<PendingUpload> pendingUploads(String keyPrefix) {
        java.util.Map<String, PendingUpload> found = new java.util.TreeMap<>();
        try {
            for (software.amazon.awssdk.services.s3.model.ListMultipartUploadsResponse page
                    : client.listMultipartUploadsPaginator(r -> r.bucket(bucket).prefix(prefix + keyPrefix))) {
                for (software.amazon.awssdk.services.s3.model.MultipartUpload u : page.uploads()) {
                    String key = u.key().substring(prefix.length());
                    PendingUpload p = new PendingUpload(key, u.initiated() == null ? java.time.Instant.EPOCH : u.initiated());
                    found.merge(key, p, (x, y) -> x.initiated().isAfter(y.initiated()) ? x : y);
                }
            }
            for (ObjectInfo r : list(ArchiveLayout.UPLOADS + keyPrefix, null)) {
                String key = r.key().substring(ArchiveLayout.UPLOADS.length());
                if (!found.containsKey(key)) {
                    List<software.amazon.awssdk.services.s3.model.MultipartUpload> u = uploads(full(key));
                    found.put(key, new PendingUpload(key, u.isEmpty() || u.get(u.size() - 1).initiated() == null
                            ? r.lastModified() : u.get(u.size() - 1).initiated()));
                }
            }
        } catch (S3Exception e) {
            throw translate("list uploads", keyPrefix, e);
        } catch (SdkClientException e) {
            throw clientError("list uploads " + keyPrefix + " at " + describe() + ": ", e);
        }
        List<PendingUpload> out = new ArrayList<>(found.values());
        out.sort(java.util.Comparator.comparing(PendingUpload::initiated));
        return out;
    }

    @Override
    public Optional<byte[]> pendingHead(String key) {
        try (InputStream in = get(ArchiveLayout.UPLOADS + key)) {
            return Optional.of(in.readNBytes(PENDING_HEAD_BYTES));
        } catch (ObjectNotFoundException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new StorageException("get " + ArchiveLayout.UPLOADS + key + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void abortPending(String key) {
        String k = full(key);
        try {
            for (software.amazon.awssdk.services.s3.model.MultipartUpload u : uploads(k)) {
                abort(key, k, u.uploadId());
            }
        } catch (S3Exception e) {
            throw translate("list uploads", key, e);
        } catch (SdkClientException e) {
            throw clientError("list uploads " + key + " at " + describe() + ": ", e);
        }
        deleteRecord(key);
    }

    private void deleteRecord(String key) {
        try {
            delete(ArchiveLayout.UPLOADS + key);
        } catch (StorageException e) {
            LOG.warn("could not delete the upload record of {} ({}); the next backup discards it", key, e.getMessage());
        }
    }

    private void abort(String key, String k, String uploadId) {
        try {
            client.abortMultipartUpload(r -> r.bucket(bucket).key(k).uploadId(uploadId));
        } catch (RuntimeException e) {
            LOG.warn("could not abort the multipart upload of {} ({}); the bucket's lifecycle rules must clean it up",
                    key, e.getMessage());
        }
    }

    private void multipart(String key, String k, byte[] first, InputStream content) throws IOException {
        String uploadId = client.createMultipartUpload(r -> r.bucket(bucket).key(k)).uploadId();
        boolean done = false;
        try {
            List<CompletedPart> parts = new ArrayList<>();
            byte[] buf = first;
            int len = first.length;
            int partNo = 1;
            while (len > 0) {
                int n = partNo;
                int size = len;
                byte[] data = buf;
                String etag = client.uploadPart(r -> limited(r.bucket(bucket).key(k).uploadId(uploadId).partNumber(n)
                                .contentLength((long) size).contentMD5(md5(data, size)), size),
                        body(data, size)).eTag();
                parts.add(CompletedPart.builder().partNumber(n).eTag(etag).build());
                partNo++;
                buf = new byte[partSize];
                len = content.readNBytes(buf, 0, partSize);
            }
            client.completeMultipartUpload(r -> r.bucket(bucket).key(k).uploadId(uploadId).ifNoneMatch("*")
                    .multipartUpload(m -> m.parts(parts)));
            done = true;
        } finally {
            if (!done) {
                try {
                    client.abortMultipartUpload(r -> r.bucket(bucket).key(k).uploadId(uploadId));
                } catch (RuntimeException e) {
                    LOG.warn("could not abort the multipart upload of {} ({}); the bucket's lifecycle rules must clean it up",
                            key, e.getMessage());
                }
            }
        }
    }

    /**
     * The first {@code len} bytes of {@code data} as a request body. Under an upload limit they are
     * not copied, and every byte is charged once, by the first stream the SDK reads it from (the SDK
     * reads a body twice over plain HTTP: to sign its payload, then to send it; and again on a retry).
     */
    private RequestBody body(byte[] data, int len) {
        if (!limit.limited()) {
            return RequestBody.fromBytes(len == data.length ? data : java.util.Arrays.copyOf(data, len));
        }
        UploadLimit.Replayable replay = limit.replayable();
        return RequestBody.fromContentProvider(() -> replay.wrap(new java.io.ByteArrayInputStream(data, 0, len)), len,
                "application/octet-stream");
    }

    /** A request carrying {@code bytes} under the upload limit gets the time the limit needs for them. */
    private <B extends software.amazon.awssdk.awscore.AwsRequest.Builder> B limited(B request, long bytes) {
        if (limit.limited()) {
            Duration t = limit.attemptTimeout(Duration.ofMinutes(2), bytes);
            request.overrideConfiguration(o -> o.apiCallAttemptTimeout(t));
        }
        return request;
    }

    private static String unquote(String etag) {
        return etag == null ? null : etag.replace("\"", "");
    }

    private static String md5(byte[] data, int len) {
        return Base64.getEncoder().encodeToString(md5Bytes(data, len));
    }

    private static byte[] md5Bytes(byte[] data, int len) {
        try {
            MessageDigest md = MessageDigest.getInstance("MD5");
            md.update(data, 0, len);
            return md.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public InputStream get(String key) {
        try {
            return client.getObject(r -> r.bucket(bucket).key(full(key)));
        } catch (NoSuchKeyException e) {
            throw new ObjectNotFoundException(key);
        } catch (S3Exception e) {
            throw translate("get", key, e);
        } catch (SdkClientException e) {
            throw clientError("get " + key + " from " + describe() + ": ", e);
        }
    }

    @Override
    public InputStream getRange(String key, long offset, long length) {
        if (length <= 0) {
            return InputStream.nullInputStream();
        }
        try {
            return client.getObject(r -> r.bucket(bucket).key(full(key)).range("bytes=" + offset + "-" + (offset + length - 1)));
        } catch (NoSuchKeyException e) {
            throw new ObjectNotFoundException(key);
        } catch (S3Exception e) {
            if (e.statusCode() == 416) {
                return InputStream.nullInputStream();
            }
            throw translate("get", key, e);
        } catch (SdkClientException e) {
            throw clientError("get " + key + " from " + describe() + ": ", e);
        }
    }

    @Override
    public Optional<ObjectInfo> head(String key) {
        try {
            HeadObjectResponse h = client.headObject(r -> r.bucket(bucket).key(full(key)));
            return Optional.of(new ObjectInfo(key, h.contentLength(), h.lastModified(), unquote(h.eTag())));
        } catch (NoSuchKeyException e) {
            return Optional.empty();
        } catch (S3Exception e) {
            if (e.statusCode() == 404) {
                return Optional.empty();
            }
            throw translate("head", key, e);
        } catch (SdkClientException e) {
            throw clientError("head " + key + " at " + describe() + ": ", e);
        }
    }

    @Override
    public List<ObjectInfo> list(String keyPrefix, String startAfter) {
        List<ObjectInfo> out = new ArrayList<>();
        try {
            ListObjectsV2Request.Builder req = ListObjectsV2Request.builder().bucket(bucket).prefix(prefix + keyPrefix);
            if (startAfter != null) {
                req.startAfter(prefix + startAfter);
            }
            for (ListObjectsV2Response page : client.listObjectsV2Paginator(req.build())) {
                for (S3Object o : page.contents()) {
                    out.add(new ObjectInfo(o.key().substring(prefix.length()), o.size(), o.lastModified()));
                }
            }
        } catch (S3Exception e) {
            throw translate("list", keyPrefix, e);
        } catch (SdkClientException e) {
            throw clientError("list " + keyPrefix + " at " + describe() + ": ", e);
        }
        return out;
    }

    @Override
    public List<ObjectInfo> listFirst(String keyPrefix, int limit) {
        if (limit < 1) {
            throw new IllegalArgumentException("limit must be positive: " + limit);
        }
        if (limit > 1000) {
            return ObjectStore.super.listFirst(keyPrefix, limit); // S3 answers at most 1000 keys a request
        }
        List<ObjectInfo> out = new ArrayList<>(limit);
        try {
            String token = null;
            do { // one request unless the server answers fewer keys than asked and says there are more
                ListObjectsV2Request.Builder req = ListObjectsV2Request.builder().bucket(bucket).prefix(prefix + keyPrefix)
                        .maxKeys(limit - out.size());
                if (token != null) {
                    req.continuationToken(token);
                }
                ListObjectsV2Response page = client.listObjectsV2(req.build());
                for (S3Object o : page.contents()) {
                    if (out.size() < limit) { // a server that ignores max-keys still gives no more than asked
                        out.add(new ObjectInfo(o.key().substring(prefix.length()), o.size(), o.lastModified()));
                    }
                }
                token = Boolean.TRUE.equals(page.isTruncated()) ? page.nextContinuationToken() : null;
            } while (token != null && out.size() < limit);
        } catch (S3Exception e) {
            throw translate("list", keyPrefix, e);
        } catch (SdkClientException e) {
            throw clientError("list " + keyPrefix + " at " + describe() + ": ", e);
        }
        return out;
    }

    @Override
    public void delete(String key) {
        try {
            client.deleteObject(r -> r.bucket(bucket).key(full(key)));
        } catch (S3Exception e) {
            throw translate("delete", key, e);
        } catch (SdkClientException e) {
            throw clientError("delete " + key + " at " + describe() + ": ", e);
        }
    }

    @Override
    public void verifyAccess() {
        try {
            client.headBucket(r -> r.bucket(bucket));
        } catch (S3Exception e) {
            throw translate("open", "", e);
        } catch (SdkClientException e) {
            throw clientError("cannot reach " + describe() + ": ", e);
        }
    }

    /** A client-side failure: missing credentials is configuration; anything else is runtime. */
    private static StorageException clientError(String what, SdkClientException e) {
        String m = String.valueOf(e.getMessage());
        if (m.startsWith("Unable to load credentials")) {
            return new ArchiveConfigException("no S3 credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                    + " (or an AWS profile or instance role)");
        }
        return new StorageException(what + m.lines().findFirst().orElse(""), e);
    }

    private StorageException translate(String op, String key, S3Exception e) {
        String code = e.awsErrorDetails() == null || e.awsErrorDetails().errorCode() == null ? ""
                : e.awsErrorDetails().errorCode();
        int status = e.statusCode();
        String where = describe();
        if (status == 412 || "PreconditionFailed".equals(code)) {
            return new ObjectExistsException(key);
        }
        if ("NoSuchBucket".equals(code) || (status == 404 && op.equals("open"))) {
            return new ArchiveConfigException("bucket '" + bucket + "' does not exist at " + where);
        }
        if (status == 403 || "InvalidAccessKeyId".equals(code) || "SignatureDoesNotMatch".equals(code)
                || "AccessDenied".equals(code)) {
            return new ArchiveConfigException("access to " + where + " denied (" + (code.isEmpty() ? "HTTP 403" : code)
                    + "): check the credentials");
        }
        return new StorageException(op + " " + key + " at " + where + " failed: HTTP " + status
                + (code.isEmpty() ? "" : " " + code), e);
    }

    @Override
    public String describe() {
        return uri.toString();
    }

    @Override
    public void close() {
        client.close();
    }
}
