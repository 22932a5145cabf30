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
import java.util.Optional;
import java.util.zip.CRC32C;

/**
 * {@code DATA/durable-point} (docs/FORMAT.md, "Durable point"): the highest LSN known to be
 * durable in the WAL, for other processes reading the same data directory (a shipper, a WAL
 * inspection) and for crash recovery's end-of-WAL rule. 64 bytes, big-endian:
 *
 * <pre>
 *  0 u32 magic 'WSDP'
 *  4 u16 format version (1)
 *  6 u16 reserved (0)
 *  8 u64 system id
 * 16 u64 WAL generation: +1 each time recovery cuts a torn tail off the WAL
 * 24 u64 durable LSN
 * 32 u32 CRC32C of bytes 0..31
 * 36 28 bytes reserved (0)
 * </pre>
 *
 * <p>The writer maps the file and, after every successful WAL sync, stores the new LSN and then
 * the new CRC: a memory write, no system call. The kernel writes the page back when it likes, so
 * after a power loss the file may lag, never lead: it only ever holds an LSN that was durable.
 * Recovery rewrites it in place and syncs it; it is created once (atomically) and never
 * replaced, so a reader's mapping stays valid. Readers take a consistent copy by reading the CRC
 * before and after the fields and retrying on a mismatch.
 *
 * <p>The writer side is used by the store's sync thread (publish) and by the opening thread
 * before that (reset); not thread-safe beyond that hand-off. {@link Reader} is not thread-safe.
 */
final class DurablePoint implements AutoCloseable {
    static final String FILE_NAME = "durable-point";
    static final int MAGIC = 0x57534450;
    static final int FORMAT_VERSION = 1;
    static final int SIZE = 64;

    /** A consistent copy of the file. */
    record Value(long systemId, long generation, long lsn) {
    }

    private final Path path;
    private final long systemId;
    private final FileChannel channel;
    private final MappedByteBuffer map;
    private final byte[] scratch = new byte[32];
    private final Value found;
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
     * Opens (creating it if missing) the durable point of the store {@code systemId} for writing.
     * What the file held, if it was intact and of this store, is {@link #found}.
     */
    static DurablePoint openForWriting(Path dataDir, long systemId) {
        Path path = dataDir.resolve(FILE_NAME);
        if (!Files.exists(path)) {
            AtomicFiles.write(path, encode(systemId, 0, 0));
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

    /** What the file held when opened: empty if it was new, damaged or of another store. */
    Optional<Value> found() {
        return Optional.ofNullable(found);
    }

    long generation() {
        return generation;
    }

    /** Recovery: rewrites the whole record in place and syncs it. */
    void reset(long newGeneration, long lsn) {
        generation = newGeneration;
        map.put(0, encode(systemId, newGeneration, lsn));
        force();
    }

    /** Publishes a durable LSN: a plain memory write (sync thread). */
    void publish(long lsn) {
        map.putLong(24, lsn);
        int crc = crc(systemId, generation, lsn);
        VarHandle.storeStoreFence();
        map.putInt(32, crc);
    }

    /** Writes the mapped page back (at close, and by recovery). */
    void force() {
        map.force();
    }

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

    static byte[] encode(long systemId, long generation, long lsn) {
        ByteBuffer b = ByteBuffer.allocate(SIZE);
        b.putInt(MAGIC).putShort((short) FORMAT_VERSION).putShort((short) 0);
        b.putLong(systemId).putLong(generation).putLong(lsn);
        b.putInt(crc(systemId, generation, lsn));
        return b.array();
    }

    private static int crc(long systemId, long generation, long lsn) {
        ByteBuffer b = ByteBuffer.allocate(32);
        b.putInt(MAGIC).putShort((short) FORMAT_VERSION).putShort((short) 0);
        b.putLong(systemId).putLong(generation).putLong(lsn);
        CRC32C c = new CRC32C();
        c.update(b.array(), 0, 32);
        return (int) c.getValue();
    }

    /** A consistent copy of the record, or null if it is not intact (after retrying a racing update). */
    private static Value read(ByteBuffer map) {
        byte[] copy = new byte[32];
        for (int attempt = 0; attempt < 10_000; attempt++) {
            int before = map.getInt(32);
            VarHandle.loadLoadFence();
            map.get(0, copy);
            VarHandle.loadLoadFence();
            int after = map.getInt(32);
            ByteBuffer b = ByteBuffer.wrap(copy);
            if (before == after && b.getInt(0) == MAGIC && (b.getShort(4) & 0xFFFF) == FORMAT_VERSION) {
                long sys = b.getLong(8);
                long gen = b.getLong(16);
                long lsn = b.getLong(24);
                if (crc(sys, gen, lsn) == before) {
                    return new Value(sys, gen, lsn);
                }
            }
            Thread.onSpinWait();
        }
        return null;
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
