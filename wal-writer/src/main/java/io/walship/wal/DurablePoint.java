package io.walship.wal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.invoke.VarHandle;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Optional;
import java.util.UUID;
import java.util.zip.CRC32C;

/**
 * {@code DATA/durable-point} (docs/FORMAT.md, "Durable point"): the highest LSN known to be
 * durable in the WAL, for other processes reading the same data directory (a shipper, a WAL
 * inspection) and for crash recovery's end-of-WAL rule. 64 bytes, big-endian:
 *
 * <pre>
 *  0 u32 magic 'WSDP'
 *  4 u16 format version (1)
 *  6 u16 flags: bit 0 CLEAN — the writer closed the store: everything it wrote is synced
 *  8 u64 system id
 * 16 u64 WAL generation: +1 at every open for writing (after which a cut WAL file may be set aside)
 * 24 u64 durable LSN
 * 32 16 bytes: boot id of the machine the writer ran on (Linux {@code /proc/sys/kernel/random/boot_id};
 *    zeros if unknown)
 * 48 u32 CRC32C of bytes 0..47
 * 52 12 bytes reserved (0)
 * </pre>
 *
 * <p>The writer maps the file and, after every successful WAL sync, stores the new LSN and then
 * the new CRC: a memory write, no system call. The kernel writes the page back when it likes, so
 * after a power loss the file may lag, never lead: it only ever holds an LSN that was durable.
 * Recovery rewrites it in place (flags cleared, this boot's id) and syncs it; a clean close sets
 * {@code CLEAN} and syncs it. It is created once (atomically) and never replaced, so a reader's
 * mapping stays valid. Readers take a consistent copy by reading the CRC before and after the
 * fields and retrying on a mismatch.
 *
 * <p>The writer side is used by the store's sync thread (publish) and by the opening and closing
 * threads before and after it; not thread-safe beyond those hand-offs. {@link Reader} is not
 * thread-safe.
 */
final class DurablePoint implements AutoCloseable {
    static final String FILE_NAME = "durable-point";
    static final int MAGIC = 0x57534450;
    static final int FORMAT_VERSION = 1;
    static final int FLAG_CLEAN = 1;
    static final int SIZE = 64;
    private static final int CRC_AT = 48;
    private static final byte[] NO_BOOT = new byte[16];

    /** A consistent copy of the file. */
    record Value(int flags, long systemId, long generation, long lsn, byte[] bootId) {
        boolean clean() {
            return (flags & FLAG_CLEAN) != 0;
        }

        /** Written during this boot of this machine (so no power loss can have come in between). */
        boolean thisBoot() {
            byte[] now = currentBootId();
            return !Arrays.equals(now, NO_BOOT) && Arrays.equals(now, bootId);
        }
    }

    private final Path path;
    private final long systemId;
    private final FileChannel channel;
    private final MappedByteBuffer map;
    private final Value found;
    private final byte[] bootId = currentBootId();
    private long generation;

    private DurablePoint(Path path, long systemId, FileChannel channel, MappedByteBuffer map, Value found) {
        this.path = path;
        this.systemId = systemId;
        this.channel = channel;
        this.map = map;
        this.found = found;
        this.generation = found == null ? 0 : found.generation();
    }

    /**
     * Opens (creating it if missing: LSN 0, boot unknown) the durable point of the store
     * {@code systemId} for writing. What the file held, if it was intact and of this store, is
     * {@link #found}.
     */
    static DurablePoint openForWriting(Path dataDir, long systemId) {
        Path path = dataDir.resolve(FILE_NAME);
        if (!Files.exists(path)) {
            AtomicFiles.write(path, encode(0, systemId, 0, 0, NO_BOOT));
        }
        try {
            FileChannel ch = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
            if (ch.size() < SIZE) {
                ch.write(ByteBuffer.allocate(SIZE - (int) ch.size()), ch.size());
            }
            MappedByteBuffer map = ch.map(FileChannel.MapMode.READ_WRITE, 0, SIZE);
            Value v = read(map);
            if (v != null && v.systemId() != systemId) {
                v = null;
            }
            return new DurablePoint(path, systemId, ch, map, v);
        } catch (IOException e) {
            throw new UncheckedIOException("open " + path + ": " + e.getMessage(), e);
        }
    }

    Path path() {
        return path;
    }

    /** What the file held when opened: empty if it was damaged or of another store. */
    Optional<Value> found() {
        return Optional.ofNullable(found);
    }

    long generation() {
        return generation;
    }

    /** Recovery: rewrites the whole record in place (not clean, this boot) and syncs it. */
    void reset(long newGeneration, long lsn) {
        generation = newGeneration;
        map.put(0, encode(0, systemId, newGeneration, lsn, bootId));
        map.force();
    }

    /** Publishes a durable LSN: a plain memory write (sync thread). */
    void publish(long lsn) {
        map.putLong(24, lsn);
        int crc = crc(0, systemId, generation, lsn, bootId);
        VarHandle.storeStoreFence();
        map.putInt(CRC_AT, crc);
    }

