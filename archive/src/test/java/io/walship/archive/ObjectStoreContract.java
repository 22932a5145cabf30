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

    /**
     * Why this backend's conditional writes are not atomic under concurrency (the race tests are
     * then skipped, saying so), or null if they are. Every production backend must return null.
     */
    protected String conditionalWritesNotAtomic() {
        return null;
    }

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
        takesItsOwnAndRefusesAnother("h/a", (k, c) -> store.createOrSame(k, in(c)));
    }

    /** The same for bytes in memory (WAL segments), which are hashed only when the key is taken. */
    @Test
    void createOrSameOfBytesTakesItsOwnObjectAndRefusesAnother() throws Exception {
        takesItsOwnAndRefusesAnother("h/b", (k, c) -> store.createOrSame(k, bytes(c)));
        LostAnswerStore lossy = new LostAnswerStore(store, k -> true);
        assertFalse(lossy.createOrSame("l/seg2", bytes("segment bytes")));
        assertEquals("segment bytes", read(store.get("l/seg2")));
    }

    private void takesItsOwnAndRefusesAnother(String key, java.util.function.BiPredicate<String, String> createOrSame)
            throws Exception {
        assertTrue(createOrSame.test(key, "content one"));
        assertFalse(createOrSame.test(key, "content one"), "the same bytes: our own object");
        assertThrows(ObjectExistsException.class, () -> createOrSame.test(key, "content two"), "same size");
        assertThrows(ObjectExistsException.class, () -> createOrSame.test(key, "longer content"));
        assertEquals("content one", read(store.get(key)));
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

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Two writers race to create one lease document: exactly one wins, the other sees it taken. */
    @Test
    void createIfAbsentRaceHasExactlyOneWinner() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(conditionalWritesNotAtomic() == null, conditionalWritesNotAtomic());
        for (int round = 0; round < 10; round++) {
            String key = "lease/race-" + round;
            java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(2);
            java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(2);
            try {
                List<java.util.concurrent.Future<String>> results = new java.util.ArrayList<>();
                for (String who : List.of("a", "b")) {
                    results.add(pool.submit(() -> {
                        start.await();
                        try {
                            return who + ":" + store.createReturningEtag(key, bytes("holder " + who));
                        } catch (ObjectExistsException e) {
                            return null;
                        }
                    }));
                }
                List<String> winners = new java.util.ArrayList<>();
                for (java.util.concurrent.Future<String> f : results) {
                    String r = f.get(60, java.util.concurrent.TimeUnit.SECONDS);
                    if (r != null) {
                        winners.add(r);
                    }
                }
                assertEquals(1, winners.size(), "round " + round + ": " + winners);
                String winner = winners.get(0).substring(0, 1);
                ObjectStore.Versioned v = store.getVersioned(key).orElseThrow();
                assertEquals("holder " + winner, new String(v.content(), StandardCharsets.UTF_8));
                assertEquals(winners.get(0).substring(2), v.etag(), "create returns the ETag a read then sees");
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void replaceIfMatchWinsWithTheCurrentEtagOnly() throws Exception {
        String e1 = store.createReturningEtag("lease/leader.json", bytes("term 1"));
        assertEquals(new ObjectStore.Versioned(bytes("term 1"), e1).etag(), store.getVersioned("lease/leader.json")
                .orElseThrow().etag());
        String e2 = store.replaceIfMatch("lease/leader.json", e1, bytes("term 1 renewed"));
        assertFalse(e1.equals(e2), "new content, new ETag");
        assertEquals("term 1 renewed", read(store.get("lease/leader.json")));
        assertEquals(e2, store.getVersioned("lease/leader.json").orElseThrow().etag());
        // a stale ETag (someone else replaced it since we read it) is refused and changes nothing
        PreconditionFailedException stale = assertThrows(PreconditionFailedException.class,
                () -> store.replaceIfMatch("lease/leader.json", e1, bytes("term 2 by a stale writer")));
        assertTrue(stale.getMessage().contains("lease/leader.json"), stale.getMessage());
        assertArrayEquals(bytes("term 1 renewed"), store.getVersioned("lease/leader.json").orElseThrow().content());
        assertThrows(PreconditionFailedException.class,
                () -> store.replaceIfMatch("lease/missing.json", e2, bytes("x")), "absent: nothing to match");
        assertTrue(store.getVersioned("lease/missing.json").isEmpty());
        assertThrows(ObjectExistsException.class, () -> store.createReturningEtag("lease/leader.json", bytes("other")));
    }

    /** Two writers that read the same version race to replace it: exactly one wins. */
    @Test
    void replaceRaceOnOneVersionHasExactlyOneWinner() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(conditionalWritesNotAtomic() == null, conditionalWritesNotAtomic());
        String etag = store.createReturningEtag("lease/r.json", bytes("v0"));
        for (int round = 0; round < 10; round++) {
            String from = etag;
            java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(2);
            java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(2);
            try {
                List<java.util.concurrent.Future<String>> results = new java.util.ArrayList<>();
                for (String who : List.of("a", "b")) {
                    int r = round;
                    results.add(pool.submit(() -> {
                        start.await();
                        try {
                            return store.replaceIfMatch("lease/r.json", from, bytes(who + r));
                        } catch (PreconditionFailedException e) {
                            return null;
                        }
                    }));
                }
                List<String> won = new java.util.ArrayList<>();
                for (java.util.concurrent.Future<String> f : results) {
                    String r = f.get(60, java.util.concurrent.TimeUnit.SECONDS);
                    if (r != null) {
                        won.add(r);
                    }
                }
                assertEquals(1, won.size(), "round " + round + ": both replaced version " + from);
                etag = won.get(0);
                assertEquals(etag, store.getVersioned("lease/r.json").orElseThrow().etag());
            } finally {
                pool.shutdownNow();
            }
        }
    }

    /** A create or replace whose answer was lost comes back 412 for our own bytes: recognised by content. */
    @Test
    void aLostCasAnswerIsRecognisedByContent() throws Exception {
        LostAnswerStore lossy = new LostAnswerStore(store, k -> k.startsWith("lease/"));
        assertThrows(ObjectExistsException.class, () -> lossy.createReturningEtag("lease/plain.json", bytes("p")));
        String e1 = lossy.createReturningEtagOrSame("lease/leader.json", bytes("ours, term 1"));
        assertEquals(store.getVersioned("lease/leader.json").orElseThrow().etag(), e1);
        String e2 = lossy.replaceIfMatchOrSame("lease/leader.json", e1, bytes("ours, renewed"));
        assertEquals(store.getVersioned("lease/leader.json").orElseThrow().etag(), e2);
        assertTrue(lossy.lost().stream().anyMatch(k -> k.startsWith("lease/leader.json@")), "the replace lost its answer");
        // someone else's bytes are not ours, whatever the answer
        assertThrows(ObjectExistsException.class,
                () -> lossy.createReturningEtagOrSame("lease/leader.json", bytes("theirs, term 1")));
        store.replaceIfMatch("lease/leader.json", e2, bytes("theirs, term 2"));
        assertThrows(PreconditionFailedException.class,
                () -> store.replaceIfMatchOrSame("lease/leader.json", e2, bytes("ours, renewed again")));
        assertEquals("theirs, term 2", read(store.get("lease/leader.json")));
    }

    @Test
    void onlyMutableDocumentsMayBeReplaced() {
        store.create("timelines/00000002.history", in("history"));
        assertThrows(IllegalArgumentException.class,
                () -> store.replaceIfMatch("timelines/00000002.history", "x", bytes("rewritten")));
        assertThrows(IllegalArgumentException.class,
                () -> store.createReturningEtag("lease/big.json", new byte[ObjectStore.MAX_VERSIONED_BYTES + 1]));
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
    void aLimitedListingReturnsTheFirstKeysInOrder() throws Exception {
        for (String k : List.of("wal/b", "wal/a", "wal/c/x", "backups/1", "wal/aa", "wal/c-d")) {
            store.create(k, in(k));
        }
        assertEquals(List.of("wal/a"), keys(store.listFirst("wal/", 1)));
        assertEquals(List.of("wal/c-d", "wal/c/x"), keys(store.listFirst("wal/c", 5)), "in key order ('-' before '/')");
        assertEquals(List.of("wal/a", "wal/aa", "wal/b"), keys(store.listFirst("wal/", 3)));
        assertEquals(List.of("wal/a", "wal/aa", "wal/b", "wal/c-d", "wal/c/x"), keys(store.listFirst("wal/", 10)));
        assertEquals(keys(store.list("", null)), keys(store.listFirst("", 100)));
        assertEquals(List.of("wal/c/x"), keys(store.listFirst("wal/c/", 1)));
        assertEquals(List.of(), keys(store.listFirst("none/", 1)));
        assertThrows(IllegalArgumentException.class, () -> store.listFirst("wal/", 0));
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
