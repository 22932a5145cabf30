package io.walship.shipper.repl;

import java.time.Duration;
import java.util.Locale;
import java.util.Objects;

import io.walship.protocol.BadInputException;

/**
 * A leader's commit mode ({@code --sync-mode}, {@code --sync-quorum}, {@code --sync-timeout},
 * {@code --on-sync-timeout}; README, "Commit modes"): what a commit waits for after it is durable on
 * the leader. Immutable.
 *
 * @param mode      async (nothing), semi-sync (one follower's flush), sync (quorum followers' flushes)
 * @param quorum    followers that must have flushed a commit in sync mode (1 for the other modes)
 * @param timeout   how long a commit waits for its acks before {@code onTimeout} applies
 * @param onTimeout block (keep waiting) or degrade (answer without the acks, until followers catch up)
 */
public record SyncOptions(Mode mode, int quorum, Duration timeout, OnTimeout onTimeout) {
    /** What a commit waits for, weakest first. */
    public enum Mode {
        ASYNC("async"), SEMI_SYNC("semi-sync"), SYNC("sync");

        private final String flag;

        Mode(String flag) {
            this.flag = flag;
        }

        /** As the flag, {@code ?sync=} and the {@code Walship-Sync} header spell it. */
        public String flag() {
            return flag;
        }

        /** @throws BadInputException not async, semi-sync or sync */
        public static Mode parse(String what, String s) {
            for (Mode m : values()) {
                if (m.flag.equals(s)) {
                    return m;
                }
            }
            throw new BadInputException(what + " must be async, semi-sync or sync, got '" + s + "'");
        }
    }

    /** What a commit does when no acks came within the timeout. */
    public enum OnTimeout {
        BLOCK, DEGRADE;

        public String flag() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** @throws BadInputException not block or degrade */
        public static OnTimeout parse(String s) {
            return switch (s) {
                case "block" -> BLOCK;
                case "degrade" -> DEGRADE;
                default -> throw new BadInputException("--on-sync-timeout must be block or degrade, got '" + s + "'");
            };
        }
    }

    /** The longest {@code --sync-timeout}: about 114 years, far from overflowing a nanosecond deadline. */
    public static final Duration MAX_TIMEOUT = Duration.ofHours(1_000_000);

    public SyncOptions {
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(timeout, "timeout");
        Objects.requireNonNull(onTimeout, "onTimeout");
        if (quorum < 1) {
            throw new BadInputException("--sync-quorum must be at least 1, got " + quorum);
        }
        if (mode != Mode.SYNC && quorum != 1) {
            throw new BadInputException("--sync-quorum " + quorum + " needs --sync-mode sync (" + mode.flag()
                    + " waits for " + (mode == Mode.ASYNC ? "no follower" : "one follower") + ")");
        }
        if (timeout.isNegative() || timeout.isZero()) {
            throw new BadInputException("--sync-timeout must be positive, got " + timeout);
        }
        if (timeout.compareTo(MAX_TIMEOUT) > 0) {
            // deadlines are System.nanoTime() + timeout in nanos: far beyond this they overflow
            throw new BadInputException("--sync-timeout must be at most " + MAX_TIMEOUT.toHours() + "h, got " + timeout);
        }
    }

    /** Commits wait for nothing but the leader's own sync. */
    public static SyncOptions async() {
        return new SyncOptions(Mode.ASYNC, 1, Duration.ofSeconds(10), OnTimeout.DEGRADE);
    }

    /**
     * The default when {@code --on-sync-timeout} is not given: degrade for semi-sync (as MySQL's
     * semi-sync falls back to async after {@code rpl_semi_sync_source_timeout}), block for sync (as
     * PostgreSQL's synchronous commit waits for its standbys for ever).
     */
    public static OnTimeout defaultOnTimeout(Mode mode) {
        return mode == Mode.SYNC ? OnTimeout.BLOCK : OnTimeout.DEGRADE;
    }

    /** Followers whose flush a commit in {@code m} waits for, under these options: 0, 1 or the quorum. */
    public int required(Mode m) {
        return switch (m) {
            case ASYNC -> 0;
            case SEMI_SYNC -> 1;
            case SYNC -> quorum;
        };
    }

    /** Followers whose flush a commit waits for in the leader's own mode. */
    public int required() {
        return required(mode);
    }

    /** As /status shows it: {@code async}, {@code semi-sync} or {@code sync (quorum K)}. */
    @Override
    public String toString() {
        return mode.flag() + (mode == Mode.SYNC ? " (quorum " + quorum + ")" : "")
                + (mode == Mode.ASYNC ? "" : ", timeout " + timeout + " then " + onTimeout.flag());
    }
}
