package io.walship.cli;

/** A failure the CLI reports as one line with the given exit code (and an optional hint). */
final class CliException extends RuntimeException {
    private final int exitCode;
    private final String hint;

    CliException(int exitCode, String message) {
        this(exitCode, message, null);
    }

    CliException(int exitCode, String message, String hint) {
        super(message);
        this.exitCode = exitCode;
        this.hint = hint;
    }

    int exitCode() {
        return exitCode;
    }

    String hint() {
        return hint;
    }
}