    /** The store closed with everything synced: mark it so, sync, and let go of the file. */
    void closeCleanly(long lsn) {
        map.put(0, encode(FLAG_CLEAN, systemId, generation, lsn, bootId));
        close();
    }

    /** Lets go of the file (it stays as last published, not marked clean). */
    @Override
    public void close() {
        try {
            map.force();
        } finally {
            unmap(map);
            try {
                channel.close();
            } catch (IOException e) {
                throw new UncheckedIOException("close " + path, e);
            }
        }
    }

    static byte[] encode(int flags, long systemId, long generation, long lsn, byte[] bootId) {
        ByteBuffer b = ByteBuffer.allocate(SIZE);
        b.put(fields(flags, systemId, generation, lsn, bootId));
        b.putInt(crc(flags, systemId, generation, lsn, bootId));
        return b.array();
    }

    private static byte[] fields(int flags, long systemId, long generation, long lsn, byte[] bootId) {
        ByteBuffer b = ByteBuffer.allocate(CRC_AT);
        b.putInt(MAGIC).putShort((short) FORMAT_VERSION).putShort((short) flags);
        b.putLong(systemId).putLong(generation).putLong(lsn).put(bootId);
        return b.array();
    }

    private static int crc(int flags, long systemId, long generation, long lsn, byte[] bootId) {
        CRC32C c = new CRC32C();
        c.update(fields(flags, systemId, generation, lsn, bootId));
        return (int) c.getValue();
    }

    /** A consistent copy of the record, or null if it is not intact (after retrying a racing update). */
    private static Value read(ByteBuffer map) {
        byte[] copy = new byte[CRC_AT];
        for (int attempt = 0; attempt < 10_000; attempt++) {
            int before = map.getInt(CRC_AT);
            VarHandle.loadLoadFence();
            map.get(0, copy);
            VarHandle.loadLoadFence();
            int after = map.getInt(CRC_AT);
            ByteBuffer b = ByteBuffer.wrap(copy);
            if (before == after && b.getInt(0) == MAGIC && (b.getShort(4) & 0xFFFF) == FORMAT_VERSION) {
                CRC32C c = new CRC32C();
                c.update(copy);
                if ((int) c.getValue() == before) {
                    return new Value(b.getShort(6) & 0xFFFF, b.getLong(8), b.getLong(16), b.getLong(24),
                            Arrays.copyOfRange(copy, 32, 48));
                }
            }
            Thread.onSpinWait();
        }
        return null;
    }

    /** This machine's boot id (changes at every boot), or zeros where there is none. */
    static byte[] currentBootId() {
        try {
            String s = Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).trim();
            UUID u = UUID.fromString(s);
            return ByteBuffer.allocate(16).putLong(u.getMostSignificantBits()).putLong(u.getLeastSignificantBits()).array();
        } catch (IOException | RuntimeException e) {
            return NO_BOOT.clone();
        }
    }

    private static void unmap(MappedByteBuffer buffer) {
        try {
            Class<?> unsafeClass = Class.forName("sun.misc.Unsafe");
            java.lang.reflect.Field f = unsafeClass.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            Method clean = unsafeClass.getMethod("invokeCleaner", ByteBuffer.class);
            clean.invoke(f.get(null), buffer);
        } catch (ReflectiveOperationException | RuntimeException e) {
            // left to the garbage collector
        }
    }

    /**
     * Reads another process's durable point (read-only mapping, no system call per read). A
     * directory without the file (written before walship had it, or never opened for writing)
     * reads as empty until the file appears.
     */
    static final class Reader implements AutoCloseable {
        private final Path path;
        private FileChannel channel;
        private MappedByteBuffer map;

        Reader(Path dataDir) {
            this.path = dataDir.resolve(FILE_NAME);
        }

        /** The current record, or empty if there is no intact one (yet). */
        Optional<Value> read() {
            if (map == null && !tryMap()) {
                return Optional.empty();
            }
            return Optional.ofNullable(DurablePoint.read(map));
        }

        private boolean tryMap() {
            try {
                if (!Files.exists(path)) {
                    return false;
                }
                FileChannel ch = FileChannel.open(path, StandardOpenOption.READ);
                if (ch.size() < SIZE) {
                    ch.close();
                    return false;
                }
                channel = ch;
                map = ch.map(FileChannel.MapMode.READ_ONLY, 0, SIZE);
                return true;
            } catch (IOException e) {
                throw new UncheckedIOException("read " + path + ": " + e.getMessage(), e);
            }
        }

        @Override
        public void close() {
            if (map != null) {
                unmap(map);
                map = null;
            }
            if (channel != null) {
                try {
                    channel.close();
                } catch (IOException e) {
                    throw new UncheckedIOException("close " + path, e);
                }
                channel = null;
            }
        }
    }
}
