package io.walship.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

import io.walship.protocol.Json;
import io.walship.wal.Lsn;
import io.walship.wal.WalEntry;
import io.walship.wal.WalReader;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code walship wal}: look at the write-ahead log. */
@Command(name = "wal", description = "Inspect the write-ahead log.", mixinStandardHelpOptions = true,
        subcommands = WalCommand.Inspect.class)
final class WalCommand {

    @Command(name = "inspect", mixinStandardHelpOptions = true,
            description = {"List WAL entries with their LSN, commit time, size, the pages they touch, their full-page"
                    + " images and how those are compressed (none, lz4, zstd).",
                    "%nIt reads the WAL read-only, so it is safe while a leader runs."})
    static final class Inspect implements Callable<Integer> {
        @Option(names = "--data", paramLabel = "DIR", required = true, defaultValue = "${env:WALSHIP_DATA}",
                description = "Data directory.")
        Path data;
        @Option(names = "--from", paramLabel = "LSN", description = "First LSN to list (default: the oldest kept).")
        String from;
        @Option(names = "--limit", paramLabel = "N", description = "List at most N entries.")
        long limit = Long.MAX_VALUE;
        @Option(names = "--json", description = "One JSON object per line.")
        boolean json;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            if (limit < 0) {
                throw new io.walship.protocol.BadInputException("--limit must be >= 0, got " + limit);
            }
            PrintWriter out = spec.commandLine().getOut();
            long n = 0;
            long bytes = 0;
            try (WalReader r = WalReader.open(data)) {
                long start = from != null ? Flags.lsn("--from", from) : Math.max(1, r.firstAvailableLsn());
                r.seek(start);
                if (!json) {
                    out.printf("%-16s  %-27s  %7s  %5s  %4s  %-8s  %s%n", "LSN", "COMMIT TIME (UTC)", "BYTES", "PAGES",
                            "FPI", "FPI ZIP", "TIMELINE");
                }
                WalEntry e;
                while (n < limit && (e = r.next()) != null) {
                    n++;
                    bytes += e.encodedSize();
                    String time = Instant.ofEpochSecond(0, e.commitTimeMicros() * 1_000L).toString();
                    if (json) {
                        Map<String, Object> m = new LinkedHashMap<>();
                        m.put("lsn", Lsn.format(e.lsn()));
                        m.put("time", time);
                        m.put("bytes", e.encodedSize());
                        m.put("pages", e.pagesTouched());
                        m.put("fullPageImages", e.fullPageImages());
                        m.put("fpiCompression", e.compression().flagValue());
                        m.put("changes", e.changes().size());
                        m.put("timeline", e.timeline());
                        out.println(Json.write(m));
                    } else {
                        out.printf("%-16s  %-27s  %7d  %5d  %4d  %-8s  %d%n", Lsn.format(e.lsn()), time, e.encodedSize(),
                                e.pagesTouched(), e.fullPageImages(), e.compression().flagValue(), e.timeline());
                    }
                }
                if (!json) {
                    out.printf("%d entries, %d bytes%s%n", n, bytes, r.atTornTail() ? " (then a torn entry: "
                            + r.tornTailDescription() + ")" : "");
                }
            }
            return ExitCodes.OK;
        }
    }
}
