package io.walship.cli;

import io.walship.shipper.repl.SyncOptions;
import picocli.CommandLine.Option;

/**
 * The commit mode options ({@code --sync-mode}, {@code --sync-quorum}, {@code --sync-timeout},
 * {@code --on-sync-timeout}), shared by {@code walship leader} and {@code walship follow} (where they
 * apply once the follower is promoted, so that a failover keeps the commit mode).
 */
final class SyncModeOptions {
    @Option(names = "--sync-mode", paramLabel = "MODE", defaultValue = "${env:WALSHIP_SYNC_MODE:-async}",
            description = "What a commit waits for once durable here: async (nothing; default), semi-sync (one"
                    + " follower's flush) or sync (--sync-quorum followers' flushes). Needs --repl unless async."
                    + " Env: WALSHIP_SYNC_MODE.")
    String syncMode;

    @Option(names = "--sync-quorum", paramLabel = "K", defaultValue = "1",
            description = "With --sync-mode sync: followers (any K connected ones) that must have flushed a commit"
                    + " (default ${DEFAULT-VALUE}).")
    int syncQuorum;

    @Option(names = "--sync-timeout", paramLabel = "DURATION", defaultValue = "10s",
            description = "How long a commit waits for follower acks before --on-sync-timeout applies"
                    + " (default ${DEFAULT-VALUE}).")
    String syncTimeout;

    @Option(names = "--on-sync-timeout", paramLabel = "POLICY",
            description = "No acks within --sync-timeout: block (keep waiting) or degrade (answer with"
                    + " Walship-Sync: degraded until followers catch up). Default: degrade for semi-sync, block"
                    + " for sync.")
    String onSyncTimeout;

    /** The commit mode these options give (exit 2 if bad). */
    SyncOptions options() {
        SyncOptions.Mode mode = SyncOptions.Mode.parse("--sync-mode", syncMode);
        SyncOptions.OnTimeout onTimeout = onSyncTimeout == null ? SyncOptions.defaultOnTimeout(mode)
                : SyncOptions.OnTimeout.parse(onSyncTimeout);
        return new SyncOptions(mode, syncQuorum, Flags.positiveDuration("--sync-timeout", syncTimeout), onTimeout);
    }
}
