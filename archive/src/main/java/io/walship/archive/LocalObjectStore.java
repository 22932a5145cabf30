package io.walship.archive;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
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
 * <p><b>Compare-and-swap</b> ({@link #replaceIfMatch}) on the documents under
 * {@link ArchiveLayout#MUTABLE_PREFIXES}: the ETag is the MD5 of the content, as S3's for a single
 * PUT, and each document is a directory of immutable, numbered versions, written without a lock
 * ({@link LocalVersions}), so a writer stopped mid-replace delays no one.
 * Thread-safe.
 */
public final class LocalObjectStore implements ObjectStore {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(LocalObjectStore.class);
    private static final String TMP = ".tmp";
    private static final String PENDING = "pending";
    private final Path root;
    private final Syncer syncer;
    final LocalVersions versions;
    private final UploadLimit limit;

    /** {@link #createDirectoriesDurably}, for {@link LocalVersions}. */
    interface DirectoryMaker {
        void create(Path dir) throws IOException;
    }

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

    public LocalObjectStore(Path root) {
        this(root, Syncer.FSYNC);
    }

    /** With an upload rate limit ({@link UploadLimit}) on the content written by {@link #create}. */
    public LocalObjectStore(Path root, UploadLimit limit) {
        this(root, Syncer.FSYNC, limit);
    }

    LocalObjectStore(Path root, Syncer syncer) {
        this(root, syncer, UploadLimit.NONE);
    }

    LocalObjectStore(Path root, Syncer syncer, UploadLimit limit) {
        this.limit = java.util.Objects.requireNonNull(limit, "limit");
        this.root = root.toAbsolutePath().normalize();
        this.syncer = syncer;
        this.versions = new LocalVersions(this.root, this.root.resolve(TMP), syncer, this::createDirectoriesDurably);
    }

    private static boolean mutable(String key) {
        return ArchiveLayout.isMutable(Keys.check(key));
    }

    private Path path(String key) {
        return root.resolve(Keys.check(key));
    }

    @Override
    public void create(String key, InputStream content) {
        if (mutable(key)) {
            try {
                byte[] bytes = content.readNBytes(MAX_VERSIONED_BYTES + 1);
                createReturningEtag(key, bytes);
                return;
            } catch (IOException e) {
                throw new StorageException("create " + key + " in " + root + ": " + e.getMessage(), e);
            }
        }
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
                limit.pace(content).transferTo(out);
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

    /** Where a resumable create of {@code key} keeps its bytes until they are whole: a name only it uses. */
    private Path pendingPath(String key) {
        return root.resolve(TMP).resolve(PENDING).resolve(Keys.check(key).replace('/', '+'));
    }

    /**
     * Writes into {@code .tmp/pending/<key with + for />}, a file that outlives a failed or killed
     * attempt. The next attempt compares the bytes the file holds with the start of its content
     * (skipping them, not writing them again), appends the rest, fsyncs and links it as
     * {@link #create} does. A byte that differs deletes the file and throws {@link ResumeMismatchException}.
     */
    @Override
    public Resumed createResuming(String key, InputStream content) {
        return createResuming(key, content, false);
    }

    /** With {@code resumeOnly}, the pending file must be there and hold bytes; it is never created anew. */
    @Override
    public Resumed createResuming(String key, InputStream content, boolean resumeOnly) {
        if (mutable(key)) {
            throw new IllegalArgumentException("a coordination document is not created resumably: " + key);
        }
        Path target = path(key);
        if (Files.exists(target)) {
            throw new ObjectExistsException(key);
        }
        Path pending = pendingPath(key);
        boolean keep = true;
        try {
            createDirectoriesDurably(pending.getParent());
            createDirectoriesDurably(target.getParent());
            long skipped;
            long sent;
            FileChannel opened;
            try {
                opened = resumeOnly ? FileChannel.open(pending, StandardOpenOption.READ, StandardOpenOption.WRITE)
                        : FileChannel.open(pending, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
            } catch (NoSuchFileException gone) {
                keep = false;
                throw new ResumeMismatchException(key, "the pending upload is gone, so nothing can be compared");
            }
            try (FileChannel ch = opened) {
                long have = ch.size();
                if (resumeOnly && have == 0) {
                    keep = false;
                    throw new ResumeMismatchException(key, "the pending upload holds no byte, so nothing can be compared");
                }
                byte[] mine = new byte[1 << 16];
                java.nio.ByteBuffer theirs = java.nio.ByteBuffer.allocate(1 << 16);
                long pos = 0;
                while (pos < have) {
                    int want = (int) Math.min(mine.length, have - pos);
                    int n = content.readNBytes(mine, 0, want);
                    theirs.clear().limit(want);
                    while (theirs.hasRemaining() && ch.read(theirs, pos + theirs.position()) >= 0) {
                        // read on: a positional read may return fewer bytes
                    }
                    if (n < want || theirs.position() < want
                            || !java.util.Arrays.equals(mine, 0, want, theirs.array(), 0, want)) {
                        keep = false;
                        throw new ResumeMismatchException(key, "its " + have + " bytes differ from this attempt's at or after"
                                + " byte " + pos);
                    }
                    pos += want;
                }
                skipped = have;
                ch.position(have);
                OutputStream out = Channels.newOutputStream(ch);
                sent = limit.pace(content).transferTo(out);
                out.flush();
                syncer.file(pending, ch);
            }
            try {
                Files.createLink(target, pending);
            } catch (FileAlreadyExistsException e) {
                keep = false;
                throw new ObjectExistsException(key);
            }
            syncer.directory(target.getParent());
            keep = false;
            if (skipped > 0) {
                LOG.info("resumed upload of {} complete: {} bytes were there already (checked, not sent again), {} sent",
                        key, skipped, sent);
            }
            return new Resumed(skipped, sent);
        } catch (IOException e) {
            throw new StorageException("create " + key + " in " + root + ": " + e.getMessage(), e);
        } finally {
            if (!keep) {
                try {
                    Files.deleteIfExists(pending);
                } catch (IOException ignored) {
                    // a stray pending file is never listed; the next attempt at this key compares it or abortPending drops it
                }
            }
        }
    }

    @Override
    public List<PendingUpload> pendingUploads(String prefix) {
        Path dir = root.resolve(TMP).resolve(PENDING);
        List<PendingUpload> out = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                String key = f.getFileName().toString().replace('+', '/');
                if (key.startsWith(prefix)) {
                    try {
                        BasicFileAttributes a = Files.readAttributes(f, BasicFileAttributes.class);
                        out.add(new PendingUpload(key, a.creationTime().toInstant()));
                    } catch (NoSuchFileException gone) {
                        // finished or aborted meanwhile
                    }
                }
            }
        } catch (NoSuchFileException none) {
            return List.of();
        } catch (IOException e) {
            throw new StorageException("list pending uploads in " + dir + ": " + e.getMessage(), e);
        }
        out.sort(java.util.Comparator.comparing(PendingUpload::initiated));
        return out;
    }

    @Override
    public long pendingBytes(String key) {
        try {
            return Files.size(pendingPath(key));
        } catch (NoSuchFileException e) {
            return 0;
        } catch (IOException e) {
            throw new StorageException("read the pending upload of " + key + ": " + e.getMessage(), e);
        }
    }

    @Override
    public Optional<byte[]> pendingHead(String key) {
        try (InputStream in = Files.newInputStream(pendingPath(key))) {
            return Optional.of(in.readNBytes(PENDING_HEAD_BYTES));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new StorageException("read the pending upload of " + key + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void abortPending(String key) {
        try {
            Files.deleteIfExists(pendingPath(key));
        } catch (IOException e) {
            throw new StorageException("abort the pending upload of " + key + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String createReturningEtag(String key, byte[] content) {
        Keys.checkVersioned(key, content);
        return versions.create(key, content);
    }

    @Override
    public String replaceIfMatch(String key, String expectedEtag, byte[] content) {
        Keys.checkVersioned(key, content);
        java.util.Objects.requireNonNull(expectedEtag, "expectedEtag");
        return versions.replace(key, expectedEtag, content);
    }

    @Override
    public Optional<Versioned> getVersioned(String key) {
        Keys.checkVersioned(key, null);
        LocalVersions.State s = versions.read(key);
        return s.exists() ? Optional.of(new Versioned(s.content(), md5Hex(s.content()))) : Optional.empty();
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
        if (mutable(key)) {
            return new java.io.ByteArrayInputStream(getVersioned(key).orElseThrow(() -> new ObjectNotFoundException(key))
                    .content());
        }
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
        if (mutable(key)) {
            byte[] all = getVersioned(key).orElseThrow(() -> new ObjectNotFoundException(key)).content();
            int from = (int) Math.min(all.length, Math.max(0, offset));
            return new java.io.ByteArrayInputStream(all, from, (int) Math.min(all.length - from, Math.max(0, length)));
        }
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
        if (mutable(key)) {
            return versions.head(key);
        }
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
        List<ObjectInfo> out = new ArrayList<>();
        java.util.TreeSet<String> documents = new java.util.TreeSet<>(versions.keys(prefix));
        // only the prefix's directory is walked; .tmp/ and .versions/ are skipped (no key starts with '.')
        walkFiles(root, prefixDir(root, prefix), (p, a) -> {
            String key = root.relativize(p).toString().replace(p.getFileSystem().getSeparator(), "/");
            if (ArchiveLayout.isMutable(key)) {
                documents.add(key); // a document still in the plain layout: listed from its versions below
            } else if (key.startsWith(prefix) && (startAfter == null || key.compareTo(startAfter) > 0)) {
                out.add(new ObjectInfo(key, a.size(), a.lastModifiedTime().toInstant()));
            }
        });
        for (String key : documents) {
            if (key.startsWith(prefix) && (startAfter == null || key.compareTo(startAfter) > 0)) {
                versions.head(key).ifPresent(out::add);
            }
        }
        out.sort(java.util.Comparator.comparing(ObjectInfo::key));
        return out;
    }

    /**
     * Walks the prefix's directory in key order and stops at {@code limit} files: each directory
     * on the way is read (names only), no file past the limit is looked at. Documents (lease,
     * followers: listed from their versions) take the full listing.
     */
    @Override
    public List<ObjectInfo> listFirst(String prefix, int limit) {
        if (limit < 1) {
            throw new IllegalArgumentException("limit must be positive: " + limit);
        }
        if (ArchiveLayout.MUTABLE_PREFIXES.stream().anyMatch(m -> m.startsWith(prefix) || prefix.startsWith(m))) {
            return ObjectStore.super.listFirst(prefix, limit);
        }
        Path start = prefixDir(root, prefix);
        List<ObjectInfo> out = new ArrayList<>();
        if (start == null || !Files.isDirectory(start)) {
            return out;
        }
        try {
            firstFiles(start, prefix, limit, out);
        } catch (IOException e) {
            throw new StorageException("list " + prefix + " in " + root + ": " + e.getMessage(), e);
        }
        return out;
    }

    private void firstFiles(Path dir, String prefix, int limit, List<ObjectInfo> out) throws IOException {
        List<String[]> entries = new ArrayList<>(); // {name as it sorts among keys, name}
        try (java.util.stream.Stream<Path> s = Files.list(dir)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String name = p.getFileName().toString();
                if (!name.startsWith(".")) { // .tmp/ and .versions/: no key starts with '.'
                    // a directory's keys continue its name with '/', which sorts after '-' and '.'
                    entries.add(new String[] {Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                            ? name + "/" : name, name});
                }
            }
        } catch (NoSuchFileException e) {
            return; // removed meanwhile (retention)
        }
        entries.sort(java.util.Comparator.comparing((String[] e) -> e[0]));
        for (String[] e : entries) {
            if (out.size() >= limit) {
                return;
            }
            Path p = dir.resolve(e[1]);
            if (e[0].endsWith("/")) {
                String dirKey = root.relativize(p).toString().replace(p.getFileSystem().getSeparator(), "/") + "/";
                if (dirKey.startsWith(prefix) || prefix.startsWith(dirKey)) {
                    firstFiles(p, prefix, limit, out);
                }
                continue;
            }
            BasicFileAttributes a;
            try {
                a = Files.readAttributes(p, BasicFileAttributes.class, java.nio.file.LinkOption.NOFOLLOW_LINKS);
            } catch (NoSuchFileException gone) {
                continue;
            }
            String key = root.relativize(p).toString().replace(p.getFileSystem().getSeparator(), "/");
            if (a.isRegularFile() && key.startsWith(prefix)) {
                out.add(new ObjectInfo(key, a.size(), a.lastModifiedTime().toInstant()));
            }
        }
    }

    /** The directory below {@code base} that holds every key starting with {@code prefix} (null: none can). */
    static Path prefixDir(Path base, String prefix) {
        String dirPart = prefix.substring(0, prefix.lastIndexOf('/') + 1);
        if (("/" + dirPart).contains("/.")) {
            return null; // .tmp/, .versions/ and "..": no key lies there
        }
        Path dir = base.resolve(dirPart).normalize();
        return dir.startsWith(base) ? dir : null;
    }

    /**
     * Calls {@code visit} for each regular file below {@code start} (itself below {@code base}),
     * skipping directories whose name starts with '.'; files and directories removed during the walk
     * (collected versions, temporary files) are passed over, not failed on.
     */
    static void walkFiles(Path base, Path start, java.util.function.BiConsumer<Path, BasicFileAttributes> visit) {
        if (start == null || !Files.isDirectory(start)) {
            return;
        }
        try {
            // the walk does not follow a symbolic link at its start (an archive directory that is a link)
            Path real = start.toRealPath();
            Files.walkFileTree(real, new java.nio.file.SimpleFileVisitor<>() {
                @Override
                public java.nio.file.FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
                    return !dir.equals(real) && dir.getFileName().toString().startsWith(".")
                            ? java.nio.file.FileVisitResult.SKIP_SUBTREE : java.nio.file.FileVisitResult.CONTINUE;
                }

                @Override
                public java.nio.file.FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                    if (attrs.isRegularFile()) {
                        visit.accept(start.resolve(real.relativize(file)), attrs);
                    }
                    return java.nio.file.FileVisitResult.CONTINUE;
                }

                @Override
                public java.nio.file.FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
                    if (e instanceof NoSuchFileException) {
                        return java.nio.file.FileVisitResult.CONTINUE;
                    }
                    throw e;
                }

                @Override
                public java.nio.file.FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
                    if (e != null && !(e instanceof NoSuchFileException)) {
                        throw e;
                    }
                    return java.nio.file.FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            throw new StorageException("list " + start + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void delete(String key) {
        if (mutable(key)) {
            versions.delete(key);
            return;
        }
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
    public void verifyReadAccess() {
        if (!Files.isDirectory(root)) {
            throw new ArchiveConfigException("archive directory " + root + " does not exist: nothing to read");
        }
        if (!Files.isReadable(root)) {
            throw new ArchiveConfigException("archive directory " + root + " is not readable");
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
