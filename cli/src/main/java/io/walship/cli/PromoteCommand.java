package io.walship.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;

import io.walship.archive.ObjectStore;
import io.walship.restorer.Promotion;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code walship promote}: open a restored standby for writes on a new timeline. */
@Command(name = "promote", mixinStandardHelpOptions = true,
        description = {"Open a restored standby for writes on a new timeline.",
                "%nThe timeline is claimed in the archive with a history record (parent timeline and fork LSN),"
                        + " so its WAL never mixes with the old timeline's."})
final class PromoteCommand implements Callable<Integer> {
    @Option(names = "--data", paramLabel = "DIR", required = true, defaultValue = "${env:WALSHIP_DATA}",
            description = "The standby's data directory (not open by another process). Env: WALSHIP_DATA.")
    Path data;
    @picocli.CommandLine.Mixin
    ArchiveOption archive;
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        int tl;
        try (ObjectStore store = archive.open()) {
            tl = Promotion.promote(data, store);
        }
        spec.commandLine().getOut().printf("promoted %s: it takes writes on timeline %d%n", data, tl);
        return ExitCodes.OK;
    }
}
