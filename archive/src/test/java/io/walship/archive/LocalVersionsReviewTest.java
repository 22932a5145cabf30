package io.walship.archive;

import static io.walship.archive.VersionsTesting.LEASE;
import static io.walship.archive.VersionsTesting.await;
import static io.walship.archive.VersionsTesting.b;
import static io.walship.archive.VersionsTesting.s;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import io.walship.archive.VersionsTesting.StoppingSyncer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Adversarial review of {@link LocalVersions}: interleavings that break its promises. */
class LocalVersionsReviewTest {
    @TempDir
    Path tmp;

    /**
     * A reader lists version 2 as the newest and is then paused (GC, SIGSTOP). Meanwhile versions 3
     * to 5 are written (2 is collected) and a writer that read version 1 long ago links its stale
     * replace at the freed name 2, before it notices version 4 and takes it back. The reader opens
     * "version 2" and returns content that was never the document.
     */
    @Test
    @Timeout(120)
    void aPausedReaderNeverReturnsAStaleWritersContent() throws Exception {
        Path root = tmp.resolve("archive");
        LocalObjectStore other = new LocalObjectStore(root);
        StoppingSyncer staleSync = new StoppingSyncer();
        LocalObjectStore stale = new LocalObjectStore(root, staleSync);
        LocalObjectStore reader = new LocalObjectStore(root);

        String e1 = other.createReturningEtag(LEASE, b("term 1"));
        CountDownLatch staleRead = new CountDownLatch(1);
        CountDownLatch staleGo = new CountDownLatch(1);
        stale.versions.beforeLink = () -> {
            staleRead.countDown();
            await(staleGo);
            staleSync.armed.set(true); // stop it again right after it links
        };
        CompletableFuture<String> staleWrite = CompletableFuture.supplyAsync(
                () -> stale.replaceIfMatch(LEASE, e1, b("never the document")));
        await(staleRead);

        String e2 = other.replaceIfMatch(LEASE, e1, b("term 2"));
        CountDownLatch listed = new CountDownLatch(1);
        CountDownLatch readerGo = new CountDownLatch(1);
        reader.versions.afterList = () -> {
            reader.versions.afterList = () -> { };
            listed.countDown();
            await(readerGo);
        };
        CompletableFuture<byte[]> read = CompletableFuture.supplyAsync(
                () -> reader.getVersioned(LEASE).orElseThrow().content());
        await(listed); // the reader saw version 2 as the newest

        String e3 = other.replaceIfMatch(LEASE, e2, b("term 3"));
        String e4 = other.replaceIfMatch(LEASE, e3, b("term 4"));
        other.replaceIfMatch(LEASE, e4, b("term 5")); // collects versions 1 and 2 (the three newest stay)

        staleGo.countDown();
        await(staleSync.reached); // the stale writer linked the freed name 2, not yet taken back
        readerGo.countDown();
        String seen = s(read.get(60, TimeUnit.SECONDS));
        staleSync.wake.countDown();
        try {
            staleWrite.get(60, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException expected) {
            // 412: it lost
        }
        assertTrue(List.of("term 2", "term 3", "term 4", "term 5").contains(seen),
                "a reader returned '" + seen + "', which was never the document");
    }

    /**
     * A replace links version 2 and is paused before its "newer version?" check; another writer
     * reads version 2 (this write), and replaces it by compare-and-swap on its ETag. The first
     * writer wakes, sees version 3, deletes its own version and answers 412: a write that took
     * effect, and that another writer's CAS was based on, is reported as not having happened.
     */
    @Test
    @Timeout(120)
    void aReplaceThatTookEffectIsNotReportedAsFailed() throws Exception {
        Path root = tmp.resolve("archive");
        StoppingSyncer sync = new StoppingSyncer();
        LocalObjectStore winner = new LocalObjectStore(root, sync);
        LocalObjectStore other = new LocalObjectStore(root);
        String e1 = winner.createReturningEtag(LEASE, b("term 1"));
        sync.armed.set(true);
        CompletableFuture<String> w = CompletableFuture.supplyAsync(() -> winner.replaceIfMatch(LEASE, e1, b("term 2")));
        await(sync.reached);
        ObjectStore.Versioned v2 = other.getVersioned(LEASE).orElseThrow();
        assertEquals("term 2", s(v2.content()), "the paused write is the document");
        other.replaceIfMatch(LEASE, v2.etag(), b("term 3 (built on term 2)"));
        sync.wake.countDown();
        String etag;
        try {
            etag = w.get(60, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new AssertionError("the replace whose bytes another CAS was based on answered " + e.getCause(), e);
        }
        assertEquals(v2.etag(), etag);
    }

    /**
     * Listing the archive while a status document is being replaced never fails: here the listing
     * LeaderLease.acquire makes (timelines/), while a follower publishes its status.
     */
    @Test
    @Timeout(120)
    void listingWhileDocumentsAreReplacedNeverFails() throws Exception {
        Path root = tmp.resolve("archive");
        LocalObjectStore writer = new LocalObjectStore(root, new LocalObjectStore.Syncer() {
            @Override
            public void file(Path file, FileChannel ch) {
                // no fsync: more writes, more churn
            }

            @Override
            public void directory(Path dir) {
            }
        });
        LocalObjectStore lister = new LocalObjectStore(root);
        String key = "followers/a.json";
        writer.createReturningEtag(key, b("0"));
        AtomicBoolean stop = new AtomicBoolean();
        CompletableFuture<Integer> writes = CompletableFuture.supplyAsync(() -> {
            String e = writer.getVersioned(key).orElseThrow().etag();
            int n = 0;
            while (!stop.get()) {
                e = writer.replaceIfMatch(key, e, b(Integer.toString(++n)));
            }
            return n;
        });
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        int lists = 0;
        try {
            while (System.nanoTime() - deadline < 0) {
                // LeaderLease.acquire lists timelines/ (descendants): the walk covers .versions/ too
                assertEquals(List.of(), lister.list("timelines/", null));
                lists++;
            }
        } finally {
            stop.set(true);
            System.out.println("lists: " + lists + ", writes: " + writes.get(60, TimeUnit.SECONDS));
        }
    }
}
