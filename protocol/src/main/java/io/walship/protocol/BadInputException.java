package io.walship.protocol;

/**
 * Malformed input from a user or a client: a bad key encoding, escape, query parameter, batch
 * body, flag value or address. This, and only this, is what the HTTP API answers with 400 and the
 * CLI with exit code 2; any other {@link IllegalArgumentException} is an internal error (HTTP 500,
 * exit 1). The message is one line that names the bad input.
 */
public class BadInputException extends IllegalArgumentException {
    public BadInputException(String message) {
        super(message);
    }

    public BadInputException(String message, Throwable cause) {
        super(message, cause);
    }
}
