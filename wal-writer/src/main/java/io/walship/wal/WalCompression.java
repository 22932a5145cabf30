package io.walship.wal;

import java.util.Locale;

/**
 * How a store compresses the full-page images it writes to its WAL, like PostgreSQL's
 * {@code wal_compression} (docs/FORMAT.md, "WAL entry"). Each image records its own codec, so
 * WAL written with any setting (or a mix, the option changed across restarts) is read by every
 * build that knows the codec; an image that would not shrink is stored plain.
 */
public enum WalCompression {
    /** Images are stored as they are (without their hole): the format every build reads. */
    NONE(0),
    /** LZ4 block format (lz4-java, its fast compressor). */
    LZ4(1),
    /** A Zstandard frame (zstd-jni) at level {@link #ZSTD_LEVEL}. */
    ZSTD(2);

    /** The Zstandard level: the fastest one, as bytes on the commit path cost more than ratio. */
    public static final int ZSTD_LEVEL = 1;

    /** The codec byte stored before a compressed image (0 is never stored). */
    final int codec;

    WalCompression(int codec) {
        this.codec = codec;
    }

    /** The codec with this stored byte, or null if this build knows none. */
    static WalCompression ofCodec(int codec) {
        for (WalCompression c : values()) {
            if (c.codec == codec && c != NONE) {
                return c;
            }
        }
        return null;
    }

    /** As a CLI flag or config file gives it: {@code none}, {@code lz4} or {@code zstd}. */
    public static WalCompression parse(String text) {
        for (WalCompression c : values()) {
            if (c.name().equalsIgnoreCase(text.trim())) {
                return c;
            }
        }
        throw new IllegalArgumentException("WAL compression '" + text + "' is not one of none, lz4, zstd");
    }

    /** The name a CLI flag takes. */
    public String flagValue() {
        return name().toLowerCase(Locale.ROOT);
    }
}
