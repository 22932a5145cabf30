package io.walship.archive;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * An {@link ObjectStore} in a local directory ({@code file:///path}): a key is a file path below
 * the root. A create writes a temporary file under {@code .tmp/}, fsyncs it, then hard-links it
 * to its key — link creation fails if the name exists, which makes create-if-absent atomic —
 * and fsyncs the directory it linked into. Every directory it creates on the way (the root,
 * {@code .tmp/}, {@code wal/T/}, a backup's directory) is made durable too, by fsyncing its
 * parent once it exists, so a power loss cannot take an object's directory entry with it.
 *
 * <p><b>Compare-and-swap</b> ({@link #replaceIfMatch}): the ETag is the MD5 of the content, as S3's
 * for a single PUT. A replace holds an exclusive lock on {@code .tmp/cas.lock} (a
 * {@link FileChannel#lock} other processes honour, plus a lock per root inside this JVM, where file
 * locks are per process), reads the current bytes, compares their MD5 with the expected ETag, writes
 * the new content to a temporary file, fsyncs it, renames it over the key atomically and fsyncs the
 * directory. Readers take no lock: a rename swaps whole files, so {@link #getVersioned} sees the
 * old or the new bytes, never a mix.
 * Thread-safe.
 */
public final class LocalObjectStore implements ObjectStore {
    private static final String TMP = ".tmp";
    private static final String CAS_LOCK = "cas.lock";
    /** One monitor per archive root in this JVM: a JVM cannot hold two file locks on one file. */
    private static final java.util.concurrent.ConcurrentHashMap<Path, Object> CAS_MONITORS =
            new java.util.concurrent.ConcurrentHashMap<>();
    /**
     * How long a replace waits for another process's CAS lock: a replace holds it for milliseconds,
     * so a longer hold means a stopped holder (SIGSTOP, a frozen VM), and the replace fails
     * (StorageException) instead of hanging its thread for as long as the holder stays stopped.
     */
    static final java.time.Duration CAS_LOCK_WAIT = java.time.Duration.ofSeconds(30);
    private final Path root;
    private final Syncer syncer;
    /** {@link #CAS_LOCK_WAIT}, shorter in tests. */
    java.time.Duration casLockWait = CAS_LOCK_WAIT;

    /** How files and directories are made durable; a seam so tests can see every sync. */
    interface Syncer {
        Syncer FSYNC = new Syncer() {
        };

        default void file(Path file, FileChannel ch) throws IOException {
            ch.force(true);
        }

        default void directory(Path dir) throws IOException {
            try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
                ch.force(true);
            }
        }
    }

    /** The CAS lock, waited for at most {@link #casLockWait} (polled: {@code lock()} cannot be given a deadline). */
    private java.nio.channels.FileLock casLock(FileChannel lockFile) throws IOException {
        long deadline = System.nanoTime() + casLockWait.toNanos();
        long pauseMs = 1;
        while (true) {
            java.nio.channels.FileLock l = lockFile.tryLock();
            if (l != null) {
                return l;
            }
            if (System.nanoTime() - deadline > 0) {
                throw new StorageException("the archive's compare-and-swap lock " + root.resolve(TMP).resolve(CAS_LOCK)
                        + " has been held by another process for over " + casLockWait.toMillis() + " ms (a replace"
                        + " holds it for milliseconds): is a walship process on this archive stopped (SIGSTOP, a frozen"
                        + " VM)? Conditional writes (the leader lease, follower status) fail until it runs again");
            }
            try {
                Thread.sleep(pauseMs);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted while waiting for " + CAS_LOCK);
            }
            pauseMs = Math.min(50, pauseMs * 2);
        }
    }

    public LocalObjectStore(Path root) {
        this(root, Syncer.FSYNC);
    }

    LocalObjectStore(Path root, Syncer syncer) {
        this.root = root.toAbsolutePath().normalize();
        this.syncer = syncer;
    }

    private Path path(String key) {
        return root.resolve(Keys.check(key));
    }

    @Override
    public void create(String key, InputStream content) {
        Path target = path(key);
        if (Files.exists(target)) {
            throw new ObjectExistsException(key);
        }
        Path tmp = root.resolve(TMP).resolve(UUID.randomUUID() + ".part");
        try {
            createDirectoriesDurably(tmp.getParent());
            createDirectoriesDurably(target.getParent());
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                OutputStream out = Channels.newOutputStream(ch);
                content.transferTo(out);
                out.flush();
                syncer.file(tmp, ch);
            }
            try {
                Files.createLink(target, tmp);
            } catch (FileAlreadyExistsException e) {
                throw new ObjectExistsException(key);
            }
            syncer.directory(target.getParent());
        } catch (IOException e) {
            throw new StorageException("create " + key + " in " + root + ": " + e.getMessage(), e);
        } finally {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // a stray temporary file is harmless and never listed
            }
        }
    }

    @Override
    public String createReturningEtag(String key, byte[] content) {
        Keys.checkVersioned(key, content);
        create(key, new java.io.ByteArrayInputStream(content));
        return md5Hex(content);
    }

    @Override
    public String replaceIfMatch(String key, String expectedEtag, byte[] content) {
        Keys.checkVersioned(key, content);
        java.util.Objects.requireNonNull(expectedEtag, "expectedEtag");
        Path target = path(key);
        Path tmp = root.resolve(TMP).resolve(UUID.randomUUID() + ".part");
        try {
            createDirectoriesDurably(tmp.getParent());
            synchronized (CAS_MONITORS.computeIfAbsent(root, r -> new Object())) {
                try (FileChannel lockFile = FileChannel.open(root.resolve(TMP).resolve(CAS_LOCK),
                        StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                     java.nio.channels.FileLock ignored = casLock(lockFile)) {
                    byte[] now;
                    try {
                        now = Files.readAllBytes(target);
                    } catch (NoSuchFileException e) {
                        throw new PreconditionFailedException(key, expectedEtag, "the object does not exist");
                    }
                    String etag = md5Hex(now);
                    if (!etag.equalsIgnoreCase(expectedEtag)) {
                        throw new PreconditionFailedException(key, expectedEtag, "it is now " + etag);
                    }
                    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                        ch.write(java.nio.ByteBuffer.wrap(content));
                        syncer.file(tmp, ch);
                    }
                    Files.move(tmp, target, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
                            java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                    syncer.directory(target.getParent());
                    return md5Hex(content);
                }
            }
        } catch (IOException e) {
            throw new StorageException("replace " + key + " in " + root + ": " + e.getMessage(), e);
        } finally {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // a stray temporary file is harmless and never listed
            }
        }
    }

    @Override
    public Optional<Versioned> getVersioned(String key) {
        Keys.checkVersioned(key, null);
        try {
            byte[] bytes = Files.readAllBytes(path(key)); // one open file: a concurrent rename cannot mix versions
            return Optional.of(new Versioned(bytes, md5Hex(bytes)));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new StorageException("get " + key + ": " + e.getMessage(), e);
        }
    }

    static String md5Hex(byte[] content) {
        try {
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("MD5").digest(content));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Creates {@code dir} and any missing parents, fsyncing the parent of each directory it
     * created (outermost first), so every new directory entry is durable before anything is
     * linked below it. Directories that exist already are left alone.
     */
    private void createDirectoriesDurably(Path dir) throws IOException {
        if (Files.isDirectory(dir)) {
            return;
        }
        java.util.ArrayDeque<Path> missing = new java.util.ArrayDeque<>();
        for (Path p = dir; p != null && !Files.isDirectory(p); p = p.getParent()) {
            missing.push(p);
        }
        for (Path p : missing) {
            try {
                Files.createDirectory(p);
            } catch (FileAlreadyExistsException e) {
                if (!Files.isDirectory(p)) {
                    throw e;
                }
                // created concurrently by another create; sync its parent anyway before relying on it
            }
            if (p.getParent() != null) {
                syncer.directory(p.getParent());
            }
        }
    }

    @Override
    public InputStream get(String key) {
        try {
            return Files.newInputStream(path(key));
        } catch (NoSuchFileException e) {
            throw new ObjectNotFoundException(key);
        } catch (IOException e) {
            throw new StorageException("get " + key + ": " + e.getMessage(), e);
        }
    }

    @Override
    public InputStream getRange(String key, long offset, long length) {
        try {
            FileChannel ch = FileChannel.open(path(key), StandardOpenOption.READ);
            ch.position(offset);
            InputStream in = Channels.newInputStream(ch);
            return new java.io.FilterInputStream(in) {
                private long left = length;

                @Override
                public int read() throws IOException {
                    if (left <= 0) {
                        return -1;
                    }
                    int b = super.read();
                    if (b >= 0) {
                        left--;
                    }
                    return b;
                }

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    if (left <= 0) {
                        return -1;
                    }
                    int n = super.read(b, off, (int) Math.min(len, left));
                    if (n > 0) {
                        left -= n;
                    }
                    return n;
                }
            };
        } catch (NoSuchFileException e) {
            throw new ObjectNotFoundException(key);
        } catch (IOException e) {
            throw new StorageException("get " + key + " range " + offset + "+" + length + ": " + e.getMessage(), e);
        }
    }

    @Override
    public Optional<ObjectInfo> head(String key) {
        try {
            BasicFileAttributes a = Files.readAttributes(path(key), BasicFileAttributes.class);
            return Optional.of(new ObjectInfo(key, a.size(), a.lastModifiedTime().toInstant()));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new StorageException("head " + key + ": " + e.getMessage(), e);
        }
    }

    @Override
    public List<ObjectInfo> list(String prefix, String startAfter) {
        if (!Files.isDirectory(root)) {
            return List.of();
        }
        List<ObjectInfo> out = new ArrayList<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String key = root.relativize(p).toString().replace(p.getFileSystem().getSeparator(), "/");
                if (key.isEmpty() || key.startsWith(TMP) || !Files.isRegularFile(p)) {
                    continue;
                }
                if (key.startsWith(prefix) && (startAfter == null || key.compareTo(startAfter) > 0)) {
                    BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
                    out.add(new ObjectInfo(key, a.size(), a.lastModifiedTime().toInstant()));
                }
            }
        } catch (IOException | UncheckedIOException e) {
            throw new StorageException("list " + root + "/" + prefix + ": " + e.getMessage(), e);
        }
        out.sort(java.util.Comparator.comparing(ObjectInfo::key));
        return out;
    }

    @Override
    public void delete(String key) {
        try {
            Files.deleteIfExists(path(key));
        } catch (IOException e) {
            throw new StorageException("delete " + key + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void verifyAccess() {
        try {
            createDirectoriesDurably(root);
            if (!Files.isWritable(root)) {
                throw new ArchiveConfigException("archive directory " + root + " is not writable");
            }
        } catch (IOException e) {
            throw new ArchiveConfigException("cannot create archive directory " + root + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String describe() {
        return "file://" + root;
    }

    @Override
    public void close() {
        // nothing held open
    }
}
