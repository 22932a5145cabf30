package io.walship.archive;

import static io.walship.archive.VersionsTesting.LEASE;
import static io.walship.archive.VersionsTesting.await;
import static io.walship.archive.VersionsTesting.b;
import static io.walship.archive.VersionsTesting.s;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import io.walship.archive.VersionsTesting.StoppingSyncer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Second adversarial review of {@link LocalVersions} (after the identity-bytes fix). */
class LocalVersionsRereviewTest {
    @TempDir
    Path tmp;

    /**
     * W links version 2 and is paused before its check; X reads version 2 (W's), links 3 and is
     * paused before its check; Y writes 4 and collects 1. W wakes: version 1 is gone, "outcome
     * unknown", and it unlinks its version 2 — a version X read and built on. X wakes, overtaken only
     * once (the case the three kept versions are for), finds 2 gone and also answers "outcome
     * unknown" (and unlinks 3), though its replace took effect and Y's CAS was built on it.
     */
    @Test
    @Timeout(120)
    void aWriterOvertakenOnceIsNotToldUnknownBecauseAnOlderWriterTookItsFileBack() throws Exception {
        Path root = tmp.resolve("archive");
        StoppingSyncer sw = new StoppingSyncer();
        StoppingSyncer sx = new StoppingSyncer();
        LocalObjectStore w = new LocalObjectStore(root, sw);
        LocalObjectStore x = new LocalObjectStore(root, sx);
        LocalObjectStore y = new LocalObjectStore(root);
        String e1 = y.createReturningEtag(LEASE, b("term 1"));

        sw.armed.set(true);
        CompletableFuture<String> wf = CompletableFuture.supplyAsync(() -> w.replaceIfMatch(LEASE, e1, b("term 2")));
        await(sw.reached);
        ObjectStore.Versioned v2 = y.getVersioned(LEASE).orElseThrow();
        assertEquals("term 2", s(v2.content()));

        sx.armed.set(true);
        CompletableFuture<String> xf = CompletableFuture.supplyAsync(
                () -> x.replaceIfMatch(LEASE, v2.etag(), b("term 3 (on 2)")));
        await(sx.reached);
        ObjectStore.Versioned v3 = y.getVersioned(LEASE).orElseThrow();
        assertEquals("term 3 (on 2)", s(v3.content()));
        y.replaceIfMatch(LEASE, v3.etag(), b("term 4 (on 3)")); // collects version 1

        sw.wake.countDown();
        try {
            wf.get(60, TimeUnit.SECONDS); // overtaken twice: "unknown" is acceptable for W
        } catch (ExecutionException acceptable) {
            System.out.println("W: " + acceptable.getCause());
        }
        sx.wake.countDown();
        String xe;
        try {
            xe = xf.get(60, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw new AssertionError("X, overtaken once, whose write Y built on, answered " + e.getCause(), e);
        }
        assertEquals(v3.etag(), xe);
    }

    /**
     * A create (from nothing) links version 1 and is paused before its check; another writer reads
     * version 1 and replaces it. The create took effect and was built on, yet it answers "outcome
     * unknown" (no identity to compare) — and unlinks version 1, so name 1 is free again while only
     * version 2 exists (the documented "a name is free only once a version three above it exists"
     * does not hold).
     */
    @Test
    @Timeout(120)
    void aCreateOvertakenOnceKnowsItWon() throws Exception {
        Path root = tmp.resolve("archive");
        StoppingSyncer sc = new StoppingSyncer();
        LocalObjectStore c = new LocalObjectStore(root, sc);
        LocalObjectStore y = new LocalObjectStore(root);
        // directories made beforehand, so that the first directory sync is the one right after the link
        java.nio.file.Files.createDirectories(root.resolve(".tmp"));
        java.nio.file.Files.createDirectories(root.resolve(".versions/" + LEASE));
        sc.armed.set(true);
        CompletableFuture<String> cf = CompletableFuture.supplyAsync(() -> c.createReturningEtag(LEASE, b("term 1")));
        await(sc.reached);
        ObjectStore.Versioned v1 = y.getVersioned(LEASE).orElseThrow();
        assertEquals("term 1", s(v1.content()));
        y.replaceIfMatch(LEASE, v1.etag(), b("term 2 (on 1)"));
        sc.wake.countDown();
        String ce;
        try {
            ce = cf.get(60, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw new AssertionError("a create overtaken once, whose write was built on, answered " + e.getCause(), e);
        }
        assertEquals(v1.etag(), ce);
    }
    /** list(prefix, startAfter) is list("") filtered, for prefixes with and without '/', partial and empty. */
    @Test
    void listingAPrefixIsTheFullListingFiltered() throws Exception {
        Path root = tmp.resolve("archive");
        LocalObjectStore st = new LocalObjectStore(root);
        java.util.List<String> keys = java.util.List.of("wal/00000001/a.seg", "wal/00000001/b.seg", "wal/x",
                "walnut", "wal2/y", "timelines/00000002.history", "a", "followers/n1.json", "followers/n2.json");
        for (String k : keys) {
            if (ArchiveLayout.isMutable(k)) {
                st.createReturningEtag(k, b(k));
            } else {
                st.create(k, new java.io.ByteArrayInputStream(b(k)));
            }
        }
        st.createReturningEtag(LEASE, b("l"));
        st.delete("followers/n2.json");
        java.util.List<String> all = st.list("", null).stream().map(ObjectInfo::key).toList();
        java.util.List<String> expected = new java.util.ArrayList<>(keys);
        expected.remove("followers/n2.json");
        expected.add(LEASE);
        java.util.Collections.sort(expected);
        assertEquals(expected, all);
        for (String p : java.util.List.of("", "w", "wal", "wal/", "wal/0", "wal/00000001/", "wal/00000001/a.seg",
                "wal/00000001/a.seg/", "walnut/", "lease", "lease/", "lease/l", "followers/n", "f", "zzz/", "../",
                "a/")) {
            for (String sa : java.util.Arrays.asList(null, "", "wal/00000001/a.seg", "followers/n1.json", "w")) {
                java.util.List<String> want = all.stream().filter(k -> k.startsWith(p) && (sa == null || k.compareTo(sa) > 0))
                        .toList();
                assertEquals(want, st.list(p, sa).stream().map(ObjectInfo::key).toList(), "prefix '" + p + "' after " + sa);
            }
        }
        // a key's directory removed (retention deleting a timeline's last segment and its directory)
        java.nio.file.Files.delete(root.resolve("wal/00000001/a.seg"));
        java.nio.file.Files.delete(root.resolve("wal/00000001/b.seg"));
        java.nio.file.Files.delete(root.resolve("wal/00000001"));
        assertEquals(java.util.List.of("wal/x"), st.list("wal/", null).stream().map(ObjectInfo::key).toList());
        assertEquals(java.util.List.of(), st.list("wal/00000001/", null));
    }
    /** An archive directory reached through a symbolic link (file:///srv/archive -> /mnt/disk) lists its objects. */
    @Test
    void anArchiveBehindASymlinkListsItsObjects() throws Exception {
        Path real = java.nio.file.Files.createDirectories(tmp.resolve("disk"));
        Path link = java.nio.file.Files.createSymbolicLink(tmp.resolve("archive"), real);
        LocalObjectStore st = new LocalObjectStore(link);
        st.create("wal/00000001/a.seg", new java.io.ByteArrayInputStream(b("x")));
        st.createReturningEtag(LEASE, b("l"));
        assertTrue(st.head("wal/00000001/a.seg").isPresent());
        assertEquals(java.util.List.of(LEASE, "wal/00000001/a.seg"),
                st.list("", null).stream().map(ObjectInfo::key).toList());
    }
}
