package io.walship.cli;

import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;

import com.fasterxml.jackson.databind.JsonNode;
import io.walship.protocol.BadInputException;
import io.walship.protocol.Endpoints;
import io.walship.protocol.Json;
import io.walship.scheduler.JobScheduler;
import io.walship.scheduler.SchedulerConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code walship scheduler}: the archive jobs of one or more databases on a schedule, in one process. */
@Command(name = "scheduler", mixinStandardHelpOptions = true, subcommands = SchedulerCommand.Status.class,
        description = {"Run the archive jobs of the databases in --config on a schedule until SIGTERM.",
                "%nThe jobs are ship, backup, retention and verify, each what its command runs: walship ship,"
                        + " walship backup, walship archive prune, and a restore drill with walship archive verify."
                        + " SIGTERM lets running jobs finish and ships a last time.",
                "%nThe config is validated first: an unknown key, a bad cron expression or a missing archive exits"
                        + " with code 2."})
final class SchedulerCommand implements Callable<Integer> {
    @Option(names = "--config", paramLabel = "FILE", defaultValue = "${env:WALSHIP_CONFIG}",
            description = "The YAML config (README, \"Scheduled jobs\"). Env: WALSHIP_CONFIG.")
    Path config;
    @Option(names = "--check", description = "Validate the config and exit.")
    boolean check;
    @Option(names = "--scratch", paramLabel = "DIR", description = "Where restore drills restore (default: the system temp directory).")
    Path scratch;
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (config == null) {
            throw new BadInputException("give --config FILE (or WALSHIP_CONFIG)");
        }
        SchedulerConfig c = SchedulerConfig.load(config);
        PrintWriter out = spec.commandLine().getOut();
        if (check) {
            out.println("config " + config + " is valid: " + c.databases().size() + " database(s)");
            return ExitCodes.OK;
        }
        Path dir = scratch != null ? scratch : Path.of(System.getProperty("java.io.tmpdir"), "walship-drills");
        Shutdown shutdown = Shutdown.onSignals(); // running jobs finish, then exit code 0
        JobScheduler s = JobScheduler.start(c, dir);
        out.println("walship scheduler: " + c.databases().size() + " database(s)"
                + (s.httpAddress() == null ? "" : ", status on http://" + s.httpAddress().getHostString() + ":"
                + s.httpAddress().getPort() + "/status"));
        out.flush();
        shutdown.await();
        org.slf4j.LoggerFactory.getLogger(SchedulerCommand.class).info("stopping: waiting for running jobs to finish");
        s.close();
        return ExitCodes.OK;
    }

    @Command(name = "status", mixinStandardHelpOptions = true,
            description = "Show every job of a running scheduler (schedule, last start, duration, result, bytes, next"
                    + " fire) and the archive's lag.")
    static final class Status implements Callable<Integer> {
        @Option(names = "--url", paramLabel = "URL", required = true, defaultValue = "${env:WALSHIP_SCHEDULER_URL}",
                description = "The scheduler's http address, e.g. http://127.0.0.1:7071. Env: WALSHIP_SCHEDULER_URL.")
        String url;
        @Option(names = "--json", description = "Print the JSON as the scheduler gives it.")
        boolean json;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            String base = url.endsWith("/") ? url : url + "/";
            HttpResponse<String> r = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()
                    .send(HttpRequest.newBuilder(URI.create(base + Endpoints.STATUS.substring(1))).build(), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) {
                throw new IllegalStateException("scheduler answered HTTP " + r.statusCode());
            }
            PrintWriter out = spec.commandLine().getOut();
            if (json) {
                out.println(r.body());
                return ExitCodes.OK;
            }
            JsonNode root = Json.tree(r.body());
            for (JsonNode d : root.get("databases")) {
                out.printf("%s  archive %s  archived to LSN %s  lag %s commits / %s s%n", d.get("name").asText(),
                        d.get("archive").asText(), d.get("archivedLsn").asText("?"), d.get("archiveLagLsns").asText("?"),
                        d.get("archiveLagSeconds").isNull() ? "?" : String.format("%.1f", d.get("archiveLagSeconds").asDouble()));
                out.printf("  %-10s %-24s %-24s %9s %12s %-24s %s%n", "JOB", "SCHEDULE", "LAST START", "MS", "BYTES",
                        "NEXT FIRE", "RESULT");
                for (JsonNode j : d.get("jobs")) {
                    out.printf("  %-10s %-24s %-24s %9s %12s %-24s %s%s%n", j.get("job").asText(), j.get("schedule").asText(),
                            j.get("lastStart").asText("-"), j.get("lastDurationMs").asText("-"), j.get("lastBytes").asText(),
                            j.get("nextFire").asText("-"), j.get("lastResult").asText(),
                            j.get("lastError").isNull() ? "" : ": " + j.get("lastError").asText());
                }
            }
            return ExitCodes.OK;
        }
    }
}
