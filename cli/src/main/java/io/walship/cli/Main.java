package io.walship.cli;

import java.util.ArrayList;
import java.util.List;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code walship} command: dispatch only. */
@Command(name = "walship", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = {"Log-shipping replication for an embedded JVM key-value store.",
                "%nExit codes: 0 ok, 1 failure, 2 usage or configuration error, 3 integrity error, 4 too large,"
                        + " 5 storage full, 6 unavailable (stopped or refusing writes), 7 follower refused for good"
                        + " (README, \"Exit codes\")."
                        + " Add --stacktrace to any command for a stack trace on error."},
        subcommands = {DemoCommand.class, LeaderCommand.class, FollowCommand.class, KvCommand.class, WalCommand.class, ShipCommand.class,
                BackupCommand.class, RestoreCommand.class, PromoteCommand.class, ArchiveCommand.class,
                SchedulerCommand.class,
                BenchCommand.class,
                CommandLine.HelpCommand.class})
public final class Main {
    private Main() {
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"walship " + (v == null ? "dev" : v)};
        }
    }

    /** Builds the command line; tests call this with their own out/err writers. */
    public static CommandLine commandLine() {
        ErrorReporter reporter = new ErrorReporter();
        return new CommandLine(new Main())
                .setExecutionExceptionHandler(reporter)
                .setParameterExceptionHandler(reporter)
                .setCaseInsensitiveEnumValuesAllowed(true);
    }

    public static int run(String... args) {
        List<String> rest = new ArrayList<>();
        for (String a : args) {
            if (a.equals("--stacktrace")) {
                System.setProperty("walship.stacktrace", "true");
            } else {
                rest.add(a);
            }
        }
        return commandLine().execute(rest.toArray(new String[0]));
    }

    public static void main(String[] args) {
        // The walship process owns its JVM, so it (not the server library, which other programs
        // embed) turns on TCP_NODELAY for the JDK HTTP server: without it a small answer waits for
        // the client's delayed ACK (~40 ms). Read once, when the first server starts.
        if (System.getProperty("sun.net.httpserver.nodelay") == null) {
            System.setProperty("sun.net.httpserver.nodelay", "true");
        }
        System.exit(run(args));
    }
}
