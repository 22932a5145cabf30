package io.walship.restorer;

import java.time.Instant;

import io.walship.wal.Lsn;

/**
 * Where a restore stops: the end of the archive, an LSN, or a commit time. Inclusive targets
 * take every commit up to and including the target; exclusive ones stop just before it
 * (PostgreSQL's {@code recovery_target_inclusive}).
 */
public record RestoreTarget(Kind kind, long lsn, long timeMicros, boolean exclusive) {
    public enum Kind { END, LSN, TIME }

    public static RestoreTarget end() {
        return new RestoreTarget(Kind.END, 0, 0, false);
    }

    public static RestoreTarget lsn(long lsn, boolean exclusive) {
        if (lsn < 1) {
            throw new IllegalArgumentException("target LSN must be at least 1");
        }
        return new RestoreTarget(Kind.LSN, lsn, 0, exclusive);
    }

    public static RestoreTarget time(Instant time, boolean exclusive) {
        long micros = Math.addExact(Math.multiplyExact(time.getEpochSecond(), 1_000_000L), time.getNano() / 1_000);
        if (exclusive && time.getNano() % 1_000 != 0) {
            micros++; // commit times are whole µs: "before x.7 µs" includes a commit at x µs
        }
        return new RestoreTarget(Kind.TIME, 0, micros, exclusive);
    }

    /** Whether the commit at {@code lsn}, committed at {@code commitMicros}, belongs in the restored state. */
    public boolean includes(long entryLsn, long commitMicros) {
        return switch (kind) {
            case END -> true;
            case LSN -> exclusive ? entryLsn < lsn : entryLsn <= lsn;
            case TIME -> exclusive ? commitMicros < timeMicros : commitMicros <= timeMicros;
        };
    }

    public String describe() {
        String op = exclusive ? "before " : "up to ";
        return switch (kind) {
            case END -> "the end of the archive";
            case LSN -> op + "LSN " + Lsn.format(lsn);
            case TIME -> op + formatMicros(timeMicros);
        };
    }

    static String formatMicros(long micros) {
        return Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L), Math.floorMod(micros, 1_000_000L) * 1_000L).toString();
    }
}
