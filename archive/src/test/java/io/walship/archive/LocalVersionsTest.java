package io.walship.archive;

import static io.walship.archive.VersionsTesting.LEASE;
import static io.walship.archive.VersionsTesting.b;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code file://} store's compare-and-swap without a lock ({@link LocalVersions}). It used to
 * hold {@code .tmp/cas.lock} during a replace: a leader stopped (SIGSTOP) inside a lease renewal
 * blocked every other node's lease and status writes for as long as it stayed stopped, and one
 * Jepsen round had no election for 90 s. Two stores on one directory stand for two processes.
 */
class LocalVersionsTest {
    @TempDir
    Path tmp;

    private static String content(ObjectStore store, String key) {
        return new String(store.getVersioned(key).orElseThrow().content(), StandardCharsets.UTF_8);
    }

    /**
     * A writer stops after reading version 1 and before writing version 2. Others go on replacing
     * meanwhile (so version 2's name is used and collected); when the stopped writer wakes, its
     * replace fails (outcome unknown to it: it cannot tell this from a win others wrote on) and the
     * document is the others' last write.
     */
    @Test
    @Timeout(120)
    void aWriterStoppedMidReplaceDelaysNoOneAndLosesWhenItWakes() throws Exception {
        Path root = tmp.resolve("archive");
        LocalObjectStore stopped = new LocalObjectStore(root);
        LocalObjectStore other = new LocalObjectStore(root);
        String etag = stopped.createReturningEtag(LEASE, b("term 1"));
        CountDownLatch reached = new CountDownLatch(1);
        CountDownLatch wake = new CountDownLatch(1);
        stopped.versions.beforeLink = () -> {
            reached.countDown();
            try {
                wake.await();
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        };
        CompletableFuture<String> late = CompletableFuture.supplyAsync(() -> stopped.replaceIfMatch(LEASE, etag, b("stale")));
        assertTrue(reached.await(60, TimeUnit.SECONDS));

        String e = etag;
        for (int term = 2; term <= 6; term++) { // not blocked by the stopped writer
            e = other.replaceIfMatch(LEASE, e, b("term " + term));
        }
        assertEquals("term 6", content(other, LEASE));
        assertFalse(Files.exists(root.resolve(".versions").resolve(LEASE).resolve(String.format("%020d", 2))),
                "version 2 was collected, so its name is free again");

        wake.countDown();
        Exception failed = assertThrows(java.util.concurrent.ExecutionException.class, () -> late.get(60, TimeUnit.SECONDS));
        assertTrue(failed.getCause() instanceof StorageException && failed.getCause().getMessage().contains("outcome unknown"),
                failed.toString());
        assertEquals("term 6", content(stopped, LEASE));
        assertEquals("term 6", content(other, LEASE));
        other.replaceIfMatch(LEASE, e, b("term 7"));
        assertEquals("term 7", content(stopped, LEASE));
        assertFalse(Files.exists(root.resolve(".versions").resolve(LEASE).resolve(String.format("%020d", 2))),
                "the stale writer's file (below the newest, never read) was collected by the next write");
    }

    /** An archive written by an older build has the document as a plain file: read, replaced, listed once. */
    @Test
    void aDocumentInThePlainLayoutIsReadAndReplaced() throws Exception {
        Path root = tmp.resolve("archive");
        Files.createDirectories(root.resolve("followers"));
        Files.write(root.resolve("followers/n1.json"), b("{\"old\":true}"));
        LocalObjectStore store = new LocalObjectStore(root);
        ObjectStore.Versioned v = store.getVersioned("followers/n1.json").orElseThrow();
        assertEquals("{\"old\":true}", new String(v.content(), StandardCharsets.UTF_8));
        assertThrows(ObjectExistsException.class, () -> store.createReturningEtag("followers/n1.json", b("x")));
        assertEquals(List.of("followers/n1.json"), store.list("followers/", null).stream().map(ObjectInfo::key).toList());

        assertThrows(PreconditionFailedException.class,
                () -> store.replaceIfMatch("followers/n1.json", LocalObjectStore.md5Hex(b("other")), b("new")));
        store.replaceIfMatch("followers/n1.json", v.etag(), b("new"));
        assertEquals("new", content(store, "followers/n1.json"));
        assertFalse(Files.exists(root.resolve("followers/n1.json")), "the plain file is gone once a version exists");
        assertEquals(List.of("followers/n1.json"), store.list("followers/", null).stream().map(ObjectInfo::key).toList());
        assertEquals(3, store.head("followers/n1.json").orElseThrow().size());
    }

    /** Versions do not pile up: a writer collects all but the three newest. */
    @Test
    void oldVersionsAreCollected() throws Exception {
        Path root = tmp.resolve("archive");
        LocalObjectStore store = new LocalObjectStore(root);
        String e = store.createReturningEtag(LEASE, b("0"));
        for (int i = 1; i <= 50; i++) {
            e = store.replaceIfMatch(LEASE, e, b(Integer.toString(i)));
        }
        try (var s = Files.list(root.resolve(".versions").resolve(LEASE))) {
            assertEquals(3, s.count());
        }
        assertEquals("50", content(store, LEASE));
    }

    /** A deleted document can be created again, and a replace based on the deleted version fails. */
    @Test
    void aDeletedDocumentIsGoneAndCanBeCreatedAgain() throws Exception {
        LocalObjectStore store = new LocalObjectStore(tmp.resolve("archive"));
        String e = store.createReturningEtag(LEASE, b("a"));
        store.delete(LEASE);
        assertTrue(store.getVersioned(LEASE).isEmpty());
        assertTrue(store.head(LEASE).isEmpty());
        assertTrue(store.list("lease/", null).isEmpty());
        assertThrows(PreconditionFailedException.class, () -> store.replaceIfMatch(LEASE, e, b("b")));
        store.createReturningEtag(LEASE, b("c"));
        assertEquals("c", content(store, LEASE));
        assertThrows(PreconditionFailedException.class, () -> store.replaceIfMatch(LEASE, e, b("d")));
    }
}
