package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Client-side encryption (docs/FORMAT.md "Sealed objects", docs/OPERATIONS.md "Encryption") on a
 * local directory and on S3 (S3Proxy, or MinIO when WALSHIP_TEST_S3_ENDPOINT is set): round trips at
 * chunk boundaries, ranges, every tampering (exit 3 naming the object), wrong and rotated keys, the
 * archive marker and its keyed/keyless race.
 */
class EncryptedObjectStoreTest {
    static final long SEED = Long.getLong("walship.seed", System.nanoTime());
    static final EncryptionKeys K1 = key(1);
    static final EncryptionKeys K2 = key(2);
    static final String SEG = "wal/00000001/0000000000000001-0000000000000009.seg";
    static final String SEG2 = "wal/00000001/000000000000000A-0000000000000010.seg";
    static TestS3Server s3;
    static int archives;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() throws Exception {
        System.out.println("EncryptedObjectStoreTest seed " + SEED + " (-Dwalship.seed=" + SEED + " repeats it)");
        s3 = TestS3Server.start();
    }

    @AfterAll
    static void stop() throws Exception {
        s3.close();
    }

    static EncryptionKeys key(int b) {
        byte[] k = new byte[32];
        Arrays.fill(k, (byte) (0x10 * b + 1));
        return EncryptionKeys.of(List.of(k));
    }

    /** A raw store: local or S3, fresh. */
    ObjectStore raw(String where) {
        if (where.equals("local")) {
            return new LocalObjectStore(tmp.resolve("a" + archives++));
        }
        return new S3ObjectStore(s3.newArchive("enc", "t" + SEED + "-" + archives++));
    }

    static byte[] bytes(int n, long salt) {
        byte[] b = new byte[n];
        new Random(SEED ^ salt).nextBytes(b);
        return b;
    }

