package io.walship.wal;

import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses the sizes ({@code 16MiB}) and durations ({@code 1s}) the CLI and the scheduler config take. */
public final class Units {
    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*(b|kib|kb|k|mib|mb|m|gib|gb|g|tib|tb|t)?");
    private static final Pattern TIME = Pattern.compile("(\\d+)\\s*(ms|s|m|h)");

    private Units() {
    }

    public static long bytes(String text) {
        Matcher m = SIZE.matcher(text.trim().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            throw new IllegalArgumentException("not a size: '" + text + "' (e.g. 16MiB, 512KiB, 1048576)");
        }
        String u = m.group(2) == null ? "b" : m.group(2);
        int shift = switch (u) {
            case "b" -> 0;
            case "kib", "kb", "k" -> 10;
            case "mib", "mb", "m" -> 20;
            case "gib", "gb", "g" -> 30;
            default -> 40;
        };
        try {
            // a size past a long is refused, never wrapped around to a small one
            return Math.multiplyExact(Long.parseLong(m.group(1)), 1L << shift);
        } catch (ArithmeticException | NumberFormatException e) {
            throw new IllegalArgumentException("size too large: '" + text + "'");
        }
    }

    public static Duration duration(String text) {
        Matcher m = TIME.matcher(text.trim().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            throw new IllegalArgumentException("not a duration: '" + text + "' (e.g. 500ms, 1s, 5m, 1h)");
        }
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            default -> Duration.ofHours(n);
        };
    }
}
