package io.walship.archive;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

import javax.crypto.SecretKey;

/**
 * Client-side encryption of the archive (docs/OPERATIONS.md "Encryption", docs/FORMAT.md "Sealed
 * objects"), wrapped around every store {@link ObjectStores} opens. With keys, each archive object
 * is sealed ({@link Sealed}) on create and opened, chunk by chunk, on get; {@link #head} and
 * {@link #list} give plaintext sizes, so callers see the archive as before. Without keys it passes
 * objects through but refuses sealed ones. Either way it checks the archive's marker
 * ({@value #MARKER}) once before its first write, creating it in an empty archive.
 *
 * <p>Not sealed: the coordination documents under {@link ArchiveLayout#MUTABLE_PREFIXES} (the
 * leader lease, followers' status: node ids, LSNs and URLs, replaced by ETag) and the marker.
 * Thread-safe.
 */
public final class EncryptedObjectStore extends ForwardingObjectStore {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(EncryptedObjectStore.class);
    public static final String MARKER = "encryption.json";
    static final String MODE_SEALED = "aes-256-gcm";
    static final String MODE_NONE = "none";

    private final EncryptionKeys keys;
    private final Sealed.DataKeys dataKeys;
    private volatile boolean markerChecked;

    public EncryptedObjectStore(ObjectStore inner, EncryptionKeys keys) {
        this(inner, keys, Sealed.secureRandom());
    }

    EncryptedObjectStore(ObjectStore inner, EncryptionKeys keys, Sealed.DataKeys dataKeys) {
        super(inner);
        this.keys = keys;
        this.dataKeys = dataKeys;
    }

    static byte[] marker(String mode) {
        return ("{\"formatVersion\":1,\"mode\":\"" + mode + "\"}").getBytes(StandardCharsets.US_ASCII);
    }

    /** Whether {@code key} is stored as given, never sealed. */
    static boolean plain(String key) {
        return ArchiveLayout.isMutable(key) || key.equals(MARKER) || key.startsWith(ArchiveLayout.UPLOADS);
    }

    private boolean sealing(String key) {
        return !keys.isEmpty() && !plain(key);
    }

    @Override
    public void create(String key, InputStream content) {
        if (!plain(key)) {
            checkMarker(); // coordination documents are the same in both modes
        }
        if (!sealing(key)) {
            inner.create(key, content);
            return;
        }
        inner.create(key, new Sealed.SealingStream(key, keys.current(), dataKeys.next(), content));
    }

    /**
     * Seals resumably: a pending upload of {@code key} is resumed with the data key its first bytes
     * (the sealed header, {@link ObjectStore#pendingHead}: the data key wrapped by the archive key)
     * hold, so the same plaintext seals to the same bytes, part for part, and the inner store can
     * check them. With no pending upload, or one whose header is unknown, damaged or of a key not
     * held, a fresh data key is drawn (and the pending upload aborted); so is one when no part is
     * pending ({@link ObjectStore#pendingBytes} is 0: an upload record whose upload a lifecycle rule
     * aborted, an upload killed before its first part), since nothing could be compared. A recovered
     * key is given only to that upload's resumption ({@code resumeOnly}): if it vanished meanwhile the
     * inner store refuses ({@link ResumeMismatchException}) instead of sending it all anew. AES-GCM with a reused key
     * and nonce is safe only for the same plaintext: the inner store sends nothing of a resumed
     * upload before every part already there matched this attempt's bytes, and on a mismatch aborts
     * it, so the next attempt draws a new key.
     */
    @Override
    public Resumed createResuming(String key, InputStream content) {
        return createResuming(key, content, false);
    }

