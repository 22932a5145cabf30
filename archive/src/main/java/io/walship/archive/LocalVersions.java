package io.walship.archive;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The mutable documents of a {@code file://} archive ({@link ArchiveLayout#MUTABLE_PREFIXES}: the
 * leader lease, followers' status), with compare-and-swap and no lock.
 *
 * <p>A document {@code K} is a directory {@code .versions/K/} of immutable version files named by a
 * 20-digit number. The highest number is the document; its first byte says whether it holds
 * content ({@code D}) or a deletion ({@code X}), 16 random bytes follow (the version's identity,
 * below), then the content. A write of version {@code N+1} is
 * only ever made by a writer that read version {@code N} (and checked its ETag, for a replace), and
 * it is made by hard-linking a fsynced temporary file to the name {@code N+1}, which fails if the
 * name exists: of two writers that read {@code N}, at most one links {@code N+1}, the other gets
 * 412. A writer holds nothing while it works, so a writer stopped (SIGSTOP, a frozen VM) between
 * reading and linking delays no one. A writer of version {@code n} collects the versions below
 * {@code n-2}, oldest first; the three newest always stay. So a name is free again only once a
 * version three above it exists, and a writer that wakes after {@code N+1} was used and collected links a name below the
 * newest: if, once linked, a version {@code N+4} or above exists, it checks whether version {@code N} is
 * still the file it read (same identity bytes): then {@code N+1} was a new name and it won (someone
 * has already written on top of it); otherwise (it slept through three or more newer versions) it
 * cannot tell and fails with a {@link StorageException} (outcome unknown), which callers treat as
 * such. Below {@code N+4} its name cannot have been used before, so it won. Its file stays either way
 * (below the newest it is never read, and the next write collects it): taking it back could remove
 * a version that another writer read and checks for. A reader accepts version
 * {@code n} only if {@code n} is still the newest after reading it, so it never returns a stale
 * writer's file at a reused name.
 *
 * <p>An archive written before this layout has the document as a plain file at {@code K}: it is
 * read as version 0 until a version file exists, and the first replace removes it. Every node that
 * writes one {@code file://} archive must run a build with this layout (an older build locks
 * {@code .tmp/cas.lock} and writes the plain file, which newer builds ignore once versions exist).
 */
final class LocalVersions {
    static final String DIR = ".versions";
    private static final byte DOCUMENT = 'D';
    private static final byte DELETED = 'X';
    private static final Pattern NAME = Pattern.compile("[0-9]{20}");
    private static final int ID_BYTES = 16;
    private static final int HEADER = 1 + ID_BYTES;
    private static final java.security.SecureRandom IDS = new java.security.SecureRandom();
    /** A reader retries when the version it listed was collected under it; this many times is never normal. */
    private static final int ATTEMPTS = 1000;

    private final Path root;
    private final Path tmpDir;
    private final LocalObjectStore.Syncer syncer;
    private final LocalObjectStore.DirectoryMaker dirs;
    /** A seam for tests: runs after a write has read (and checked) version N, before it links N+1. */
    volatile Runnable beforeLink = () -> { };
    /** A seam for tests: runs after a read has listed the newest version, before it opens it. */
    volatile Runnable afterList = () -> { };

    LocalVersions(Path root, Path tmpDir, LocalObjectStore.Syncer syncer, LocalObjectStore.DirectoryMaker dirs) {
        this.root = root;
        this.tmpDir = tmpDir;
        this.syncer = syncer;
        this.dirs = dirs;
    }

    /**
     * What a read found: the number of the newest version (0 for none or the legacy plain file), its
     * content ({@code null}: no document), when it was written, and its identity bytes ({@code null}
     * for the plain file or nothing).
     */
    record State(long number, byte[] content, FileTime modified, byte[] id) {
        boolean exists() {
            return content != null;
        }
    }

    private Path dir(String key) {
        return root.resolve(DIR).resolve(key);
    }

    private Path legacy(String key) {
        return root.resolve(key);
    }

    private static String name(long n) {
        return String.format("%020d", n);
    }

    /** The newest version's number in {@code dir}, 0 if none. */
    private static long newest(Path dir) throws IOException {
        long max = 0;
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String n = p.getFileName().toString();
                if (NAME.matcher(n).matches()) {
                    max = Math.max(max, Long.parseLong(n));
                }
            }
        } catch (NoSuchFileException e) {
            return 0;
        }
        return max;
    }

    State read(String key) {
        Path dir = dir(key);
        try {
            for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
                long n = newest(dir);
                if (n > 0) {
                    afterList.run();
                    Path f = dir.resolve(name(n));
                    byte[] b;
                    FileTime t;
                    try {
                        b = Files.readAllBytes(f);
                        t = Files.getLastModifiedTime(f);
                    } catch (NoSuchFileException collected) {
                        continue; // superseded twice and collected since the listing: list again
                    }
                    if (newest(dir) != n) {
                        continue; // superseded meanwhile, or a stale writer's file at a collected name: read anew
                    }
                    if (b.length < HEADER || (b[0] != DOCUMENT && b[0] != DELETED)) {
                        throw new StorageException("version file " + f + " of " + key + " is damaged (" + b.length
                                + " bytes, no D/X header): the archive directory was modified by something else");
                    }
                    return new State(n, b[0] == DOCUMENT ? Arrays.copyOfRange(b, HEADER, b.length) : null, t,
                            Arrays.copyOfRange(b, 1, HEADER));
                }
                try {
                    Path old = legacy(key);
                    byte[] b = Files.readAllBytes(old);
                    FileTime t = Files.getLastModifiedTime(old);
                    if (newest(dir) == 0) {
                        return new State(0, b, t, null);
                    }
                } catch (NoSuchFileException e) {
                    if (newest(dir) == 0) {
                        return new State(0, null, null, null);
                    }
                }
                // the first version was linked (and the plain file removed) since the listing: read it
            }
        } catch (IOException e) {
            throw new StorageException("get " + key + ": " + e.getMessage(), e);
        }
        throw new StorageException("get " + key + ": its versions changed under " + ATTEMPTS + " reads in a row");
    }

    /** Create-if-absent. */
    String create(String key, byte[] content) {
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            State s = read(key);
            if (s.exists()) {
                throw new ObjectExistsException(key);
            }
            if (link(key, s, DOCUMENT, content)) {
                return LocalObjectStore.md5Hex(content);
            }
            // someone else wrote version N+1 first: if it is a document, the key exists now
        }
        throw new StorageException("create " + key + ": its versions changed under " + ATTEMPTS + " attempts in a row");
    }

    /** Compare-and-swap on the MD5 ETag. */
    String replace(String key, String expectedEtag, byte[] content) {
        State s = read(key);
        if (!s.exists()) {
            throw new PreconditionFailedException(key, expectedEtag, "the object does not exist");
        }
        String etag = LocalObjectStore.md5Hex(s.content());
        if (!etag.equalsIgnoreCase(expectedEtag)) {
            throw new PreconditionFailedException(key, expectedEtag, "it is now " + etag);
        }
        if (!link(key, s, DOCUMENT, content)) {
            throw new PreconditionFailedException(key, expectedEtag, "it was replaced concurrently");
        }
        return LocalObjectStore.md5Hex(content);
    }

    /** An unconditional delete: a deletion marker as the next version. */
    void delete(String key) {
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            State s = read(key);
            if (!s.exists()) {
                return;
            }
            if (link(key, s, DELETED, new byte[0])) {
                return;
            }
        }
        throw new StorageException("delete " + key + ": its versions changed under " + ATTEMPTS + " attempts in a row");
    }

    /**
     * Links the version after {@code read} of {@code key}; false if that name exists (another writer
     * won).
     *
     * @throws StorageException when the outcome is unknown: a newer version exists once it is linked
     *                          and the version it read is gone (see the class comment)
     */
    private boolean link(String key, State read, byte kind, byte[] content) {
        beforeLink.run();
        long n = read.number() + 1;
        Path dir = dir(key);
        Path target = dir.resolve(name(n));
        Path tmp = tmpDir.resolve(UUID.randomUUID() + ".part");
        byte[] id = new byte[ID_BYTES];
        IDS.nextBytes(id);
        try {
            dirs.create(tmpDir);
            dirs.create(dir);
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ByteBuffer b = ByteBuffer.allocate(HEADER + content.length).put(kind).put(id).put(content).flip();
                while (b.hasRemaining()) {
                    ch.write(b);
                }
                syncer.file(tmp, ch);
            }
            try {
                Files.createLink(target, tmp);
            } catch (FileAlreadyExistsException e) {
                return false;
            }
            syncer.directory(dir);
            // n can have been used and freed before this link only by a collector of a version >= n+3
            // (nobody else removes a version file), and then version n-1 went first, oldest first
            if (newest(dir) >= n + 3 && !stillThere(dir, read)) {
                // either n was a new name and others wrote on top of it (and collected what this read),
                // or it had been used and collected while this writer was stopped: no way to tell.
                // The file stays: it is below the newest, so never read, and the next write collects it;
                // taking it back could remove a version another writer read and must find
                throw new StorageException("write " + key + " version " + n + ": outcome unknown: this process was"
                        + " paused between reading version " + read.number() + " and writing the next, and newer"
                        + " versions were written and the one it read collected meanwhile; read the document anew");
            }
            collect(key, n - 2); // keeps n-2: a writer of n-1 overtaken once can still see it won
            return true;
        } catch (IOException e) {
            throw new StorageException("write " + key + " version " + n + " in " + root + ": " + e.getMessage(), e);
        } finally {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // a stray temporary file is harmless and never listed
            }
        }
    }

    /** Whether the version {@code read} came from is still that very file (so the next name was new). */
    private static boolean stillThere(Path dir, State read) throws IOException {
        if (read.id() == null) {
            return false; // the plain file or nothing: no identity to compare
        }
        try (java.io.InputStream in = Files.newInputStream(dir.resolve(name(read.number())))) {
            byte[] head = in.readNBytes(HEADER);
            return head.length == HEADER && Arrays.equals(Arrays.copyOfRange(head, 1, HEADER), read.id());
        } catch (NoSuchFileException gone) {
            return false;
        }
    }

    /** Removes the plain file and every version below {@code below}, oldest first. Best effort. */
    private void collect(String key, long below) {
        try {
            Files.deleteIfExists(legacy(key));
            List<Long> old = new ArrayList<>();
            try (Stream<Path> s = Files.list(dir(key))) {
                for (Path p : (Iterable<Path>) s::iterator) {
                    String n = p.getFileName().toString();
                    if (NAME.matcher(n).matches() && Long.parseLong(n) < below) {
                        old.add(Long.parseLong(n));
                    }
                }
            }
            old.sort(null);
            for (long n : old) {
                Files.deleteIfExists(dir(key).resolve(name(n)));
            }
        } catch (IOException e) {
            // old versions are never read while a newer one exists; the next write collects them
        }
    }

    /** The document keys with versions whose directory lies under {@code prefix}'s directory, sorted. */
    List<String> keys(String prefix) {
        Path base = root.resolve(DIR);
        java.util.TreeSet<String> out = new java.util.TreeSet<>();
        LocalObjectStore.walkFiles(base, LocalObjectStore.prefixDir(base, prefix), (p, attrs) -> {
            if (NAME.matcher(p.getFileName().toString()).matches()) {
                out.add(base.relativize(p.getParent()).toString().replace(p.getFileSystem().getSeparator(), "/"));
            }
        });
        return List.copyOf(out);
    }

    Optional<ObjectInfo> head(String key) {
        State s = read(key);
        return s.exists() ? Optional.of(new ObjectInfo(key, s.content().length, s.modified().toInstant()))
                : Optional.empty();
    }
}
