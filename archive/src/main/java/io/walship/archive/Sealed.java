package io.walship.archive;

import java.io.IOException;
import java.io.InputStream;
import java.io.PushbackInputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.InvalidKeyException;
import java.security.Key;
import java.util.Arrays;

import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * The sealed object format (docs/FORMAT.md "Sealed objects"): a 53-byte header (magic
 * {@code WSEC}, version 1, the archive key's 8-byte id, the object's fresh 256-bit data key
 * wrapped with the archive key by AES key wrap, RFC 3394) and then the plaintext in 64 KiB chunks,
 * each AES-256-GCM under the data key with a 16-byte tag, nonce = 11-byte big-endian chunk number
 * followed by a last-chunk flag byte, associated data = header, role, a zero byte, object key.
 * Every object has at least one chunk (an empty object: a lone tag). All crypto is the JDK's JCE.
 * Stateless.
 */
final class Sealed {
    static final byte[] MAGIC = {'W', 'S', 'E', 'C'};
    static final byte VERSION = 1;
    static final int KEY_ID_BYTES = 8;
    static final int WRAPPED_BYTES = 40;
    static final int HEADER_BYTES = MAGIC.length + 1 + KEY_ID_BYTES + WRAPPED_BYTES; // 53
    static final int CHUNK = 64 * 1024;
    static final int TAG = 16;
    static final int SEALED_CHUNK = CHUNK + TAG;

    /** Where a new object's data key comes from: {@link java.security.SecureRandom}, or fixed in golden tests. */
    @FunctionalInterface
    interface DataKeys {
        byte[] next();
    }

    static DataKeys secureRandom() {
        java.security.SecureRandom random = new java.security.SecureRandom();
        return () -> {
            byte[] k = new byte[32];
            random.nextBytes(k);
            return k;
        };
    }

    private Sealed() {
    }

    /** What an object is, by its key: part of each chunk's associated data. */
    static String role(String key) {
        if (key.startsWith(ArchiveLayout.WAL)) {
            return "wal-segment";
        }
        if (key.startsWith(ArchiveLayout.BACKUPS)) {
            return key.endsWith("/" + ArchiveLayout.MANIFEST) ? "backup-manifest" : "backup-image";
        }
        if (key.startsWith(ArchiveLayout.TIMELINES)) {
            return "timeline-history";
        }
        if (key.startsWith(ArchiveLayout.PINS)) {
            return "backup-pin";
        }
        if (key.startsWith(ArchiveLayout.RETENTION)) {
            return "retention-watermark";
        }
        return "object";
    }

    static boolean isSealed(byte[] firstBytes) {
        return firstBytes.length >= MAGIC.length && Arrays.equals(firstBytes, 0, MAGIC.length, MAGIC, 0, MAGIC.length);
    }

    static long sealedSize(long plainSize) {
        long chunks = Math.max(1, (plainSize + CHUNK - 1) / CHUNK);
        return HEADER_BYTES + plainSize + chunks * TAG;
    }

    /** The plaintext size of a sealed object of {@code sealedSize} bytes; -1 if no sealed object has that size. */
    static long plainSize(long sealedSize) {
        long body = sealedSize - HEADER_BYTES;
        if (body < TAG) {
            return -1;
        }
        long chunks = Math.max(1, (body + SEALED_CHUNK - 1) / SEALED_CHUNK);
        long plain = body - chunks * TAG;
        return sealedSize(plain) == sealedSize ? plain : -1;
    }

    /** A sealed header's parts. */
    record Header(byte[] bytes, byte[] keyId, byte[] wrapped) {
    }

    static Header header(String key, byte[] bytes) {
        if (bytes.length < HEADER_BYTES || !isSealed(bytes)) {
            throw new CorruptObjectException(key, "not a sealed object (no WSEC header)");
        }
        if (bytes[MAGIC.length] != VERSION) {
            throw new CorruptObjectException(key, "sealed format version " + (bytes[MAGIC.length] & 0xff) + " is unknown");
        }
        byte[] h = Arrays.copyOf(bytes, HEADER_BYTES);
        return new Header(h, Arrays.copyOfRange(h, 5, 5 + KEY_ID_BYTES), Arrays.copyOfRange(h, 5 + KEY_ID_BYTES, HEADER_BYTES));
    }

