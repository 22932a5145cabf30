package io.walship.wal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.zip.CRC32C;

/**
 * The data directory's control file (docs/FORMAT.md, "Control file"): which store this is, its
 * timeline and the checkpoint that crash recovery redoes from. Rewritten atomically.
 *
 * <pre>
 *  0 u32 magic 'WSCF'
 *  4 u16 format version
 *  6 u16 page size
 *  8 u64 system id
 * 16 u32 timeline
 * 20 u64 checkpoint LSN: every change up to it is in the page file
 * 28 u64 checkpoint time (µs since epoch)
 * 36 u32 flags: bit 0 STANDBY (restored from the archive and not promoted: replay only, no writes)
 * 40 u32 CRC32C of bytes 0..39
 * </pre>
 */
public record ControlFile(long systemId, int timeline, long checkpointLsn, long checkpointTimeMicros, int flags) {
    public static final String FILE_NAME = "control";
    public static final int MAGIC = 0x57534346;
    public static final int FORMAT_VERSION = 1;
    public static final int FLAG_STANDBY = 1;
    private static final int KNOWN_FLAGS = FLAG_STANDBY;
    private static final int SIZE = 44;

    public ControlFile(long systemId, int timeline, long checkpointLsn, long checkpointTimeMicros) {
        this(systemId, timeline, checkpointLsn, checkpointTimeMicros, 0);
    }

    public ControlFile withCheckpoint(long lsn, long timeMicros) {
        return new ControlFile(systemId, timeline, lsn, timeMicros, flags);
    }

    public boolean standby() {
        return (flags & FLAG_STANDBY) != 0;
    }

    public ControlFile asStandby() {
        return new ControlFile(systemId, timeline, checkpointLsn, checkpointTimeMicros, flags | FLAG_STANDBY);
    }

    /** The store opened for writes on a new timeline (after {@code walship promote}). */
    public ControlFile promoted(int newTimeline) {
        return new ControlFile(systemId, newTimeline, checkpointLsn, checkpointTimeMicros, flags & ~FLAG_STANDBY);
    }

    /** The same standby, following a new timeline of its leader (a failover; the history is unchanged up to the fork). */
    public ControlFile onTimeline(int newTimeline) {
        return new ControlFile(systemId, newTimeline, checkpointLsn, checkpointTimeMicros, flags);
    }

    public byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(SIZE);
        b.putInt(MAGIC).putShort((short) FORMAT_VERSION).putShort((short) PageFormat.PAGE_SIZE);
        b.putLong(systemId).putInt(timeline).putLong(checkpointLsn).putLong(checkpointTimeMicros).putInt(flags);
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, 40);
        b.putInt((int) crc.getValue());
        return b.array();
    }

    public void write(Path dataDir) {
        AtomicFiles.write(dataDir.resolve(FILE_NAME), encode());
    }

    public static boolean exists(Path dataDir) {
        return Files.exists(dataDir.resolve(FILE_NAME));
    }

    /**
     * For a command that reads a stopped store (and must not create one at a mistyped path): throws
     * the error {@link #read} gives when {@code dataDir} holds no store.
     */
    public static void requireStore(Path dataDir) {
        if (!exists(dataDir)) {
            throw notAStore(dataDir);
        }
    }

    private static WalshipException notAStore(Path dataDir) {
        return new WalshipException(dataDir + " is not a walship data directory (no control file)");
    }

    public static ControlFile read(Path dataDir) {
        Path f = dataDir.resolve(FILE_NAME);
        byte[] data;
        try {
            data = Files.readAllBytes(f);
        } catch (NoSuchFileException e) {
            throw notAStore(dataDir);
        } catch (IOException e) {
            throw new UncheckedIOException("read " + f + ": " + e.getMessage(), e);
        }
        if (data.length != SIZE) {
            throw new IntegrityException("control file " + f + " is " + data.length + " bytes, expected " + SIZE);
        }
        ByteBuffer b = ByteBuffer.wrap(data);
        if (b.getInt() != MAGIC) {
            throw new IntegrityException(f + " is not a walship control file");
        }
        CRC32C crc = new CRC32C();
        crc.update(data, 0, 40);
        if ((int) crc.getValue() != b.getInt(40)) {
            throw new IntegrityException("control file " + f + " fails its checksum");
        }
        int version = b.getShort() & 0xFFFF;
        if (version != FORMAT_VERSION) {
            throw new FormatVersionException("control file " + f, version, FORMAT_VERSION);
        }
        int pageSize = b.getShort() & 0xFFFF;
        if (pageSize != PageFormat.PAGE_SIZE) {
            throw new FormatVersionException("page size of " + f, pageSize, PageFormat.PAGE_SIZE);
        }
        ControlFile c = new ControlFile(b.getLong(), b.getInt(), b.getLong(), b.getLong(), b.getInt());
        if ((c.flags() & ~KNOWN_FLAGS) != 0) {
            throw new IntegrityException("control file " + f + " has unknown flags 0x" + Integer.toHexString(c.flags())
                    + "; it was written by a newer walship");
        }
        return c;
    }
}
