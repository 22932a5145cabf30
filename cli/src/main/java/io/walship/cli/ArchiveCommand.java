package io.walship.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import io.walship.storage.ArchiveLayout;
import io.walship.storage.ArchiveListing;
import io.walship.storage.ObjectStore;
import io.walship.storage.ObjectStores;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code walship archive}: look at an archive. */
@Command(name = "archive", description = "Inspect an archive.", mixinStandardHelpOptions = true,
        subcommands = ArchiveCommand.ListArchive.class)
final class ArchiveCommand {

    @Command(name = "list", mixinStandardHelpOptions = true,
            description = "Timelines, base backups, WAL coverage with any gaps, and total bytes.")
    static final class ListArchive implements Callable<Integer> {
        @Option(names = "--archive", paramLabel = "URI", required = true, defaultValue = "${env:WALSHIP_ARCHIVE}",
                description = "file:///path/prefix or s3://bucket/prefix?... Env: WALSHIP_ARCHIVE.")
        String archive;
        @Option(names = "--json", description = "Print JSON.")
        boolean json;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            try (ObjectStore store = ObjectStores.open(archive)) {
                store.verifyAccess();
                ArchiveListing l = ArchiveListing.of(store);
                if (json) {
                    out.println(Json.write(toJson(store, l)));
                    return ExitCodes.OK;
                }
                out.println("archive " + store.describe() + ": " + l.totalBytes() + " bytes");
                if (l.timelines().isEmpty()) {
                    out.println("(empty)");
                }
                for (int t : l.timelines()) {
                    out.printf("timeline %d%n", t);
                    out.printf("  %-10s %-35s %8s %12s%n", "WAL", "LSN RANGE", "SEGMENTS", "BYTES");
                    for (ArchiveListing.Range r : l.coverage(t)) {
                        long n = l.segments(t).stream().filter(s -> s.name().firstLsn() >= r.firstLsn()
                                && s.name().lastLsn() <= r.lastLsn()).count();
                        long bytes = l.segments(t).stream().filter(s -> s.name().firstLsn() >= r.firstLsn()
                                && s.name().lastLsn() <= r.lastLsn()).mapToLong(ArchiveListing.SegmentInfo::size).sum();
                        out.printf("  %-10s %s-%s %8d %12d%n", "covered", ArchiveLayout.lsnHex(r.firstLsn()),
                                ArchiveLayout.lsnHex(r.lastLsn()), n, bytes);
                    }
                    for (ArchiveListing.Range g : l.gaps(t)) {
                        out.printf("  %-10s %s-%s%n", "GAP", ArchiveLayout.lsnHex(g.firstLsn()), ArchiveLayout.lsnHex(g.lastLsn()));
                    }
                    for (ArchiveListing.BackupInfo b : l.backups()) {
                        if (b.name().timeline() == t) {
                            out.printf("  %-10s at LSN %s %21d%n", "backup", ArchiveLayout.lsnHex(b.name().lsn()), b.bytes());
                        }
                    }
                }
            }
            return ExitCodes.OK;
        }

        private static Map<String, Object> toJson(ObjectStore store, ArchiveListing l) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("archive", store.describe());
            m.put("totalBytes", l.totalBytes());
            List<Object> tls = new ArrayList<>();
            for (int t : l.timelines()) {
                Map<String, Object> tm = new LinkedHashMap<>();
                tm.put("timeline", t);
                tm.put("coverage", l.coverage(t).stream().map(r -> Map.of("from", ArchiveLayout.lsnHex(r.firstLsn()),
                        "to", ArchiveLayout.lsnHex(r.lastLsn()))).toList());
                tm.put("gaps", l.gaps(t).stream().map(r -> Map.of("from", ArchiveLayout.lsnHex(r.firstLsn()),
                        "to", ArchiveLayout.lsnHex(r.lastLsn()))).toList());
                tm.put("segments", l.segments(t).size());
                tm.put("backups", l.backups().stream().filter(b -> b.name().timeline() == t)
                        .map(b -> Map.of("lsn", ArchiveLayout.lsnHex(b.name().lsn()), "bytes", b.bytes())).toList());
                tls.add(tm);
            }
            m.put("timelines", tls);
            return m;
        }
    }
}