    /**
     * As {@link #createResuming(String, InputStream)} (never the inherited forwarding one, which would send
     * the content unsealed); with {@code resumeOnly}, a sealed upload is only resumed, with the data key
     * recovered from it: with none to recover from, {@link ResumeMismatchException} and nothing sent.
     */
    @Override
    public Resumed createResuming(String key, InputStream content, boolean resumeOnly) {
        if (!plain(key)) {
            checkMarker();
        }
        if (!sealing(key)) {
            return inner.createResuming(key, content, resumeOnly);
        }
        EncryptionKeys.Key archiveKey = null;
        byte[] dataKey = null;
        // only parts that are there get compared: with none (no upload, an upload without parts, or a
        // record whose upload a lifecycle rule aborted) a recovered key would seal new bytes under old nonces
        if (inner.pendingBytes(key) > 0) {
            try {
                byte[] head = inner.pendingHead(key).orElseThrow(() -> new CorruptObjectException(key,
                        "the interrupted upload's sealed header is not known"));
                Sealed.Header h = Sealed.header(key, head);
                javax.crypto.SecretKey dk = Sealed.dataKey(key, h, keys);
                archiveKey = keys.byId(h.keyId()).orElseThrow();
                dataKey = dk.getEncoded();
            } catch (CorruptObjectException | EncryptionKeyException e) {
                LOG.warn("cannot resume the upload of {} ({}); starting it over", key, e.getMessage());
                inner.abortPending(key);
            }
        } else {
            inner.abortPending(key); // an empty upload or a lone record: its header names a key not to reuse
        }
        boolean recovered = dataKey != null;
        if (resumeOnly && !recovered) {
            throw new ResumeMismatchException(key, "no upload with parts is pending to resume");
        }
        if (dataKey == null) {
            archiveKey = keys.current();
            dataKey = dataKeys.next();
        }
        try {
            // a recovered key goes only to the upload it came from: one that vanished meanwhile is refused
            return inner.createResuming(key, new Sealed.SealingStream(key, archiveKey, dataKey, content), recovered);
        } finally {
            java.util.Arrays.fill(dataKey, (byte) 0);
        }
    }

    @Override
    public void delete(String key) {
        if (!plain(key)) {
            checkMarker();
        }
        inner.delete(key);
    }

