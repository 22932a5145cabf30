package io.walship.cli;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;

import io.walship.archive.BackupManifest;
import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.shipper.BackupSource;
import io.walship.shipper.BackupType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code walship backup}: take a base backup into the archive. */
@Command(name = "backup", mixinStandardHelpOptions = true,
        description = {"Take a base backup of a running leader (--url) or of a stopped store (--data) into --archive.",
                "%nA point-in-time image of the store is streamed compressed into the archive, then its manifest"
                        + " is written. A leader keeps taking writes throughout."})
final class BackupCommand implements Callable<Integer> {
    @Mixin
    TargetOptions target;
    @picocli.CommandLine.Mixin
    ArchiveOption archive;
    @Mixin
    UploadRateOption uploadRate;
    @Option(names = "--codec", paramLabel = "CODEC", defaultValue = "zstd", description = "zstd (default), lz4, gzip or none.")
    String codec;
    @Option(names = "--type", paramLabel = "TYPE", defaultValue = "full", description = {"full (default): the whole"
            + " image; incr: only the pages changed since the newest backup of this store's history; diff: only those"
            + " changed since the newest full one. Without such a backup (or with a broken chain) a full one is taken."})
    String type;
    @Option(names = "--incremental", description = "Same as --type incr.")
    boolean incremental;
    @Option(names = "--json", description = "Print the manifest as JSON.")
    boolean json;
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        Codec c = Flags.parse("--codec", codec, Codec::parse);
        io.walship.archive.UploadLimit limit = uploadRate.limit();
        BackupType t = Flags.parse("--type", type, BackupType::parse);
        if (incremental && t != BackupType.FULL && t != BackupType.INCREMENTAL) {
            throw new CliException(ExitCodes.USAGE, "--incremental and --type " + type + " contradict each other; give one");
        }
        t = incremental ? BackupType.INCREMENTAL : t;
        BackupSource source = target.source();
        BackupManifest m;
        try (ObjectStore store = archive.open(limit)) {
            m = source.backup(store, c, total -> new Progress("backup", total), t.policy());
        }
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(new String(m.toJson(), StandardCharsets.UTF_8));
        } else if (m.incremental()) {
            out.printf("incremental base backup at LSN %s (timeline %d) on %s: %d of %d pages, %d bytes -> %d bytes (%s)"
                    + " in %s%n", m.lsn(), m.timeline(), m.parent().name().dir(), m.incrementalPages(), m.pageCount(),
                    m.imageBytes(), m.objectBytes(), m.codec(), m.imageKey());
        } else {
            out.printf("base backup at LSN %s (timeline %d): %d pages, %d bytes -> %d bytes (%s) in %s%n", m.lsn(),
                    m.timeline(), m.pageCount(), m.imageBytes(), m.objectBytes(), m.codec(), m.imageKey());
        }
        return ExitCodes.OK;
    }
}
