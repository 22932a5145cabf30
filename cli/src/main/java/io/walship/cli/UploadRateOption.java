package io.walship.cli;

import io.walship.archive.UploadLimit;
import picocli.CommandLine.Option;

/**
 * {@code --max-upload-rate RATE} (a picocli mixin) of the commands that upload to the archive: ship,
 * backup, leader. One limit per process, shared by everything it uploads (docs/OPERATIONS.md,
 * "Upload rate limit").
 */
final class UploadRateOption {
    @Option(names = "--max-upload-rate", paramLabel = "RATE", defaultValue = "${env:WALSHIP_MAX_UPLOAD_RATE}",
            description = "Upload to the archive at most this fast, e.g. 50MiB/s (B/s, KiB/s, MiB/s or GiB/s; at least"
                    + " 1KiB/s); everything this process uploads shares it. Default: no limit."
                    + " Env: WALSHIP_MAX_UPLOAD_RATE.")
    String rate;

    /** The limit, or {@link UploadLimit#NONE}; a bad value is a usage error (exit 2). */
    UploadLimit limit() {
        return rate == null || rate.isBlank() ? UploadLimit.NONE : Flags.parse("--max-upload-rate", rate, UploadLimit::parse);
    }
}
