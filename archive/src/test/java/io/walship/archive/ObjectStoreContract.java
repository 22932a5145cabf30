package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The behaviour every {@link ObjectStore} must have; each implementation runs this same suite
 * (Litestream's conformance-suite idea).
 */
public abstract class ObjectStoreContract {
    protected ObjectStore store;

    /** A new, empty store. */
    protected abstract ObjectStore newStore() throws Exception;

    @BeforeEach
    void open() throws Exception {
        store = newStore();
        store.verifyAccess();
    }

    @AfterEach
    void closeStore() {
        store.close();
    }

    static InputStream in(String s) {
        return new ByteArrayInputStream(s.getBytes(StandardCharsets.UTF_8));
    }

    static String read(InputStream in) throws IOException {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void createThenGetAndHead() throws Exception {
        store.create("wal/0001/a.seg", in("hello"));
        assertEquals("hello", read(store.get("wal/0001/a.seg")));
        assertEquals(5, store.head("wal/0001/a.seg").orElseThrow().size());
        assertTrue(store.head("wal/0001/missing").isEmpty());
        assertThrows(ObjectNotFoundException.class, () -> read(store.get("wal/0001/missing")));
    }

    @Test
    void anExistingObjectIsNeverOverwritten() throws Exception {
        store.create("k", in("first"));
        assertThrows(ObjectExistsException.class, () -> store.create("k", in("second")));
        assertEquals("first", read(store.get("k")));
    }

    @Test
    void largeObjectsGoUpInPartsAndComeBackWhole() throws Exception {
        byte[] big = new byte[(S3ObjectStore.DEFAULT_PART_SIZE * 2) + 12345];
        new Random(1).nextBytes(big);
        store.create("big", new ByteArrayInputStream(big));
        assertEquals(big.length, store.head("big").orElseThrow().size());
        try (InputStream in = store.get("big")) {
            assertArrayEquals(big, in.readAllBytes());
        }
        try (InputStream in = store.getRange("big", S3ObjectStore.DEFAULT_PART_SIZE - 10, 20)) {
            assertArrayEquals(java.util.Arrays.copyOfRange(big, S3ObjectStore.DEFAULT_PART_SIZE - 10,
                    S3ObjectStore.DEFAULT_PART_SIZE + 10), in.readAllBytes());
        }
        assertThrows(ObjectExistsException.class, () -> store.create("big", new ByteArrayInputStream(big)));
        // a multipart ETag is not an MD5: the object is downloaded and compared
        assertFalse(store.createOrSame("big", new ByteArrayInputStream(big)));
        byte[] other = big.clone();
        other[other.length - 1] ^= 1;
        assertThrows(ObjectExistsException.class, () -> store.createOrSame("big", new ByteArrayInputStream(other)));
    }

    @Test
    void createOrSameTakesItsOwnObjectAndRefusesAnother() throws Exception {
        assertTrue(store.createOrSame("h/a", in("content one")));
        assertFalse(store.createOrSame("h/a", in("content one")), "the same bytes: our own object");
        assertThrows(ObjectExistsException.class, () -> store.createOrSame("h/a", in("content two")), "same size");
        assertThrows(ObjectExistsException.class, () -> store.createOrSame("h/a", in("longer content")));
        assertEquals("content one", read(store.get("h/a")));
    }

    /** A create whose answer was lost after it stored the object: the retry's 412 is not someone else. */
    @Test
    void aLostAnswerIsNotSomeoneElsesObject() throws Exception {
        LostAnswerStore lossy = new LostAnswerStore(store, k -> true);
        assertThrows(ObjectExistsException.class, () -> lossy.create("l/plain", in("x")), "plain create: 412");
        assertFalse(lossy.createOrSame("l/seg", in("segment bytes")));
        assertEquals("segment bytes", read(store.get("l/seg")));
        assertEquals(java.util.Set.of("l/plain", "l/seg"), lossy.lost());
    }

    @Test
    void rangedReads() throws Exception {
        store.create("r", in("0123456789"));
        assertEquals("345", read(store.getRange("r", 3, 3)));
        assertEquals("89", read(store.getRange("r", 8, 10)));
    }

    @Test
    void listingIsInKeyOrderWithPrefixAndStartAfter() throws Exception {
        for (String k : List.of("wal/b", "wal/a", "wal/c/x", "backups/1", "wal/aa")) {
            store.create(k, in(k));
        }
        assertEquals(List.of("wal/a", "wal/aa", "wal/b", "wal/c/x"), keys(store.list("wal/", null)));
        assertEquals(List.of("wal/b", "wal/c/x"), keys(store.list("wal/", "wal/aa")));
        assertEquals(List.of("backups/1", "wal/a", "wal/aa", "wal/b", "wal/c/x"), keys(store.list("", null)));
        assertEquals(List.of(), keys(store.list("none/", null)));
        assertEquals(6, store.list("wal/c", null).get(0).size() - 1);
    }

    @Test
    void deleteIsIdempotent() throws Exception {
        store.create("d", in("x"));
        store.delete("d");
        store.delete("d");
        assertTrue(store.head("d").isEmpty());
        store.create("d", in("again"));
        assertEquals("again", read(store.get("d")));
    }

    @Test
    void badKeysAreRefused() {
        for (String k : new String[] {"", "/abs", "a//b", "../x", "a/./b", "sp ace", ".hidden"}) {
            assertThrows(IllegalArgumentException.class, () -> store.create(k, in("x")), k);
        }
    }

    private static List<String> keys(List<ObjectInfo> infos) {
        return infos.stream().map(ObjectInfo::key).toList();
    }
}