    @Override
    public InputStream get(String key) {
        InputStream raw = inner.get(key);
        if (plain(key)) {
            return raw;
        }
        if (keys.isEmpty()) {
            return peekKeyless(key, raw);
        }
        try {
            byte[] head = raw.readNBytes(Sealed.HEADER_BYTES);
            if (!Sealed.isSealed(head)) {
                ObjectStores.abandon(raw);
                throw keyedMeetsPlain(key);
            }
            Sealed.Header h = Sealed.header(key, head);
            SecretKey dk = Sealed.dataKey(key, h, keys);
            return new Sealed.OpeningStream(key, h, dk, raw, 0, 0, Long.MAX_VALUE, Long.MAX_VALUE);
        } catch (IOException e) {
            ObjectStores.abandon(raw);
            throw new StorageException("get " + key + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            ObjectStores.abandon(raw);
            throw e;
        }
    }

    @Override
    public InputStream getRange(String key, long offset, long length) {
        if (keys.isEmpty() || plain(key)) {
            if (keys.isEmpty() && offset == 0 && length >= Sealed.MAGIC.length && !plain(key)) {
                return peekKeyless(key, inner.getRange(key, offset, length));
            }
            return inner.getRange(key, offset, length);
        }
        if (length <= 0) {
            return InputStream.nullInputStream();
        }
        long first = offset / Sealed.CHUNK;
        long last = (offset + length - 1) / Sealed.CHUNK;
        long chunksAt = Sealed.HEADER_BYTES + first * Sealed.SEALED_CHUNK;
        // the chunks wanted and one byte more: whether a byte follows the range's final chunk says
        // whether that chunk must carry the last-chunk flag (an object truncated at a chunk boundary
        // ends there without it, whatever its size says)
        long wanted = (last - first + 1) * Sealed.SEALED_CHUNK + 1;
        // the header and the chunks wanted: one request from the start, else two
        InputStream raw = first == 0 ? inner.getRange(key, 0, Sealed.HEADER_BYTES + wanted) : null;
        try {
            byte[] head = raw != null ? raw.readNBytes(Sealed.HEADER_BYTES)
                    : readAll(inner.getRange(key, 0, Sealed.HEADER_BYTES));
            if (!Sealed.isSealed(head)) {
                throw keyedMeetsPlain(key);
            }
            Sealed.Header h = Sealed.header(key, head);
            SecretKey dk = Sealed.dataKey(key, h, keys);
            if (raw == null) {
                raw = inner.getRange(key, chunksAt, wanted);
            }
            return new Sealed.OpeningStream(key, h, dk, raw, first, offset - first * Sealed.CHUNK, length, wanted);
        } catch (IOException e) {
            if (raw != null) {
                ObjectStores.abandon(raw);
            }
            throw new StorageException("get " + key + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            if (raw != null) {
                ObjectStores.abandon(raw);
            }
            throw e;
        }
    }

    private InputStream peekKeyless(String key, InputStream raw) {
        try {
            byte[] head = raw.readNBytes(Sealed.MAGIC.length);
            if (Sealed.isSealed(head)) {
                ObjectStores.abandon(raw);
                throw keylessMeetsSealed(key);
            }
            return new Peeked(head, raw);
        } catch (IOException e) {
            ObjectStores.abandon(raw);
            throw new StorageException("get " + key + ": " + e.getMessage(), e);
        }
    }

    /** The bytes peeked at, then the rest; abandoning it aborts the underlying response ({@link ObjectStores#abandon}). */
    private static final class Peeked extends SequenceInputStream implements software.amazon.awssdk.http.Abortable {
        private final InputStream raw;

        Peeked(byte[] head, InputStream raw) {
            super(new ByteArrayInputStream(head), raw);
            this.raw = raw;
        }

        @Override
        public void abort() {
            if (raw instanceof software.amazon.awssdk.http.Abortable a) {
                a.abort();
            }
        }
    }

    private static byte[] readAll(InputStream in) throws IOException {
        try (in) {
            return in.readAllBytes();
        }
    }

    @Override
    public Optional<ObjectInfo> head(String key) {
        return inner.head(key).map(this::plainInfo);
    }

    @Override
    public List<ObjectInfo> list(String prefix, String startAfter) {
        List<ObjectInfo> listed = inner.list(prefix, startAfter);
        List<ObjectInfo> out = new ArrayList<>(listed.size());
        for (ObjectInfo i : listed) {
            if (!i.key().equals(MARKER)) { // the store's own business, not an archive object
                out.add(plainInfo(i));
            }
        }
        return out;
    }

    @Override
    public List<ObjectInfo> listFirst(String prefix, int limit) {
        if (limit < 1) {
            throw new IllegalArgumentException("limit must be positive: " + limit);
        }
        boolean markerListed = MARKER.startsWith(prefix) && limit < Integer.MAX_VALUE;
        List<ObjectInfo> out = new ArrayList<>(Math.min(limit, 1024));
        for (ObjectInfo i : inner.listFirst(prefix, markerListed ? limit + 1 : limit)) { // the marker may be among them
            if (!i.key().equals(MARKER) && out.size() < limit) {
                out.add(plainInfo(i));
            }
        }
        return out;
    }

    /**
     * A sealed object as its callers see it: its plaintext size (0 for a size no sealed object has:
     * reading it names the corruption) and no ETag (the ETag of sealed bytes says nothing of the
     * plaintext, so {@link SameContent} compares decrypted content).
     */
    private ObjectInfo plainInfo(ObjectInfo i) {
        if (!sealing(i.key())) {
            return i;
        }
        return new ObjectInfo(i.key(), Math.max(0, Sealed.plainSize(i.size())), i.lastModified(), null);
    }

    /** The marker's mode, if the archive has one. */
    private Optional<String> markerMode() {
        byte[] content;
        try (InputStream in = inner.get(MARKER)) {
            content = in.readAllBytes();
        } catch (ObjectNotFoundException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new StorageException("get " + MARKER + ": " + e.getMessage(), e);
        }
        for (String mode : List.of(MODE_SEALED, MODE_NONE)) {
            if (Arrays.equals(content, marker(mode))) {
                return Optional.of(mode);
            }
        }
        throw new EncryptionKeyException("the archive's " + MARKER + " names an encryption mode this walship does not know");
    }

    /**
     * Before the first write: the archive's mode must be this store's, and an unmarked archive is
     * marked (an empty one as this writer's mode; a non-empty one, plaintext from before markers,
     * only as plaintext).
     */
    void checkMarker() {
        if (markerChecked) {
            return;
        }
        synchronized (this) {
            if (markerChecked) {
                return;
            }
            String mine = keys.isEmpty() ? MODE_NONE : MODE_SEALED;
            Optional<String> mode = markerMode();
            if (mode.isEmpty()) {
                if (!keys.isEmpty() && !emptyArchive()) {
                    throw new EncryptionKeyException("the archive " + inner.describe() + " holds unencrypted objects"
                            + " and no " + MARKER + ": encryption starts with an empty archive (drop"
                            + " --encryption-key-file to keep shipping to it unencrypted)");
                }
                try {
                    inner.createOrSame(MARKER, marker(mine));
                } catch (ObjectExistsException e) {
                    mode = markerMode(); // another first writer won the race: its mode is the archive's
                }
            }
            if (mode.isPresent() && !mode.get().equals(mine)) {
                throw mismatch(mode.get());
            }
            markerChecked = true;
        }
    }

    private EncryptionKeyException mismatch(String archiveMode) {
        return archiveMode.equals(MODE_SEALED)
                ? new EncryptionKeyException("the archive " + inner.describe() + " is encrypted: give"
                + " --encryption-key-file (or WALSHIP_ENCRYPTION_KEY_FILE)")
                : new EncryptionKeyException("the archive " + inner.describe() + " is not encrypted (" + MARKER
                + " says so): encryption starts with an empty archive; drop --encryption-key-file for this one");
    }

    private boolean emptyArchive() {
        for (ObjectInfo i : inner.list("", null)) {
            if (!plain(i.key())) {
                return false;
            }
        }
        return true;
    }

    private EncryptionKeyException keylessMeetsSealed(String key) {
        return new EncryptionKeyException("archive object " + key + " is encrypted: give --encryption-key-file"
                + " (or WALSHIP_ENCRYPTION_KEY_FILE)");
    }

    /**
     * A keyed reader found an object that is not sealed: in an encrypted archive that is a
     * substitution (exit 3); in a plaintext one the key is what is wrong (exit 2).
     */
    private StorageException keyedMeetsPlain(String key) {
        Optional<String> mode = markerMode();
        if (mode.isPresent() && mode.get().equals(MODE_SEALED)) {
            return new CorruptObjectException(key, "not sealed, yet the archive is encrypted (a substituted object)");
        }
        return new EncryptionKeyException("archive object " + key + " is not encrypted and the archive is not marked"
                + " encrypted: drop --encryption-key-file for this archive");
    }

    /**
     * Also checks, if the archive is marked, that its mode is this store's (read-only: an unmarked
     * archive is marked by the first write), so that a long-running command without the key, or with
     * a key for a plaintext archive, stops at its start (exit 2) instead of failing at every run.
     */
    @Override
    public void verifyAccess() {
        inner.verifyAccess();
        checkMode();
    }

    @Override
    public void verifyReadAccess() {
        inner.verifyReadAccess();
        checkMode();
    }

    private void checkMode() {
        Optional<String> mode = markerMode();
        if (mode.isPresent() && !mode.get().equals(keys.isEmpty() ? MODE_NONE : MODE_SEALED)) {
            throw mismatch(mode.get());
        }
    }

    @Override
    public String describe() {
        return inner.describe() + (keys.isEmpty() ? "" : " (encrypted)");
    }
}
