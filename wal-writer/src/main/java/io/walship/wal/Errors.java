package io.walship.wal;

/**
 * Errors as one line of text, for the places that report a failure without a stack trace: the
 * CLI's {@code walship: error:} line, an HTTP error body, a job's or a ship loop's last error.
 * Stateless.
 */
public final class Errors {
    private Errors() {
    }

    /** The first line of the message, or the exception's simple class name if it has none. */
    public static String oneLine(Throwable t) {
        String m = t.getMessage();
        if (m == null || m.isBlank()) {
            return t.getClass().getSimpleName();
        }
        return m.lines().findFirst().orElse(m);
    }

    /**
     * {@link #oneLine} followed by the causes that line does not already mention, e.g.
     * {@code compress segment K: caused by IOException: No space left on device}.
     */
    public static String withCauses(Throwable t) {
        StringBuilder sb = new StringBuilder(oneLine(t));
        Throwable c = t.getCause();
        for (int depth = 0; c != null && depth < 8; depth++, c = c.getCause()) {
            String line = oneLine(c);
            if (sb.indexOf(line) < 0) {
                String name = c.getClass().getSimpleName();
                sb.append(": caused by ").append(line.equals(name) ? name : name + ": " + line);
            }
        }
        return sb.toString();
    }
}
