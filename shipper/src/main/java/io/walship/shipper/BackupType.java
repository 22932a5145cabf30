package io.walship.shipper;

/**
 * What kind of base backup to take (pgBackRest's {@code --type}). An incremental or differential
 * backup uploads only the pages whose page LSN is newer than its parent's LSN, with a manifest naming
 * the parent; when no usable parent is in the archive (none on this store's history, a broken chain,
 * another store's backups) a full backup is taken instead, and the log says why.
 */
public enum BackupType {
    /** The whole image. */
    FULL,
    /** Against the newest backup (full or incremental) on this store's history. */
    INCREMENTAL,
    /** Against the newest full backup on this store's history. */
    DIFFERENTIAL;

    /**
     * A type with the full-backup cadence: {@code fullEvery} N (0: none) takes a full backup instead once the
     * history since the newest full one holds N backups (the full one included), so a full is at most every
     * N backups and a chain never has more than N links (pgBackRest users schedule fulls and incrementals
     * apart; this is the same thing for one schedule).
     */
    public record Policy(BackupType type, int fullEvery) {
        public Policy {
            java.util.Objects.requireNonNull(type, "type");
            if (fullEvery < 0) {
                throw new IllegalArgumentException("fullEvery must not be negative");
            }
        }
    }

    public Policy policy() {
        return new Policy(this, 0);
    }

    /** {@code full}, {@code incr}/{@code incremental}, {@code diff}/{@code differential}. */
    public static BackupType parse(String s) {
        return switch (s.toLowerCase(java.util.Locale.ROOT)) {
            case "full" -> FULL;
            case "incr", "incremental" -> INCREMENTAL;
            case "diff", "differential" -> DIFFERENTIAL;
            default -> throw new IllegalArgumentException("unknown backup type '" + s + "' (full, incr or diff)");
        };
    }
}
