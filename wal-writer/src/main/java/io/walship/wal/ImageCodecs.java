package io.walship.wal;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdException;

import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Exception;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;

/**
 * Compresses and decompresses full-page images for {@link EntryCodec} with the libraries, never
 * by hand. Working memory (a page buffer, a buffer for an entry's compressed images, the native
 * Zstandard contexts) lives in {@link Scratch}es taken from a small shared pool and given back
 * after each entry: nothing large is allocated per entry, and no native context is tied to a
 * thread that may die. At most {@value #MAX_POOLED} are kept, each a page plus the buffer for one
 * entry's compressed images (kept up to 1 MiB; a larger one is dropped when returned) and, once
 * Zstandard was used, its native contexts off the heap: about 32 MiB of heap at worst, after
 * entries of many images were coded on many threads at once (docs/OPERATIONS.md, "Sizing").
 * Only the libraries' own exceptions for input they cannot decompress are integrity errors; a
 * library that cannot load (no native Zstandard for the platform) is a {@link WalshipException}
 * saying so, and anything else propagates as the bug it is. Thread-safe.
 */
final class ImageCodecs {
    /** Scratches kept for reuse; more are made when more threads code at once, and dropped after. */
    private static final int MAX_POOLED = 32;
    /** A scratch whose compressed-image buffer grew past this (a huge entry) gives it up when returned. */
    private static final int MAX_KEPT_PACKED = 1 << 20;
    private static final ConcurrentLinkedQueue<Scratch> POOL = new ConcurrentLinkedQueue<>();
    private static final AtomicInteger POOLED = new AtomicInteger();

    private ImageCodecs() {
    }

    /** LZ4 is loaded (its native library extracted) only once a store uses it. */
    private static final class Lz4 {
        static final LZ4Factory FACTORY = LZ4Factory.fastestInstance();
        static final LZ4Compressor COMPRESSOR = FACTORY.fastCompressor();
        /** The safe decompressor: bounds-checked on damaged input (the "fast" one is not). */
        static final LZ4SafeDecompressor DECOMPRESSOR = FACTORY.safeDecompressor();
    }

    /** One coder's working memory; used by one thread between {@link #take} and {@link #give}. */
    static final class Scratch {
        /** A page without its hole, to compress from or decompress into. */
        final byte[] page = new byte[PageFormat.PAGE_SIZE];
        /** An entry's compressed images, back to back. */
        byte[] packed = new byte[0];
        private final java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        /** The image's page number, hole offset and hole length, as its CRC covers them. */
        private final byte[] head = new byte[8];
        private ZstdCompressCtx zc;
        private ZstdDecompressCtx zd;

        /** {@link #packed}, grown to at least {@code size} bytes (its content kept). */
        byte[] packed(int size) {
            if (packed.length < size) {
                packed = java.util.Arrays.copyOf(packed, Math.max(size, packed.length * 2));
            }
            return packed;
        }

        private void close() {
            if (zc != null) {
                zc.close();
            }
            if (zd != null) {
                zd.close();
            }
        }
    }

    static Scratch take() {
        Scratch s = POOL.poll();
        if (s == null) {
            return new Scratch();
        }
        POOLED.decrementAndGet();
        return s;
    }

    static void give(Scratch s) {
        if (s.packed.length > MAX_KEPT_PACKED) {
            s.packed = new byte[0];
        }
        if (POOLED.incrementAndGet() <= MAX_POOLED) {
            POOL.offer(s);
        } else {
            POOLED.decrementAndGet();
            s.close();
        }
    }

    /**
     * The image CRC of page {@code pageNo} whose bytes without the hole are {@code s.page[0, len)}:
     * the CRC32C of the page number (u32), hole offset and hole length (u16 each), big-endian as
     * the entry stores them, followed by those bytes. So it covers the page the image rebuilds and
     * which page that is, not only the bytes the codec gives: a hole moved or a page number
     * changed under a recomputed entry CRC is caught as well as damaged compressed bytes.
     */
    static int crc(Scratch s, int pageNo, int holeOff, int holeLen, int len) {
        PageFormat.putInt(s.head, 0, pageNo);
        PageFormat.putShort(s.head, 4, (short) holeOff);
        PageFormat.putShort(s.head, 6, (short) holeLen);
        s.crc.reset();
        s.crc.update(s.head, 0, s.head.length);
        s.crc.update(s.page, 0, len);
        return (int) s.crc.getValue();
    }

