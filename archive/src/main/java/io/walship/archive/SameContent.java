package io.walship.archive;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place that decides whether an object that a conditional create found in its way is
 * the caller's own (a lost answer, retried) or someone else's: segments, timeline histories and
 * backup manifests and images all go through {@link ObjectStore#createOrSame}.
 *
 * <p>The content is hashed (SHA-256 and MD5) while it streams into the create, so nothing is held
 * in memory. On {@link ObjectExistsException}: a different size means different content; an ETag
 * that is a plain MD5 (a single-part S3 upload) equal to the content's MD5 means the same content;
 * otherwise (multipart or encrypted ETags, local files) the existing object is downloaded and its
 * SHA-256 compared. Stateless.
 */
final class SameContent {
    private static final Logger LOG = LoggerFactory.getLogger(SameContent.class);

    private SameContent() {
    }

    static boolean createOrSame(ObjectStore store, String key, InputStream content) {
        return createOrSame(store, key, content, store::create);
    }

    /** As above, the create made by {@code create} (a resumable one). */
    static boolean createOrSame(ObjectStore store, String key, InputStream content,
                                java.util.function.BiConsumer<String, InputStream> create) {
        MessageDigest sha = digest("SHA-256");
        MessageDigest md5 = digest("MD5");
        CountingInputStream in = new CountingInputStream(new DigestInputStream(new DigestInputStream(content, md5), sha), false);
        try {
            create.accept(key, in);
            return true;
        } catch (ObjectExistsException e) {
            try {
                in.transferTo(OutputStream.nullOutputStream()); // what the create did not read
            } catch (IOException io) {
                throw new StorageException("create " + key + ": reading the content failed: " + io.getMessage(), io);
            }
            if (!same(store, key, in.count(), sha.digest(), md5.digest())) {
                throw e;
            }
            LOG.info("{} already holds exactly these bytes: an earlier attempt created it and its answer was lost", key);
            return false;
        }
    }

    /** As above for bytes in memory: hashed only on {@link ObjectExistsException}. */
    static boolean createOrSame(ObjectStore store, String key, byte[] content) {
        try {
            store.create(key, new java.io.ByteArrayInputStream(content));
            return true;
        } catch (ObjectExistsException e) {
            if (!same(store, key, content.length, digest("SHA-256").digest(content), digest("MD5").digest(content))) {
                throw e;
            }
            LOG.info("{} already holds exactly these bytes: an earlier attempt created it and its answer was lost", key);
            return false;
        }
    }

    /**
     * The ETag of {@code key} if it holds exactly {@code content} (a small versioned document: our
     * own write whose answer was lost), else empty.
     */
    static Optional<String> ownVersion(ObjectStore store, String key, byte[] content) {
        Optional<ObjectStore.Versioned> now = store.getVersioned(key);
        if (now.isPresent() && java.util.Arrays.equals(now.get().content(), content)) {
            LOG.info("{} already holds exactly these bytes: an earlier attempt wrote it and its answer was lost", key);
            return Optional.of(now.get().etag());
        }
        return Optional.empty();
    }

    /** Whether the object {@code key} has {@code size} bytes with these digests. */
    static boolean same(ObjectStore store, String key, long size, byte[] sha256, byte[] md5) {
        Optional<ObjectInfo> info = store.head(key);
        if (info.isEmpty()) {
            return false; // deleted since: not ours to claim
        }
        if (info.get().size() != size) {
            return false;
        }
        String etag = info.get().etag();
        if (etag != null && etag.matches("[0-9a-fA-F]{32}") && etag.equalsIgnoreCase(HexFormat.of().formatHex(md5))) {
            return true;
        }
        MessageDigest there = digest("SHA-256");
        try (InputStream in = new DigestInputStream(store.get(key), there)) {
            in.transferTo(OutputStream.nullOutputStream());
        } catch (IOException e) {
            throw new StorageException("read " + key + " to compare it with the content being created: "
                    + e.getMessage(), e);
        }
        return MessageDigest.isEqual(there.digest(), sha256);
    }

    private static MessageDigest digest(String algorithm) {
        try {
            return MessageDigest.getInstance(algorithm);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
