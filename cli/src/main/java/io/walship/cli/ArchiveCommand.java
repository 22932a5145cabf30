package io.walship.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ArchiveListing;
import io.walship.archive.BackupPin;
import io.walship.archive.ObjectStore;
import io.walship.archive.RetentionWatermark;
import io.walship.archive.TimelineHistory;
import io.walship.protocol.BadInputException;
import io.walship.protocol.Json;
import io.walship.restorer.ArchiveVerifier;
import io.walship.scheduler.Retention;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code walship archive}: look at an archive. */
@Command(name = "archive", description = "List, verify, prune an archive and pin its backups.", mixinStandardHelpOptions = true,
        subcommands = {ArchiveCommand.ListArchive.class, ArchiveCommand.VerifyArchive.class, ArchiveCommand.Prune.class,
                ArchiveCommand.Pin.class, ArchiveCommand.Unpin.class})
final class ArchiveCommand {

    /** BACKUP as 'archive list' prints it; a malformed name is a usage error (exit 2). */
    static ArchiveLayout.BackupName backupName(String text) {
        return Flags.parse("BACKUP", text, ArchiveLayout::parseBackupName);
    }

    /** What pin and unpin share: the archive, BACKUP (a malformed name is exit 2), where to print. */
    abstract static class OnBackup implements Callable<Integer> {
        @picocli.CommandLine.Mixin
        ArchiveOption archive;
        @picocli.CommandLine.Parameters(paramLabel = "BACKUP",
                description = "The backup as 'archive list' names it: backups/T-L/ (8 and 16 hex digits).")
        String backup;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            ArchiveLayout.BackupName name = backupName(backup);
            try (ObjectStore store = archive.openToChange()) {
                run(store, name, spec.commandLine().getOut());
            }
            return ExitCodes.OK;
        }

