package io.walship.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

import io.walship.archive.ObjectStore;
import io.walship.protocol.BadInputException;
import io.walship.protocol.Json;
import io.walship.restorer.Restore;
import io.walship.restorer.RestorePlan;
import io.walship.restorer.RestoreTarget;
import io.walship.wal.Lsn;
import io.walship.wal.Store;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code walship restore}: build a data directory from the archive, optionally to a point in time. */
@Command(name = "restore", mixinStandardHelpOptions = true,
        description = {"Restore a data directory from the archive, to its end or to a point in time.",
                "%nIt takes the newest base backup that reaches the target and replays the WAL after it in LSN"
                        + " order up to the target (default: everything archived). Every object is checked; a gap or"
                        + " a corrupt object stops the restore with exit code 3 and names it.",
                "%nThe result is a standby that serves reads only until it is promoted (--promote or"
                        + " 'walship promote')."})
final class RestoreCommand implements Callable<Integer> {
    @picocli.CommandLine.Mixin
    ArchiveOption archive;
    @Option(names = "--target", paramLabel = "DIR", required = true, description = "Directory to restore into (created; must be empty unless --force).")
    Path dir;
    @Option(names = "--time", paramLabel = "TIME",
            description = "Stop at this commit time, e.g. 2026-11-23T10:15:30.123Z (ISO-8601 with Z or an offset).")
    String time;
    @Option(names = "--lsn", paramLabel = "LSN", description = "Stop at this LSN (16 hex digits, 0x.. or decimal).")
    String lsn;
    @Option(names = "--exclusive", description = "Stop just before the target instead of at it.")
    boolean exclusive;
    @Option(names = "--timeline", paramLabel = "latest|N", defaultValue = "latest",
            description = "Timeline to follow: latest (default) or a number.")
    String timeline;
    @Option(names = "--parallel", paramLabel = "N", defaultValue = "4", description = "Concurrent downloads (default 4).")
    int parallel;
    @Option(names = "--cache-size", paramLabel = "SIZE", defaultValue = "128MiB",
            description = "Pages held in memory during replay, at least 256KiB and at most a quarter of the heap"
                    + " (default ${DEFAULT-VALUE});"
                    + " pages evicted from it are written to --target. Memory does not grow with the store.")
    String cacheSize;
    @Option(names = "--force", description = "Replace the contents of a non-empty --target directory.")
    boolean force;
    @Option(names = "--promote", description = "Open the result for writes on a new timeline (claimed in the archive).")
    boolean promote;
    @Option(names = "--json", description = "Print a JSON summary.")
    boolean json;
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        RestoreTarget target = Flags.options(() -> parseTarget(time, lsn, exclusive));
        int tl = parseTimeline(timeline);
        Restore.Options options = Flags.options(() -> Restore.Options.defaults().withTarget(target).withForce(force)
                .withPromote(promote).withTimeline(tl).withParallel(parallel)
                .withPoolPages(Restore.Options.poolPages(Flags.cacheSize("--cache-size", cacheSize))));
        checkTarget(dir, force);
        Restore.Result r;
        try (ObjectStore store = archive.open()) {
            r = Restore.run(store, dir, options, new ProgressListener());
        }
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(Json.write(toJson(r)));
        } else {
            out.printf("restored %s to LSN %s (timeline %d, committed %s) from %s: %d WAL entries in %d segments,"
                            + " %.1f MiB downloaded in %.1f s%n", dir, Lsn.format(r.lsn()), r.timeline(), r.commitTime(),
                    r.backupKey(), r.entries(), r.segments(), (r.backupObjectBytes() + r.walObjectBytes()) / 1048576.0,
                    r.seconds());
            out.println(r.promotedTimeline() > 0 ? "promoted: it takes writes on timeline " + r.promotedTimeline()
                    : "it is a standby: reads only until 'walship promote --data " + dir + " --archive URI'");
            if (r.promotedBackup() != null) {
                out.println("took base backup " + r.promotedBackup() + " on timeline " + r.promotedTimeline()
                        + ": retention may prune the backup this restore started from (see the log)");
            }
            out.println("followed timeline " + r.followedTimeline() + (r.otherTimelines().isEmpty()
                    ? "; the archive holds no other history" : ""));
            for (RestorePlan.OtherTimeline o : r.otherTimelines()) {
                out.println("note: " + o.note());
            }
        }
        return ExitCodes.OK;
    }

    static Map<String, Object> toJson(Restore.Result r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("backup", r.backupKey());
        m.put("backupLsn", Lsn.format(r.backupLsn()));
        m.put("lsn", Lsn.format(r.lsn()));
        m.put("timeline", r.timeline());
        m.put("time", r.commitTime());
        m.put("entries", r.entries());
        m.put("segments", r.segments());
        m.put("backupObjectBytes", r.backupObjectBytes());
        m.put("imageBytes", r.imageBytes());
        m.put("walObjectBytes", r.walObjectBytes());
        m.put("walBytes", r.walBytes());
        m.put("backupSeconds", r.backupSeconds());
        m.put("replaySeconds", r.replaySeconds());
        m.put("seconds", r.seconds());
        m.put("promotedTimeline", r.promotedTimeline() > 0 ? r.promotedTimeline() : null);
        m.put("promotedBackup", r.promotedBackup());
        m.put("followedTimeline", r.followedTimeline());
        java.util.List<Object> others = new java.util.ArrayList<>();
        for (RestorePlan.OtherTimeline o : r.otherTimelines()) {
            Map<String, Object> x = new LinkedHashMap<>();
            x.put("timeline", o.timeline());
            x.put("parent", o.parent() > 0 ? o.parent() : null);
            x.put("forkLsn", o.parent() > 0 ? Lsn.format(o.forkLsn()) : null);
            x.put("endLsn", Lsn.format(o.endLsn()));
            x.put("note", o.note());
            others.add(x);
        }
        m.put("otherTimelines", others);
        return m;
    }

    static RestoreTarget parseTarget(String time, String lsn, boolean exclusive) {
        if (time != null && lsn != null) {
            throw new BadInputException("give --time or --lsn, not both");
        }
        if (lsn != null) {
            return RestoreTarget.lsn(Flags.lsn("--lsn", lsn), exclusive);
        }
        if (time != null) {
            return RestoreTarget.time(parseTime(time), exclusive);
        }
        if (exclusive) {
            throw new BadInputException("--exclusive needs --time or --lsn");
        }
        return RestoreTarget.end();
    }

    /**
     * Refuses a {@code --target} that is a file, or a non-empty one without {@code --force}, as a usage error, before
     * anything is downloaded (the restorer checks again). A directory holding an interrupted
     * restore ({@link Store#RESTORE_MARKER}) is not refused: the restore starts over.
     */
    static void checkTarget(Path dir, boolean force) {
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            throw new BadInputException(dir + " is a file, not a directory; restore into an empty or new directory");
        }
        if (force || !Files.isDirectory(dir) || Files.exists(dir.resolve(Store.RESTORE_MARKER))) {
            return;
        }
        try (Stream<Path> s = Files.list(dir)) {
            if (s.anyMatch(p -> !p.getFileName().toString().equals(Store.LOCK_FILE))) {
                throw new BadInputException(dir + " is not empty; restore into an empty or new directory,"
                        + " or pass --force to replace what it holds");
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot list " + dir, e);
        }
    }

    static Instant parseTime(String text) {
        try {
            return OffsetDateTime.parse(text).toInstant();
        } catch (DateTimeParseException e) {
            throw new BadInputException("not a time: '" + text
                    + "' (expected ISO-8601 with a zone, e.g. 2026-11-23T10:15:30.123Z or 2026-11-23T11:15:30+01:00)");
        }
    }

    static int parseTimeline(String text) {
        if (text.equalsIgnoreCase("latest")) {
            return 0;
        }
        try {
            int t = Integer.parseInt(text);
            if (t >= 1) {
                return t;
            }
        } catch (NumberFormatException e) {
            // fall through
        }
        throw new BadInputException("--timeline must be 'latest' or a number ≥ 1, not '" + text + "'");
    }

    /** Bytes of the base backup, then entries replayed, with rates and an ETA. */
    static final class ProgressListener implements Restore.Listener {
        private Progress backup;
        private final long start = System.nanoTime();
        private long replayStart;
        private long lastPrint;
        private long firstLsn;
        private long endLsn;
        private final boolean terminal = System.console() != null;

        @Override
        public void planned(RestorePlan plan) {
            firstLsn = plan.backup().name().lsn();
            endLsn = plan.chain().end();
        }

        @Override
        public void backupBytes(long done, long total) {
            if (backup == null) {
                backup = new Progress("restore: base backup", total);
            }
            backup.accept(done);
        }

        @Override
        public void replayed(long entries, long lsn, long walBytes) {
            long now = System.nanoTime();
            if (replayStart == 0) {
                replayStart = now;
            }
            boolean last = lsn >= endLsn;
            if (now - lastPrint < (terminal ? 200_000_000L : 5_000_000_000L) && !last) {
                return;
            }
            lastPrint = now;
            double secs = Math.max(1e-3, (now - replayStart) / 1e9);
            double rate = entries / secs;
            String eta = rate > 0 && endLsn > lsn ? String.format("%.0f s", (endLsn - lsn) / rate) : "0 s";
            String line = String.format("restore: replayed %d entries to LSN %s (%.0f entries/s, %.1f MiB/s, ETA %s)",
                    entries, Lsn.format(lsn), rate, walBytes / 1048576.0 / secs, eta);
            if (terminal) {
                System.err.print("\r" + line + (last ? "\n" : ""));
                System.err.flush();
            } else {
                org.slf4j.LoggerFactory.getLogger(RestoreCommand.class).info(line);
            }
        }
    }
}
