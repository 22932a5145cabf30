package io.walship.cli;

import io.walship.shipper.repl.SyncOptions;
import picocli.CommandLine.Option;

/**
 * The commit mode flags — {@code --sync-mode}, {@code --sync-quorum}, {@code --sync-timeout},
 * {@code --on-sync-timeout} — of {@code walship leader}, and of {@code walship follow}, where they
 * apply once the follower is promoted (a picocli mixin). See README, "Commit modes".
 */
final class SyncModeOptions {
    @Option(names = "--sync-mode", paramLabel = "MODE", defaultValue = "${env:WALSHIP_SYNC_MODE:-async}",
            description = "What a commit waits for once durable on the leader (on a follower: once it is promoted):"
                    + " async (nothing; default), semi-sync (one follower's flush) or sync (--sync-quorum followers'"
                    + " flushes). Needs --repl unless async. Env: WALSHIP_SYNC_MODE.")
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

    /** The commit mode the flags give (exit 2 if one is bad). */
    SyncOptions syncOptions() {
        SyncOptions.Mode mode = SyncOptions.Mode.parse("--sync-mode", syncMode);
        SyncOptions.OnTimeout onTimeout = onSyncTimeout == null ? SyncOptions.defaultOnTimeout(mode)
                : SyncOptions.OnTimeout.parse(onSyncTimeout);
        return new SyncOptions(mode, syncQuorum, Flags.positiveDuration("--sync-timeout", syncTimeout), onTimeout);
    }

    /**
     * The commit mode, checked against where followers connect (exit 2): a mode that waits for
     * followers needs a replication port, and a quorum no more followers than may connect.
     *
     * @param hasRepl      the node serves followers ({@code --repl})
     * @param maxFollowers     how many followers may connect at once
     * @param maxFollowersName how the error names that limit (e.g. {@code --repl-max-followers 16})
     */
    SyncOptions checked(boolean hasRepl, int maxFollowers, String maxFollowersName) {
        SyncOptions sync = syncOptions();
        if (sync.mode() != SyncOptions.Mode.ASYNC && !hasRepl) {
            throw new CliException(ExitCodes.USAGE, "--sync-mode " + sync.mode().flag() + " needs --repl HOST:PORT:"
                    + " commits wait for followers, which connect there");
        }
        if (sync.required() > maxFollowers) {
            throw new CliException(ExitCodes.USAGE, "--sync-quorum " + sync.quorum() + " is more than "
                    + maxFollowersName + ": no commit could ever be acknowledged");
        }
        return sync;
    }
}
