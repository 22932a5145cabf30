package io.walship.cli;

import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.http.HttpTimeoutException;

import io.walship.archive.ArchiveConfigException;
import io.walship.archive.CorruptObjectException;
import io.walship.archive.StorageException;
import io.walship.protocol.BadInputException;
import io.walship.restorer.RestoreException;
import io.walship.scheduler.SchedulerConfig;
import io.walship.shipper.ArchiveSpliceException;
import io.walship.wal.BatchTooLargeException;
import io.walship.wal.Errors;
import io.walship.wal.IntegrityException;
import io.walship.wal.StorageFullException;
import io.walship.wal.StoreFailedException;
import io.walship.wal.StoreLockedException;
import io.walship.wal.WalshipException;
import picocli.CommandLine;

/**
 * The one place where exceptions become exit codes and one-line messages. Domain code throws
 * domain exceptions; only this class chooses what the user sees. {@code --stacktrace} adds the
 * stack trace.
 */
final class ErrorReporter implements CommandLine.IExecutionExceptionHandler, CommandLine.IParameterExceptionHandler {

    @Override
    public int handleExecutionException(Exception ex, CommandLine cmd, CommandLine.ParseResult parseResult) {
        PrintWriter err = cmd.getErr();
        int code = exitCode(ex);
        err.println("walship: error: " + (internal(ex) ? "internal error: " + ex.getClass().getSimpleName() + ": " : "")
                + message(ex));
        String hint = hint(ex);
        if (hint != null) {
            err.println("hint: " + hint);
        }
        if (parseResult != null && parseResult.hasMatchedOption("--stacktrace")
                || Boolean.getBoolean("walship.stacktrace")) {
            ex.printStackTrace(err);
        }
        err.flush();
        return code;
    }

    @Override
    public int handleParseException(CommandLine.ParameterException ex, String[] args) {
        CommandLine cmd = ex.getCommandLine();
        PrintWriter err = cmd.getErr();
        err.println("walship: error: " + ex.getMessage());
        err.println("hint: see '" + cmd.getCommandSpec().qualifiedName() + " --help'");
        err.flush();
        return ExitCodes.USAGE;
    }

    static int exitCode(Throwable ex) {
        if (ex instanceof CliException c) {
            return c.exitCode();
        }
        if (ex instanceof io.walship.restorer.follow.FollowerStoppedException) {
            return ExitCodes.REPLICATION_REFUSED;
        }
        if (ex instanceof IntegrityException || ex instanceof CorruptObjectException || ex instanceof RestoreException
                || ex instanceof ArchiveSpliceException) {
            return ExitCodes.INTEGRITY;
        }
        if (ex instanceof BadInputException || ex instanceof ArchiveConfigException
                || ex instanceof io.walship.archive.EncryptionKeyException
                || ex instanceof SchedulerConfig.ConfigException || ex instanceof CommandLine.ParameterException) {
            return ExitCodes.USAGE;
        }
        if (ex instanceof BatchTooLargeException) {
            return ExitCodes.TOO_LARGE;
        }
        if (ex instanceof StorageFullException) {
            return ExitCodes.STORAGE_FULL;
        }
        if (ex instanceof StoreFailedException || ex instanceof io.walship.wal.WritesRefusedException
                || ex instanceof io.walship.wal.StoreClosedException) {
            return ExitCodes.UNAVAILABLE;
        }
        // anything else, an IllegalArgumentException from inside included, is a failure, not a usage error
        return ExitCodes.FAILURE;
    }

    /**
     * Whether {@code ex} is a bug rather than a failure the program expects (exit 1 either way):
     * an IllegalArgumentException that is not {@link BadInputException}, a null pointer, an index
     * or cast error. Named as such, so that it does not pose as the user's mistake.
     */
    static boolean internal(Throwable ex) {
        return ex instanceof IllegalArgumentException && !(ex instanceof BadInputException)
                && !(ex instanceof SchedulerConfig.ConfigException)
                || ex instanceof NullPointerException || ex instanceof IndexOutOfBoundsException
                || ex instanceof ClassCastException || ex instanceof ArithmeticException;
    }

