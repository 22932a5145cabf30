package io.walship.protocol;

import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * A {@code HOST:PORT} as every listen and connect option takes it ({@code --http}, the scheduler's
 * {@code http:}): a name or IPv4 address, or an IPv6 address in brackets ({@code [::1]:7070}).
 * Port 0 means "any free port" when listening. Parsing never resolves the name; {@link #resolve}
 * does. Immutable, so thread-safe.
 *
 * @param host the host without brackets ({@code ::1}, {@code 127.0.0.1}, {@code localhost})
 * @param port 0..65535
 */
public record HostPort(String host, int port) {
    public HostPort {
        Objects.requireNonNull(host, "host");
        if (host.isEmpty()) {
            throw new BadInputException("empty host");
        }
        if (port < 0 || port > 65535) {
            throw new BadInputException("port " + port + " is out of range 0..65535");
        }
    }

    /**
     * Parses {@code HOST:PORT} or {@code [IPV6]:PORT}.
     *
     * @throws IllegalArgumentException naming the text and what is wrong with it
     */
    public static HostPort parse(String text) {
        Objects.requireNonNull(text, "HOST:PORT");
        int colon = text.lastIndexOf(':');
        if (colon <= 0 || colon == text.length() - 1) {
            throw new BadInputException("expected HOST:PORT, got '" + text + "'");
        }
        String host = text.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]") && host.length() > 2) {
            host = host.substring(1, host.length() - 1);
        } else if (host.contains(":") || host.contains("[") || host.contains("]")) {
            throw new BadInputException("expected HOST:PORT, got '" + text + "' (an IPv6 address goes in brackets: [::1]:7070)");
        }
        String digits = text.substring(colon + 1);
        if (!digits.chars().allMatch(c -> c >= '0' && c <= '9') || digits.length() > 5) {
            throw new BadInputException("bad port in '" + text + "': expected a number 0..65535");
        }
        int port = Integer.parseInt(digits);
        if (port > 65535) {
            throw new BadInputException("port out of range in '" + text + "': expected 0..65535");
        }
        return new HostPort(host, port);
    }

    /** The socket address to listen on or connect to; this is where the host name is resolved. */
    public InetSocketAddress resolve() {
        return new InetSocketAddress(host, port);
    }

    /** The form {@link #parse} reads back: IPv6 addresses in brackets. */
    @Override
    public String toString() {
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }
}