    /** The most bytes compressing {@code len} bytes with {@code c} can give. */
    static int maxCompressedLength(WalCompression c, int len) {
        try {
            return switch (c) {
                case LZ4 -> Lz4.COMPRESSOR.maxCompressedLength(len);
                case ZSTD -> (int) Zstd.compressBound(len);
                case NONE -> throw new IllegalArgumentException("no codec");
            };
        } catch (LinkageError e) {
            throw unavailable(c, e);
        }
    }

    /**
     * A codec library that cannot be loaded here (zstd-jni has no native library for this
     * platform, or cannot extract it): not damage, and not to be reported as such.
     */
    private static WalshipException unavailable(WalCompression c, LinkageError e) {
        String lib = c == WalCompression.LZ4 ? "lz4-java" : "zstd-jni";
        return new WalshipException("the " + c.flagValue() + " codec (" + lib + ") cannot be loaded on this host ("
                + e + "): WAL full-page images compressed with it can be neither written nor read here", e);
    }

    /**
     * Compresses {@code s.page[0, len)} into {@code dst[dstOff, dstOff + maxCompressedLength)};
     * returns the compressed length.
     */
    static int compress(WalCompression c, Scratch s, int len, byte[] dst, int dstOff) {
        int cap = maxCompressedLength(c, len);
        try {
            switch (c) {
                case LZ4:
                    return Lz4.COMPRESSOR.compress(s.page, 0, len, dst, dstOff, cap);
                case ZSTD:
                    if (s.zc == null) {
                        s.zc = new ZstdCompressCtx().setLevel(WalCompression.ZSTD_LEVEL).setChecksum(false);
                    }
                    return s.zc.compressByteArray(dst, dstOff, cap, s.page, 0, len);
                default:
                    throw new IllegalArgumentException("no codec");
            }
        } catch (LinkageError e) {
            throw unavailable(c, e);
        }
    }

    /**
     * Decompresses {@code src[off, off + len)}, stored with codec byte {@code codec}, into
     * {@code s.page[0, expected)} ({@code expected} = page size - {@code holeLen}), the image of
     * page {@code pageNo} in the entry at LSN {@code lsn}, and checks its image CRC
     * ({@link #crc}) is {@code expectedCrc}: a codec without a checksum of its own (LZ4) can turn
     * damaged bytes into a wrong page of the right size.
     *
     * @throws IntegrityException if the codec is unknown, the bytes do not decompress, or they
     *                            give other than {@code expected} bytes, or another image CRC
     */
    static void decompress(int codec, Scratch s, byte[] src, int off, int len, int pageNo, int holeOff, int holeLen,
                           int expectedCrc, long lsn) {
        int expected = PageFormat.PAGE_SIZE - holeLen;
        WalCompression c = WalCompression.ofCodec(codec);
        if (c == null) {
            throw new IntegrityException(EntryCodec.where(lsn) + " has a full-page image with unknown codec " + codec);
        }
        int n;
        try {
            if (c == WalCompression.LZ4) {
                n = Lz4.DECOMPRESSOR.decompress(src, off, len, s.page, 0, expected);
            } else {
                if (s.zd == null) {
                    s.zd = new ZstdDecompressCtx();
                }
                n = s.zd.decompressByteArray(s.page, 0, expected, src, off, len);
            }
        } catch (LZ4Exception | ZstdException e) { // the library's word for input it cannot decompress
            throw new IntegrityException(EntryCodec.where(lsn) + " has a " + c.flagValue() + " full-page image that does not"
                    + " decompress (" + e.getMessage() + ")", e);
        } catch (LinkageError e) {
            throw unavailable(c, e);
        }
        if (n != expected) {
            throw new IntegrityException(EntryCodec.where(lsn) + " has a " + c.flagValue() + " full-page image that decompresses to "
                    + n + " bytes, not the " + expected + " it must hold");
        }
        if (crc(s, pageNo, holeOff, holeLen, n) != expectedCrc) {
            throw new IntegrityException(EntryCodec.where(lsn) + " has a " + c.flagValue() + " full-page image that"
                    + " fails its checksum (its bytes, page number or hole are not what was written)");
        }
    }
}