    static byte[] read(InputStream in) {
        try (in) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void replace(ObjectStore raw, String key, byte[] content) {
        raw.delete(key);
        raw.create(key, new ByteArrayInputStream(content));
    }

    @ParameterizedTest
    @ValueSource(strings = {"local", "s3"})
    void roundTripsAtChunkBoundariesWithPlaintextSizesAndRanges(String where) {
        ObjectStore raw = raw(where);
        ObjectStore enc = new EncryptedObjectStore(raw, K1);
        int[] sizes = {0, 1, 65535, 65536, 65537, 3 * 1024 * 1024 + 7};
        for (int n : sizes) {
            String key = "backups/00000001-0000000000000001/image.part" + n;
            byte[] plain = bytes(n, n);
            enc.create(key, new ByteArrayInputStream(plain));
            assertArrayEquals(plain, read(enc.get(key)), "size " + n);
            assertEquals(n, enc.head(key).orElseThrow().size());
            assertEquals(Sealed.sealedSize(n), raw.head(key).orElseThrow().size());
            assertEquals(n, Sealed.plainSize(Sealed.sealedSize(n)));
            assertFalse(Arrays.equals(plain, 0, Math.min(n, 64), read(raw.get(key)), 53, 53 + Math.min(n, 64)) && n > 16,
                    "the stored bytes are not the plaintext");
        }
        for (ObjectInfo i : enc.list("backups/", null)) {
            assertEquals(Long.parseLong(i.key().substring(i.key().indexOf("part") + 4)), i.size(), i.key());
        }
        int n = sizes[sizes.length - 1];
        String key = "backups/00000001-0000000000000001/image.part" + n;
        byte[] plain = bytes(n, n);
        long[][] ranges = {{0, 10}, {65530, 20}, {65535, 1}, {65536, 1}, {2 * 65536 - 1, 65536 + 2}, {n - 5, 100},
                {n - 65536 * 3 - 3, 65536 * 3 + 3}, {5 * 65536, 0}};
        for (long[] r : ranges) {
            long end = Math.min(n, r[0] + r[1]);
            assertArrayEquals(Arrays.copyOfRange(plain, (int) r[0], (int) end), read(enc.getRange(key, r[0], r[1])),
                    "range " + r[0] + "+" + r[1]);
        }
        String small = "backups/00000001-0000000000000001/image.part65537";
        assertArrayEquals(Arrays.copyOfRange(bytes(65537, 65537), 65536, 65537), read(enc.getRange(small, 65536, 1000)));
        assertEquals(0, read(enc.getRange(small, 3 * 65536, 10)).length, "a range past the end is empty");
        enc.close();
    }

    @ParameterizedTest
    @ValueSource(strings = {"local", "s3"})
    void everyTamperingIsCorruptionNamingTheObject(String where) {
        ObjectStore raw = raw(where);
        ObjectStore enc = new EncryptedObjectStore(raw, K1);
        byte[] plain = bytes(3 * 65536 + 100, 7); // four chunks
        enc.create(SEG, new ByteArrayInputStream(plain));
        enc.create(SEG2, new ByteArrayInputStream(bytes(100, 8)));
        byte[] sealed = read(raw.get(SEG));
        int c0 = Sealed.HEADER_BYTES;
        int[] flips = {4, 20, 52, c0, c0 + 1000, c0 + Sealed.SEALED_CHUNK - 1, c0 + 3 * Sealed.SEALED_CHUNK + 5, sealed.length - 1};
        for (int at : flips) {
            byte[] t = sealed.clone();
            t[at] ^= 0x01;
            replace(raw, SEG, t);
            assertCorrupt(enc, SEG, "flip at " + at);
        }
        // truncated at a chunk boundary (the last chunk gone) and inside a chunk
        for (int len : new int[] {c0 + 3 * Sealed.SEALED_CHUNK, c0 + 2 * Sealed.SEALED_CHUNK + 100, c0, c0 + 5}) {
            replace(raw, SEG, Arrays.copyOf(sealed, len));
            assertCorrupt(enc, SEG, "truncated to " + len);
        }
        // chunks 0 and 1 swapped
        byte[] swapped = sealed.clone();
        System.arraycopy(sealed, c0 + Sealed.SEALED_CHUNK, swapped, c0, Sealed.SEALED_CHUNK);
        System.arraycopy(sealed, c0, swapped, c0 + Sealed.SEALED_CHUNK, Sealed.SEALED_CHUNK);
        replace(raw, SEG, swapped);
        assertCorrupt(enc, SEG, "reordered");
        // bytes appended after the last chunk
        byte[] longer = Arrays.copyOf(sealed, sealed.length + 40);
        replace(raw, SEG, longer);
        assertCorrupt(enc, SEG, "appended");
        // another object's sealed bytes under this key
        replace(raw, SEG, read(raw.get(SEG2)));
        assertCorrupt(enc, SEG, "swapped");
        // a plaintext object where the archive is encrypted
        replace(raw, SEG, plain);
        assertCorrupt(enc, SEG, "substituted plaintext");
        enc.close();
    }

    private static void assertCorrupt(ObjectStore enc, String key, String what) {
        CorruptObjectException e = assertThrows(CorruptObjectException.class, () -> read(enc.get(key)), what);
        assertTrue(e.getMessage().contains(key), e.getMessage());
        long size = enc.head(key).orElseThrow().size();
        if (size > 0) {
            // a range read that covers the damage fails too
            assertThrows(CorruptObjectException.class, () -> read(enc.getRange(key, 0, Math.max(size, 1) + 65536)), what);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"local", "s3"})
    void aWrongOrMissingKeyIsAKeyErrorThatNamesTheKeyIdNotTheKey(String where) {
        ObjectStore raw = raw(where);
        new EncryptedObjectStore(raw, K1).create(SEG, new ByteArrayInputStream(bytes(10, 1)));
        EncryptionKeyException wrong = assertThrows(EncryptionKeyException.class,
                () -> read(new EncryptedObjectStore(raw, K2).get(SEG)));
        String k1Id = K1.ids().get(0);
        assertTrue(wrong.getMessage().contains(k1Id) && wrong.getMessage().contains(SEG), wrong.getMessage());
        String material = HexFormat.of().formatHex(K1.current().material());
        assertFalse(wrong.getMessage().contains(material));
        assertThrows(EncryptionKeyException.class, () -> new EncryptedObjectStore(raw, K2).getRange(SEG, 0, 5));
        EncryptionKeyException keyless = assertThrows(EncryptionKeyException.class,
                () -> read(new EncryptedObjectStore(raw, EncryptionKeys.none()).get(SEG)));
        assertTrue(keyless.getMessage().contains("--encryption-key-file"), keyless.getMessage());
        assertThrows(EncryptionKeyException.class, () -> new EncryptedObjectStore(raw, EncryptionKeys.none()).getRange(SEG, 0, 5));
        assertThrows(EncryptionKeyException.class, () -> new EncryptedObjectStore(raw, EncryptionKeys.none())
                .create(SEG2, new ByteArrayInputStream(new byte[1])), "a keyless writer of an encrypted archive");
        assertTrue(raw.head(SEG2).isEmpty());
    }

    @ParameterizedTest
    @ValueSource(strings = {"local", "s3"})
    void rotationWritesWithTheNewKeyAndReadsBoth(String where) {
        ObjectStore raw = raw(where);
        byte[] old = bytes(70000, 1);
        new EncryptedObjectStore(raw, K1).create(SEG, new ByteArrayInputStream(old));
        EncryptionKeys rotated = EncryptionKeys.of(List.of(K2.current().material(), K1.current().material()));
        ObjectStore both = new EncryptedObjectStore(raw, rotated);
        assertArrayEquals(old, read(both.get(SEG)));
        byte[] fresh = bytes(5, 2);
        both.create(SEG2, new ByteArrayInputStream(fresh));
        byte[] header = read(raw.getRange(SEG2, 0, Sealed.HEADER_BYTES));
        assertEquals(K2.ids().get(0), HexFormat.of().formatHex(header, 5, 13), "new objects carry the new key's id");
        assertArrayEquals(fresh, read(new EncryptedObjectStore(raw, K2).get(SEG2)));
        assertThrows(EncryptionKeyException.class, () -> read(new EncryptedObjectStore(raw, K2).get(SEG)),
                "the old object needs the old key");
    }

    @ParameterizedTest
    @ValueSource(strings = {"local", "s3"})
    void createOrSameComparesDecryptedContent(String where) {
        ObjectStore enc = new EncryptedObjectStore(raw(where), K1);
        byte[] c = bytes(1000, 3);
        assertTrue(enc.createOrSame(SEG, c));
        assertFalse(enc.createOrSame(SEG, c), "the same plaintext is this caller's own object, though sealed anew");
        assertFalse(enc.createOrSame(SEG, new ByteArrayInputStream(c)));
        assertThrows(ObjectExistsException.class, () -> enc.createOrSame(SEG, bytes(1000, 4)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"local", "s3"})
    void theMarkerFixesTheArchivesMode(String where) {
        ObjectStore raw = raw(where);
        ObjectStore keyless = new EncryptedObjectStore(raw, EncryptionKeys.none());
        keyless.create(SEG, new ByteArrayInputStream(new byte[] {1, 2, 3}));
        assertArrayEquals(EncryptedObjectStore.marker("none"), read(raw.get(EncryptedObjectStore.MARKER)));
        assertThrows(EncryptionKeyException.class, () -> new EncryptedObjectStore(raw, K1)
                .create(SEG2, new ByteArrayInputStream(new byte[1])), "a keyed writer of a plaintext archive");
        assertThrows(EncryptionKeyException.class, () -> read(new EncryptedObjectStore(raw, K1).get(SEG)),
                "a keyed reader of a plaintext archive: the key is what is wrong");

        ObjectStore legacy = raw(where);
        legacy.create(SEG, new ByteArrayInputStream(new byte[] {1}));
        EncryptionKeyException e = assertThrows(EncryptionKeyException.class, () -> new EncryptedObjectStore(legacy, K1)
                .create(SEG2, new ByteArrayInputStream(new byte[1])));
        assertTrue(e.getMessage().contains("empty archive"), e.getMessage());
        assertTrue(legacy.head(EncryptedObjectStore.MARKER).isEmpty());

        ObjectStore fresh = raw(where);
        fresh.createReturningEtag(ArchiveLayout.LEASE, "{}".getBytes(StandardCharsets.UTF_8)); // coordination only
        new EncryptedObjectStore(fresh, K1).create(SEG, new ByteArrayInputStream(new byte[1]));
        assertArrayEquals(EncryptedObjectStore.marker("aes-256-gcm"), read(fresh.get(EncryptedObjectStore.MARKER)));
        assertArrayEquals("{}".getBytes(StandardCharsets.UTF_8), fresh.getVersioned(ArchiveLayout.LEASE).orElseThrow().content(),
                "the lease stays plaintext");
        new EncryptedObjectStore(fresh, EncryptionKeys.none()).delete(ArchiveLayout.LEASE); // coordination: either mode
        assertTrue(fresh.getVersioned(ArchiveLayout.LEASE).isEmpty());
    }

    @ParameterizedTest
    @ValueSource(strings = {"local", "s3"})
    void aKeyedAndAKeylessFirstWriterRaceAndTheLoserStops(String where) {
        ObjectStore raw = raw(where);
        ObjectStore keyed = new EncryptedObjectStore(raw, K1);
        AtomicBoolean first = new AtomicBoolean(true);
        // the keyless writer reads "no marker", and the keyed one marks the archive before it creates its own
        ObjectStore stale = new ForwardingObjectStore(raw) {
            @Override
            public InputStream get(String key) {
                if (key.equals(EncryptedObjectStore.MARKER) && first.getAndSet(false)) {
                    keyed.create(SEG, new ByteArrayInputStream(new byte[] {9}));
                    throw new ObjectNotFoundException(key);
                }
                return super.get(key);
            }

            @Override
            public List<ObjectInfo> list(String prefix, String startAfter) {
                return List.of();
            }
        };
        ObjectStore keyless = new EncryptedObjectStore(stale, EncryptionKeys.none());
        assertThrows(EncryptionKeyException.class, () -> keyless.create(SEG2, new ByteArrayInputStream(new byte[1])));
        assertTrue(raw.head(SEG2).isEmpty(), "the loser wrote nothing");
        assertArrayEquals(EncryptedObjectStore.marker("aes-256-gcm"), read(raw.get(EncryptedObjectStore.MARKER)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"local"})
    void keyFilesMustBeExactly32BytesAndAreNeverShown(String where) throws Exception {
        Path good = tmp.resolve("k1");
        Files.write(good, K1.current().material());
        Path bad = tmp.resolve("k-short");
        Files.write(bad, "secret-text".getBytes(StandardCharsets.UTF_8));
        assertEquals(K1.ids(), EncryptionKeys.resolve(List.of(), good.toString()).ids());
        assertEquals(K1.ids(), EncryptionKeys.resolve(List.of(good), tmp.resolve("missing").toString()).ids());
        EncryptionKeyException e = assertThrows(EncryptionKeyException.class, () -> EncryptionKeys.load(List.of(bad)));
        assertTrue(e.getMessage().contains(bad.toString()) && !e.getMessage().contains("secret-text"), e.getMessage());
        assertThrows(EncryptionKeyException.class, () -> EncryptionKeys.load(List.of(tmp.resolve("missing"))));
        assertTrue(EncryptionKeys.resolve(List.of(), null).isEmpty());
        assertFalse(K1.toString().contains(HexFormat.of().formatHex(K1.current().material())));
    }
}