    static String message(Throwable ex) {
        return withFileProblem(ex, plainMessage(ex));
    }

    /**
     * The JDK's file-system exceptions often carry only the path ("create X: X"): where the message
     * ends with it, say what is wrong with that path.
     */
    private static String withFileProblem(Throwable ex, String message) {
        for (Throwable t = ex; t != null; t = t.getCause()) {
            if (t instanceof java.nio.file.FileSystemException f && f.getReason() == null && f.getFile() != null
                    && message.endsWith(f.getFile())) {
                return message + ": " + fileProblem(f);
            }
        }
        return message;
    }

    private static String fileProblem(java.nio.file.FileSystemException f) {
        if (f instanceof java.nio.file.FileAlreadyExistsException) {
            java.nio.file.Path p = java.nio.file.Path.of(f.getFile());
            return java.nio.file.Files.exists(p) && !java.nio.file.Files.isDirectory(p)
                    ? "already exists and is not a directory" : "already exists";
        }
        if (f instanceof java.nio.file.NoSuchFileException) {
            return "no such file or directory";
        }
        if (f instanceof java.nio.file.AccessDeniedException) {
            return "permission denied";
        }
        if (f instanceof java.nio.file.NotDirectoryException) {
            return "not a directory";
        }
        if (f instanceof java.nio.file.DirectoryNotEmptyException) {
            return "directory not empty";
        }
        return f.getClass().getSimpleName();
    }

    private static String plainMessage(Throwable ex) {
        if (ex instanceof ConnectException) {
            return "cannot connect to the leader: connection refused";
        }
        if (ex instanceof HttpTimeoutException) {
            return "the leader did not answer in time";
        }
        if (ex instanceof UncheckedIOException u && u.getCause() != null) {
            return u.getMessage();
        }
        return Errors.oneLine(ex);
    }

    private static String hint(Throwable ex) {
        if (ex instanceof CliException c) {
            return c.hint();
        }
        if (ex instanceof ArchiveSpliceException s) {
            return s.hint();
        }
        if (ex instanceof StoreLockedException && ex.getMessage() != null
                && ex.getMessage().startsWith("another shipper is running")) {
            return "that process already ships this archive (a leader or 'walship ship'); stop it, or ship this archive"
                    + " from that process only (docs/OPERATIONS.md, \"Several archives\")";
        }
        if (ex instanceof StoreLockedException) {
            return "a leader is running on it: use --url http://HOST:PORT to go through it";
        }
        if (ex instanceof RestoreException || ex instanceof CorruptObjectException) {
            return "nothing was skipped or half-applied; 'walship archive verify' lists every problem in the archive";
        }
        if (ex instanceof IntegrityException) {
            return "nothing was changed; restore from the archive or investigate the named LSN/object";
        }
        if (ex instanceof io.walship.archive.EncryptionKeyException) {
            return "see docs/OPERATIONS.md, \"Encryption\"";
        }
        if (ex instanceof ArchiveConfigException) {
            return "check --archive (file:///path or s3://bucket/prefix?endpoint=...&region=...&path-style=true)"
                    + " and the AWS credentials in the environment";
        }
        if (ex instanceof StoreFailedException) {
            return "the store stopped to protect acknowledged data; restart it (opening recovers every acknowledged"
                    + " commit) and check the disk (docs/OPERATIONS.md, \"What failures look like\")";
        }
        if (ex instanceof StorageFullException) {
            return "free space on the WAL's file system; nothing of this write was applied";
        }
        if (ex instanceof BatchTooLargeException) {
            return "split the batch";
        }
        if (ex instanceof WalshipException || ex instanceof BadInputException || ex instanceof StorageException
                || ex instanceof SchedulerConfig.ConfigException) {
            return null;
        }
        if (ex instanceof ConnectException || ex instanceof java.io.UncheckedIOException u && u.getCause() instanceof ConnectException) {
            return "is 'walship leader' running at that --url?";
        }
        return "run again with --stacktrace for details";
    }
}
