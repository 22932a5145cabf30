package io.walship.cli;

import io.walship.shipper.WalShipper;
import io.walship.wal.Units;
import picocli.CommandLine.Option;

/**
 * The flags that set how often a continuous shipper uploads and lists the archive (its request
 * bill; docs/OPERATIONS.md, "The request bill"), shared by {@code walship ship} and
 * {@code walship leader}.
 */
final class ShipPacing {
    @Option(names = "--segment-max-age", paramLabel = "DURATION", defaultValue = "0s",
            description = "Upload a segment that is not full only once its oldest entry is this old: at most one PUT"
                    + " per DURATION (plus one per full segment), and the archive's RPO grows by as much. Default"
                    + " ${DEFAULT-VALUE}: every run uploads what is new. A graceful stop and a new shipper's first"
                    + " run ship everything. At most 8760h.")
    String segmentMaxAge;

    @Option(names = "--archive-recheck", paramLabel = "DURATION", defaultValue = "1m",
            description = "A run that uploads nothing lists the archive at most this often (it knows the"
                    + " archive's end from its own uploads); a run about to upload, or after a failed run, lists"
                    + " first (default ${DEFAULT-VALUE}; 0s: before every run; at most 8760h).")
    String archiveRecheck;

    /** {@code options} with these flags' values; a bad value is exit 2. */
    WalShipper.Options apply(WalShipper.Options options) {
        // each checked by the options themselves (at most 8760h), so the error names its flag
        WalShipper.Options aged = Flags.parse("--segment-max-age", segmentMaxAge,
                t -> options.withSegmentMaxAge(Units.duration(t)));
        return Flags.parse("--archive-recheck", archiveRecheck,
                t -> aged.withArchiveRecheck(Units.duration(t)));
    }
}
