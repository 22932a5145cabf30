package io.walship.protocol;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;

/**
 * The body of {@code GET /wal?from=LSN} ({@link Endpoints#WAL}): a sequence of WAL entries, each
 * {@code u64 lsn, u32 n, n bytes} (big-endian), the bytes exactly the encoded, CRC-protected entry
 * of the node's WAL (docs/FORMAT.md, "WAL entry") — the same layout as an entry of the replication
 * protocol's WAL frame. The body ends after the last entry; a reader decodes and checks each entry
 * and its LSN itself.
 */
public final class WalStream {
    /** The longest entry accepted (the WAL's own bound, 8 MiB, plus its header). */
    public static final int MAX_ENTRY_BYTES = (8 << 20) + 64;

    /** One entry of the stream. */
    public record Entry(long lsn, byte[] bytes) {
    }

    private WalStream() {
    }

    public static void write(DataOutputStream out, long lsn, byte[] bytes) throws IOException {
        out.writeLong(lsn);
        out.writeInt(bytes.length);
        out.write(bytes);
    }

    /** The next entry, or null at the end of the body; a body cut inside an entry is an {@link EOFException}. */
    public static Entry read(DataInputStream in) throws IOException {
        int first = in.read();
        if (first < 0) {
            return null;
        }
        long lsn = first & 0xFFL;
        for (int i = 1; i < 8; i++) {
            lsn = lsn << 8 | in.readUnsignedByte();
        }
        int n = in.readInt();
        if (n <= 0 || n > MAX_ENTRY_BYTES) {
            throw new IOException("WAL stream entry " + Long.toHexString(lsn) + " claims " + Integer.toUnsignedString(n)
                    + " bytes, outside 1.." + MAX_ENTRY_BYTES);
        }
        byte[] b = new byte[n];
        in.readFully(b);
        return new Entry(lsn, b);
    }
}
