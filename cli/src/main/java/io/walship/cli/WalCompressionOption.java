package io.walship.cli;

import io.walship.wal.StoreOptions;
import io.walship.wal.WalCompression;
import picocli.CommandLine.Option;

/** The {@code --wal-compression} option of the commands that open a store that writes WAL (a picocli mixin). */
final class WalCompressionOption {
    @Option(names = "--wal-compression", paramLabel = "none|lz4|zstd", defaultValue = "${env:WALSHIP_WAL_COMPRESSION}",
            description = "Compress full-page images in the WAL written from now on, like PostgreSQL's wal_compression"
                    + " (default: none). WAL written with any setting stays readable. Env: WALSHIP_WAL_COMPRESSION.")
    String value;

    /** The chosen compression (the store's default if none was given). */
    WalCompression get() {
        return value == null ? StoreOptions.DEFAULT_WAL_COMPRESSION
                : Flags.parse("--wal-compression", value, WalCompression::parse);
    }

}
