package io.walship.archive;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Locale;

import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;
import org.apache.commons.compress.compressors.lz4.FramedLZ4CompressorInputStream;
import org.apache.commons.compress.compressors.lz4.FramedLZ4CompressorOutputStream;
import org.apache.commons.compress.compressors.zstandard.ZstdCompressorInputStream;
import org.apache.commons.compress.compressors.zstandard.ZstdCompressorOutputStream;

/** Compression of archive objects, through Apache Commons Compress (zstd via zstd-jni). */
public enum Codec {
    NONE(0, "raw"),
    ZSTD(1, "zst"),
    LZ4(2, "lz4"),
    GZIP(3, "gz");

    private final int id;
    private final String extension;

    Codec(int id, String extension) {
        this.id = id;
        this.extension = extension;
    }

    public int id() {
        return id;
    }

    /** The file-name extension used in object keys. */
    public String extension() {
        return extension;
    }

    public static Codec byId(int id) {
        for (Codec c : values()) {
            if (c.id == id) {
                return c;
            }
        }
        throw new IllegalArgumentException("unknown codec id " + id);
    }

    /** Parses {@code zstd}, {@code lz4}, {@code gzip} or {@code none} (case-insensitive). */
    public static Codec parse(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "zstd", "zst" -> ZSTD;
            case "lz4" -> LZ4;
            case "gzip", "gz" -> GZIP;
            case "none", "raw" -> NONE;
            default -> throw new IllegalArgumentException("unknown codec '" + name + "' (zstd, lz4, gzip or none)");
        };
    }

    /** Wraps {@code out}; closing the result finishes the compressed stream and closes {@code out}. */
    public OutputStream compress(OutputStream out) throws IOException {
        return switch (this) {
            case NONE -> out;
            case ZSTD -> new ZstdCompressorOutputStream(out, ZSTD_LEVEL);
            case LZ4 -> new FramedLZ4CompressorOutputStream(out);
            case GZIP -> new GzipCompressorOutputStream(out);
        };
    }

    /**
     * Like {@link #compress(OutputStream)}, for one large object (a base backup's image): zstd
     * compresses on {@code workers} threads of its own (at most {@link #MAX_WORKERS}), beside the
     * thread that writes, at the same level and into the same format (one frame, read back by
     * {@link #decompress}). Other codecs, or {@code workers} below 1, compress on the writing thread.
     */
    public OutputStream compress(OutputStream out, int workers) throws IOException {
        if (this != ZSTD || workers < 1) {
            return compress(out);
        }
        com.github.luben.zstd.ZstdOutputStreamNoFinalizer z = new com.github.luben.zstd.ZstdOutputStreamNoFinalizer(out);
        try {
            z.setLevel(ZSTD_LEVEL);
            z.setWorkers(Math.min(workers, MAX_WORKERS));
        } catch (IOException | RuntimeException e) {
            z.close();
            throw e;
        }
        return z;
    }

    /** zstd's level, in every archive object. */
    static final int ZSTD_LEVEL = 3;
    /** The most compression threads {@link #compress(OutputStream, int)} starts (each holds some MiB of native memory). */
    public static final int MAX_WORKERS = 2;

    public InputStream decompress(InputStream in) throws IOException {
        return switch (this) {
            case NONE -> in;
            case ZSTD -> new ZstdCompressorInputStream(in);
            case LZ4 -> new FramedLZ4CompressorInputStream(in);
            case GZIP -> new GzipCompressorInputStream(in);
        };
    }
}