        abstract void run(ObjectStore store, ArchiveLayout.BackupName name, PrintWriter out);
    }

    @Command(name = "pin", mixinStandardHelpOptions = true,
            description = {"Pin a base backup: retention (archive prune, the scheduler) keeps it whatever its policy says.",
                    "%nBACKUP is a backup as 'archive list' names it (backups/TTTTTTTT-LLLLLLLLLLLLLLLL/). The pin is a"
                            + " small object pins/TTTTTTTT-LLLLLLLLLLLLLLLL.json; pinning a pinned backup changes nothing."
                            + " A backup that does not exist is exit 1. A pin that this command reported is never lost"
                            + " to a prune, even one running at the same time."})
    static final class Pin extends OnBackup {
        @Override
        void run(ObjectStore store, ArchiveLayout.BackupName name, PrintWriter out) {
            BackupPin.Outcome o = pinOrFail(() -> BackupPin.pin(store, name, java.time.Instant.now()));
            if (o == BackupPin.Outcome.PINNED) {
                out.println("pinned " + name.dir());
            } else {
                out.println(name.dir() + " was pinned already (since "
                        + BackupPin.current(store, name).map(BackupPin::pinnedAt).orElse("?") + ")");
            }
        }
    }

    @Command(name = "unpin", mixinStandardHelpOptions = true,
            description = {"Unpin a base backup: retention treats it like any other again.",
                    "%nBACKUP as 'archive list' names it. Unpinning a backup that is not pinned changes nothing"
                            + " (exit 0); naming a backup that neither exists nor is pinned is exit 1."})
    static final class Unpin extends OnBackup {
        @Override
        void run(ObjectStore store, ArchiveLayout.BackupName name, PrintWriter out) {
            if (BackupPin.unpin(store, name)) {
                out.println("unpinned " + name.dir());
            } else if (store.head(name.manifestKey()).isPresent()) {
                out.println(name.dir() + " was not pinned");
            } else {
                throw new CliException(ExitCodes.FAILURE, "no base backup " + name.dir() + " and no pin for it in "
                        + store.describe() + "; 'walship archive list' shows the backups");
            }
        }
    }

    private static <T> T pinOrFail(java.util.function.Supplier<T> pin) {
        try {
            return pin.get();
        } catch (BackupPin.NoSuchBackupException e) {
            throw new CliException(ExitCodes.FAILURE, e.getMessage());
        }
    }

    @Command(name = "prune", mixinStandardHelpOptions = true,
            description = {"Apply a retention policy: keep the newest N base backups and/or those of the last D days.",
                    "%nPinned backups (archive pin) are kept whatever the policy says."
                            + " Per timeline it also keeps the newest backup that timeline can restore from. It deletes the"
                            + " other backups and the WAL that no kept backup can use, and prints every object it"
                            + " deletes (or would delete, with --dry-run) with its size. It is safe to interrupt and"
                            + " run again."})
    static final class Prune implements Callable<Integer> {
        @picocli.CommandLine.Mixin
        ArchiveOption archive;
        @Option(names = "--keep-backups", paramLabel = "N", description = "Keep the newest N base backups.")
        Integer keepBackups;
        @Option(names = "--keep-days", paramLabel = "D", description = "Keep base backups created in the last D days.")
        Integer keepDays;
        @Option(names = "--dry-run", description = "Only print what would be deleted.")
        boolean dryRun;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            Retention.Policy policy = Flags.options(() -> new Retention.Policy(keepBackups, keepDays));
            PrintWriter out = spec.commandLine().getOut();
            try (ObjectStore store = (dryRun ? archive.open() : archive.openToChange())) {
                Retention.Plan plan = Retention.plan(store, policy, java.time.Instant.now());
                plan.keptBackups().forEach(b -> out.println("keep    " + b + (plan.pinnedBackups().contains(b)
                        ? " (pinned)" : "")));
                plan.pinnedBackups().stream().filter(b -> !plan.keptBackups().contains(b))
                        .forEach(b -> out.println("keep    " + b + " (pinned; the policy would delete it)"));
                plan.watermarks().forEach(w -> out.println((dryRun ? "would create " : "create  ") + w.key()
                        + ": retention deletes WAL on timeline " + w.timeline() + "'s path only below LSN "
                        + ArchiveLayout.lsnHex(w.windowStart())));
                if (dryRun) {
                    plan.deletions().forEach(d -> out.printf("would delete %s (%d bytes): %s%n", d.key(), d.bytes(), d.reason()));
                    out.printf("dry run: %d object(s), %d bytes would be deleted%n", plan.deletions().size(), plan.bytes());
                } else {
                    long bytes = Retention.apply(store, plan, d -> {
                        out.printf("deleted %s (%d bytes): %s%n", d.key(), d.bytes(), d.reason());
                        out.flush();
                    }, dir -> {
                        out.println("keep    " + dir + " (pinned while this prune ran)");
                        out.flush();
                    });
                    out.printf("deleted %d object(s), %d bytes%n", plan.deletions().size(), bytes);
                }
            }
            return ExitCodes.OK;
        }
    }

    @Command(name = "verify", mixinStandardHelpOptions = true,
            description = {"Check the whole archive as a restore would read it.",
                    "%nIt checks every timeline history, manifest and image (size and SHA-256), every WAL segment"
                            + " and entry checksum, WAL continuity from each base backup to the end of its"
                            + " timelines, that every timeline with WAL of its own that no other timeline forks from"
                            + " has a base backup to restore from, and that the default restore can be planned. It"
                            + " reports every problem and exits with code 3 if there is any."})
    static final class VerifyArchive implements Callable<Integer> {
        @picocli.CommandLine.Mixin
        ArchiveOption archive;
        @Option(names = "--quick", description = "Check image sizes only, not their SHA-256 (reads far less).")
        boolean quick;
        @Option(names = "--parallel", paramLabel = "N", defaultValue = "4", description = "Concurrent downloads (default 4).")
        int parallel;
        @Option(names = "--json", description = "Print JSON.")
        boolean json;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            if (parallel < 1 || parallel > 64) {
                throw new BadInputException("--parallel must be 1..64");
            }
            PrintWriter out = spec.commandLine().getOut();
            ArchiveVerifier.Report r;
            try (ObjectStore store = archive.open()) {
                org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(VerifyArchive.class);
                r = ArchiveVerifier.verify(store, parallel, quick, log::info);
            }
            if (json) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("ok", r.ok());
                m.put("timelines", r.timelines());
                m.put("backups", r.backups());
                m.put("segments", r.segments());
                m.put("bytesRead", r.bytesRead());
                m.put("problems", r.problems().stream().map(p -> Map.of("kind", p.kind(), "object", p.object(),
                        "detail", p.detail())).toList());
                m.put("notes", r.notes());
                out.println(Json.write(m));
            } else {
                out.printf("checked %d timeline(s), %d base backup(s), %d WAL segment(s); read %.1f MiB%n",
                        r.timelines(), r.backups(), r.segments(), r.bytesRead() / 1048576.0);
                r.notes().forEach(n -> out.println("note: " + n));
                r.problems().forEach(p -> out.println("PROBLEM " + p.describe()));
                out.println(r.ok() ? "archive OK" : r.problems().size() + " problem(s) found");
            }
            return r.ok() ? ExitCodes.OK : ExitCodes.INTEGRITY;
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true,
            description = "List timelines, base backups, WAL coverage with any gaps, and total bytes.")
    static final class ListArchive implements Callable<Integer> {
        @picocli.CommandLine.Mixin
        ArchiveOption archive;
        @Option(names = "--json", description = "Print JSON.")
        boolean json;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            try (ObjectStore store = archive.open()) {
                ArchiveListing l = ArchiveListing.of(store);
                // listed after wal/ (as verify does): a prune in between shows no gap without its watermark
                RetentionWatermark.Scan marks = RetentionWatermark.scan(store);
                java.util.Map<Integer, TimelineHistory> histories = TimelineHistory.readAll(store, l);
                // a gap on a stretch shared with another timeline's path counts that timeline's watermark too
                Map<Integer, List<TimelineHistory.Span>> ancestries = RetentionWatermark.ancestries(l, histories);
                Map<ArchiveLayout.BackupName, String> chains = chains(store, l);
                if (json) {
                    out.println(Json.write(toJson(store, l, marks, ancestries, chains)));
                    return ExitCodes.OK;
                }
                out.println("archive " + store.describe() + ": " + l.totalBytes() + " bytes");
                io.walship.archive.LeaderLease.current(store).ifPresent(lease -> out.println("leader lease: "
                        + lease.describe()));
                if (l.timelines().isEmpty()) {
                    out.println("(empty)");
                }
                for (int t : l.timelines()) {
                    TimelineHistory h = histories.get(t);
                    out.printf("timeline %d%s%n", t, h == null ? "" : " (forked from timeline " + h.parent()
                            + " after LSN " + h.forkLsn() + ", " + h.forkTime() + ")");
                    if (l.coverage(t).isEmpty()) {
                        out.println("  no WAL");
                    } else {
                        out.printf("  %-10s %-35s %8s %12s%n", "WAL", "LSN RANGE", "SEGMENTS", "BYTES");
                    }
                    for (ArchiveListing.Range r : l.coverage(t)) {
                        long n = l.segments(t).stream().filter(s -> s.name().firstLsn() >= r.firstLsn()
                                && s.name().lastLsn() <= r.lastLsn()).count();
                        long bytes = l.segments(t).stream().filter(s -> s.name().firstLsn() >= r.firstLsn()
                                && s.name().lastLsn() <= r.lastLsn()).mapToLong(ArchiveListing.SegmentInfo::size).sum();
                        out.printf("  %-10s %s-%s %8d %12d%n", "covered", ArchiveLayout.lsnHex(r.firstLsn()),
                                ArchiveLayout.lsnHex(r.lastLsn()), n, bytes);
                    }
                    for (ArchiveListing.Range g : l.gaps(t)) {
                        java.util.OptionalLong below = marks.prunedBelow(t, g, ancestries);
                        out.printf("  %-10s %s-%s%s%n", below.isPresent() ? "pruned" : "GAP",
                                ArchiveLayout.lsnHex(g.firstLsn()), ArchiveLayout.lsnHex(g.lastLsn()), below.isPresent()
                                ? "  by retention (below its window start " + ArchiveLayout.lsnHex(below.getAsLong()) + ")"
                                : "");
                    }
                    for (ArchiveListing.BackupInfo b : l.backups()) {
                        if (b.name().timeline() == t) {
                            out.printf("  %-10s at LSN %s %21d  %s  %s%s%n", "backup", ArchiveLayout.lsnHex(b.name().lsn()),
                                    b.bytes(), b.name().dir(), chains.get(b.name()), l.pinned(b.name()) ? "  PINNED" : "");
                        }
                    }
                }
                for (RetentionWatermark.Corrupt c : marks.corrupt()) {
                    out.println("corrupt retention watermark " + c.key() + ": " + c.detail() + " ('walship archive verify'"
                            + " reports it)");
                }
                for (ArchiveLayout.BackupName p : l.pins()) {
                    if (l.backups().stream().noneMatch(b -> b.name().equals(p))) {
                        out.println("pin " + p.pinKey() + " names no backup (deleted by hand?); 'walship archive unpin "
                                + p.dir() + "' removes it");
                    }
                }
            }
            return ExitCodes.OK;
        }

        /**
         * Each backup's chain as one line: {@code full}, or {@code incr on backups/T-L/ (chain of N: backups/..., ...)}
         * down to its full backup; a chain whose parent is missing or unreadable says so (verify: exit 3).
         */
        static Map<ArchiveLayout.BackupName, String> chains(ObjectStore store, ArchiveListing l) {
            Map<ArchiveLayout.BackupName, io.walship.archive.BackupManifest> manifests = new java.util.HashMap<>();
            Map<ArchiveLayout.BackupName, String> unreadable = new java.util.HashMap<>();
            for (ArchiveListing.BackupInfo b : l.backups()) {
                try {
                    manifests.put(b.name(), io.walship.archive.BackupChain.read(store, b.name()));
                } catch (io.walship.archive.StorageException e) {
                    unreadable.put(b.name(), e.getMessage());
                }
            }
            Map<ArchiveLayout.BackupName, String> out = new java.util.HashMap<>();
            for (ArchiveListing.BackupInfo b : l.backups()) {
                io.walship.archive.BackupManifest m = manifests.get(b.name());
                if (m == null) {
                    out.put(b.name(), "manifest unreadable ('walship archive verify' reports it)");
                    continue;
                }
                if (!m.incremental()) {
                    out.put(b.name(), "full");
                    continue;
                }
                List<String> links = new ArrayList<>();
                String end = null;
                io.walship.archive.BackupManifest at = m;
                while (at != null && at.incremental() && links.size() <= io.walship.archive.BackupChain.MAX_LENGTH) {
                    ArchiveLayout.BackupName p = at.parent().name();
                    links.add(p.dir());
                    at = manifests.get(p);
                    if (at == null) {
                        end = unreadable.containsKey(p) ? "UNREADABLE" : "MISSING";
                    }
                }
                out.put(b.name(), "incr on " + links.get(0) + " (chain of " + (links.size() + 1) + " down to "
                        + links.get(links.size() - 1) + (end != null ? " " + end + ": BROKEN CHAIN, 'walship archive"
                        + " verify' reports it" : "") + ")");
            }
            return out;
        }

        private static Map<String, Object> toJson(ObjectStore store, ArchiveListing l, RetentionWatermark.Scan marks,
                                                  Map<Integer, List<TimelineHistory.Span>> ancestries,
                                                  Map<ArchiveLayout.BackupName, String> chains) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("archive", store.describe());
            m.put("totalBytes", l.totalBytes());
            io.walship.archive.LeaderLease.current(store).ifPresent(lease -> m.put("lease", lease));
            List<Object> tls = new ArrayList<>();
            for (int t : l.timelines()) {
                Map<String, Object> tm = new LinkedHashMap<>();
                tm.put("timeline", t);
                if (l.histories().contains(t)) {
                    TimelineHistory h = TimelineHistory.readOne(store, t);
                    tm.put("parent", h.parent());
                    tm.put("forkLsn", h.forkLsn());
                }
                tm.put("coverage", l.coverage(t).stream().map(r -> Map.of("from", ArchiveLayout.lsnHex(r.firstLsn()),
                        "to", ArchiveLayout.lsnHex(r.lastLsn()))).toList());
                tm.put("gaps", l.gaps(t).stream().map(r -> {
                    Map<String, Object> g = new LinkedHashMap<>();
                    g.put("from", ArchiveLayout.lsnHex(r.firstLsn()));
                    g.put("to", ArchiveLayout.lsnHex(r.lastLsn()));
                    // a gap below the timeline's retention watermark: retention deleted it, not a loss
                    marks.prunedBelow(t, r, ancestries).ifPresent(below -> g.put("prunedBelow",
                            ArchiveLayout.lsnHex(below)));
                    return g;
                }).toList());
                tm.put("segments", l.segments(t).size());
                tm.put("backups", l.backups().stream().filter(b -> b.name().timeline() == t)
                        .map(b -> Map.of("name", b.name().dir(), "lsn", ArchiveLayout.lsnHex(b.name().lsn()),
                                "bytes", b.bytes(), "pinned", l.pinned(b.name()), "chain", chains.get(b.name())))
                        .toList());
                tls.add(tm);
            }
            m.put("timelines", tls);
            m.put("pins", l.pins().stream().map(ArchiveLayout.BackupName::dir).toList());
            return m;
        }
    }
}
