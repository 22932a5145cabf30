package io.walship.cli;

import java.time.Duration;
import java.util.function.Function;

import io.walship.protocol.BadInputException;
import io.walship.wal.Lsn;
import io.walship.wal.Units;

/**
 * Parses flag values with the engine's parsers and turns their complaints into
 * {@link BadInputException}s that name the flag (exit code 2). Only flag values go through here:
 * an {@link IllegalArgumentException} from anywhere else is an internal error (exit 1). Stateless.
 */
final class Flags {
    private Flags() {
    }

    /** A size such as {@code 256MiB}, {@code 1GiB} or {@code 4096}. */
    static long bytes(String flag, String text) {
        return parse(flag, text, Units::bytes);
    }

    /** A page cache size ({@code --cache-size}): a size of at least 256 KiB ({@link io.walship.wal.StoreOptions#parseCacheSize}). */
    static long cacheSize(String flag, String text) {
        return parse(flag, text, io.walship.wal.StoreOptions::parseCacheSize);
    }

    /** A duration such as {@code 1s}, {@code 200ms} or {@code 5m}. */
    static Duration duration(String flag, String text) {
        return parse(flag, text, Units::duration);
    }

    /** A duration that must be more than zero (an interval). */
    static Duration positiveDuration(String flag, String text) {
        Duration d = duration(flag, text);
        if (d.isZero() || d.isNegative()) {
            throw new BadInputException(flag + " must be more than 0, not '" + text + "'");
        }
        return d;
    }

    /**
     * Builds options from flag values with a library's constructor or withers, whose
     * IllegalArgumentException then names a bad flag value (exit 2). Only for that: never around
     * code that does work.
     */
    static <T> T options(java.util.function.Supplier<T> build) {
        try {
            return build.get();
        } catch (BadInputException e) {
            throw e;
        } catch (IllegalArgumentException e) {
            throw new BadInputException(e.getMessage(), e);
        }
    }

    /** An LSN: 16 hex digits, {@code 0x2A} or decimal. */
    static long lsn(String flag, String text) {
        return parse(flag, text, Lsn::parse);
    }

    /** Any value, parsed by {@code parser}, whose IllegalArgumentException means "bad value". */
    static <T> T parse(String flag, String text, Function<String, T> parser) {
        if (text == null) {
            throw new BadInputException(flag + " needs a value");
        }
        try {
            return parser.apply(text);
        } catch (IllegalArgumentException e) {
            throw new BadInputException("bad " + flag + " '" + text + "': " + e.getMessage(), e);
        }
    }
}