    /**
     * Unwraps the header's data key with the archive key of its id. If no key held has that id,
     * but one of them unwraps the data key (AES key wrap has a 64-bit integrity check), the id
     * was altered: corruption, not a missing key.
     */
    static SecretKey dataKey(String key, Header h, EncryptionKeys keys) {
        java.util.Optional<EncryptionKeys.Key> k = keys.byId(h.keyId());
        if (k.isEmpty()) {
            for (EncryptionKeys.Key held : keys.all()) {
                if (unwrap(held, h) != null) {
                    throw new CorruptObjectException(key, "its key id " + java.util.HexFormat.of().formatHex(h.keyId())
                            + " was altered: the data key unwraps with held key " + held.idHex());
                }
            }
            throw new EncryptionKeyException("archive object "
                    + key + " is sealed with key id " + java.util.HexFormat.of().formatHex(h.keyId())
                    + ", which none of the given keys " + keys.ids() + " has: give that key's file with --encryption-key-file"
                    + " (or WALSHIP_ENCRYPTION_KEY_FILE)");
        }
        SecretKey dk = unwrap(k.get(), h);
        if (dk == null) {
            throw new CorruptObjectException(key, "its wrapped data key does not unwrap (the header was altered)");
        }
        return dk;
    }

    /** The data key unwrapped with {@code k}; null if the integrity check fails. */
    private static SecretKey unwrap(EncryptionKeys.Key k, Header h) {
        try {
            Cipher wrap = Cipher.getInstance("AESWrap");
            wrap.init(Cipher.UNWRAP_MODE, new SecretKeySpec(k.material(), "AES"));
            return (SecretKey) wrap.unwrap(h.wrapped(), "AES", Cipher.SECRET_KEY);
        } catch (InvalidKeyException e) {
            return null;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK lacks AESWrap: " + e, e);
        }
    }

    static byte[] newHeader(EncryptionKeys.Key archiveKey, byte[] dataKey) {
        try {
            Cipher wrap = Cipher.getInstance("AESWrap");
            wrap.init(Cipher.WRAP_MODE, new SecretKeySpec(archiveKey.material(), "AES"));
            byte[] wrapped = wrap.wrap(new SecretKeySpec(dataKey, "AES"));
            if (wrapped.length != WRAPPED_BYTES) {
                throw new IllegalStateException("AESWrap gave " + wrapped.length + " bytes");
            }
            byte[] h = new byte[HEADER_BYTES];
            System.arraycopy(MAGIC, 0, h, 0, MAGIC.length);
            h[MAGIC.length] = VERSION;
            System.arraycopy(archiveKey.id(), 0, h, 5, KEY_ID_BYTES);
            System.arraycopy(wrapped, 0, h, 5 + KEY_ID_BYTES, WRAPPED_BYTES);
            return h;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK lacks AESWrap: " + e, e);
        }
    }

    static byte[] aad(byte[] header, String key) {
        byte[] role = role(key).getBytes(StandardCharsets.UTF_8);
        byte[] k = key.getBytes(StandardCharsets.UTF_8);
        byte[] out = new byte[header.length + role.length + 1 + k.length];
        System.arraycopy(header, 0, out, 0, header.length);
        System.arraycopy(role, 0, out, header.length, role.length);
        System.arraycopy(k, 0, out, header.length + role.length + 1, k.length);
        return out;
    }

    static GCMParameterSpec nonce(long chunk, boolean last) {
        byte[] n = new byte[12];
        for (int i = 0; i < 8; i++) {
            n[10 - i] = (byte) (chunk >>> (8 * i)); // bytes 0..10: the chunk number, big-endian
        }
        n[11] = (byte) (last ? 1 : 0);
        return new GCMParameterSpec(TAG * 8, n);
    }

    static Cipher gcm() {
        try {
            return Cipher.getInstance("AES/GCM/NoPadding");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK lacks AES/GCM: " + e, e);
        }
    }

    /** A stream served a chunk at a time: {@link #fill} makes {@code out[pos..]} the next bytes (false at the end). */
    abstract static class ChunkStream extends InputStream {
        byte[] out = new byte[0];
        int pos;

        abstract boolean fill() throws IOException;

        @Override
        public int read() throws IOException {
            return fill() ? out[pos++] & 0xff : -1;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            if (!fill()) {
                return -1;
            }
            int n = Math.min(len, out.length - pos);
            System.arraycopy(out, pos, b, off, n);
            pos += n;
            return n;
        }
    }

    /** Seals {@code plain} as it is read: the header, then each chunk once the next byte shows whether it is the last. */
    static final class SealingStream extends ChunkStream {
        private final PushbackInputStream plain;
        private final Key dataKey;
        private final byte[] aad;
        private final Cipher cipher = gcm();
        private final byte[] in = new byte[CHUNK];
        private long chunk;
        private boolean done;

        SealingStream(String key, EncryptionKeys.Key archiveKey, byte[] dataKey, InputStream plain) {
            this.plain = new PushbackInputStream(plain, 1);
            this.dataKey = new SecretKeySpec(dataKey, "AES");
            this.out = newHeader(archiveKey, dataKey);
            this.aad = aad(out, key);
        }

        @Override
        boolean fill() throws IOException {
            while (pos >= out.length) {
                if (done) {
                    return false;
                }
                int n = plain.readNBytes(in, 0, CHUNK);
                int next = n == CHUNK ? plain.read() : -1;
                if (next >= 0) {
                    plain.unread(next);
                }
                boolean last = next < 0;
                try {
                    cipher.init(Cipher.ENCRYPT_MODE, dataKey, nonce(chunk, last));
                    cipher.updateAAD(aad);
                    out = cipher.doFinal(in, 0, n);
                } catch (GeneralSecurityException e) {
                    throw new IllegalStateException("AES/GCM sealing failed: " + e, e);
                }
                pos = 0;
                chunk++;
                done = last;
            }
            return true;
        }

    }

    /**
     * Opens sealed chunks from {@code firstChunk} on as they are read, each verified before any of
     * its bytes is released: {@code skip} plaintext bytes of the first are dropped and at most
     * {@code limit} are returned. {@code wanted} is how many sealed bytes were asked of the
     * stream: the chunks wanted and one byte more (or all of them). If no byte follows a chunk, the
     * stream reached the object's end, so that chunk must carry the last-chunk flag (else the
     * object was truncated, even at a chunk boundary).
     */
    static final class OpeningStream extends ChunkStream implements software.amazon.awssdk.http.Abortable {
        private final String key;
        private final InputStream raw;
        private final PushbackInputStream sealed;
        private final Key dataKey;
        private final byte[] aad;
        private final long wanted;
        private final Cipher cipher = gcm();
        private final byte[] in = new byte[SEALED_CHUNK];
        private long chunk;
        private long skip;
        private long limit;
        private long received;
        private boolean ended;

        OpeningStream(String key, Header h, SecretKey dataKey, InputStream sealed, long firstChunk, long skip,
                      long limit, long wanted) {
            this.key = key;
            this.raw = sealed;
            this.sealed = new PushbackInputStream(sealed, 1);
            this.dataKey = dataKey;
            this.aad = aad(h.bytes(), key);
            this.chunk = firstChunk;
            this.skip = skip;
            this.limit = limit;
            this.wanted = wanted;
        }

        @Override
        boolean fill() throws IOException {
            while (pos >= out.length) {
                if (ended || limit <= 0) {
                    return false;
                }
                PushbackInputStream s = sealed;
                int n = s.readNBytes(in, 0, SEALED_CHUNK);
                received += n;
                int next = n == SEALED_CHUNK ? s.read() : -1;
                if (next >= 0) {
                    s.unread(next);
                }
                boolean more = next >= 0;
                boolean atObjectEnd = !more && received < wanted;
                if (n == 0) {
                    if (atObjectEnd && (chunk == 0 || wanted == Long.MAX_VALUE)) {
                        throw new CorruptObjectException(key, "truncated: chunk " + chunk + " is missing");
                    }
                    ended = true; // a range that starts past the end
                    return false;
                }
                if (n < TAG) {
                    throw new CorruptObjectException(key, "truncated: chunk " + chunk + " has " + n + " bytes, less than its tag");
                }
                boolean last;
                if (more) {
                    last = false;
                    out = open(n, false);
                } else {
                    // nothing follows: the stream reached the object's end (callers ask one byte
                    // past the chunks they want), so this chunk must be the last
                    last = true;
                    out = open(n, true);
                }
                chunk++;
                ended = last || !more;
                pos = (int) Math.min(skip, out.length);
                skip -= pos;
                if (out.length - pos > limit) {
                    out = Arrays.copyOf(out, (int) (pos + limit));
                }
                limit -= out.length - pos;
            }
            return true;
        }

        private byte[] open(int n, boolean last) {
            byte[] o = tryOpen(n, last);
            if (o == null) {
                throw new CorruptObjectException(key, "chunk " + chunk + " fails authentication"
                        + (last ? " as the last chunk (truncated, reordered, altered, or moved from another key)"
                        : " (reordered, altered, or moved from another key)"));
            }
            return o;
        }

        private byte[] tryOpen(int n, boolean last) {
            try {
                cipher.init(Cipher.DECRYPT_MODE, dataKey, nonce(chunk, last));
                cipher.updateAAD(aad);
                return cipher.doFinal(in, 0, n);
            } catch (AEADBadTagException e) {
                return null;
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("AES/GCM opening failed: " + e, e);
            }
        }

        @Override
        public void abort() {
            ended = true; // close() then closes the aborted response
            if (raw instanceof software.amazon.awssdk.http.Abortable a) {
                a.abort();
            }
        }

        @Override
        public void close() throws IOException {
            if (!ended && wanted != Long.MAX_VALUE && received + 1 >= wanted) {
                // read to the end of the chunks wanted: what is left is at most the one byte asked past them
                // (see above). Reading it and the end lets the response close normally: on S3 an aborted one
                // loses its pooled connection, so every part of a ParallelGet but the last would cost a new one
                try {
                    ended = sealed.read() < 0 || sealed.read() < 0;
                } catch (IOException e) {
                    ended = false; // abandoned below
                }
            }
            if (ended) {
                raw.close();
            } else {
                ObjectStores.abandon(raw); // not read to its end: an S3 response is aborted, not drained
            }
        }
    }
}
