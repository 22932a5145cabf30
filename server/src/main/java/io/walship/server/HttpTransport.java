package io.walship.server;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.function.Consumer;

import javax.net.ssl.SSLContext;

/**
 * The HTTP server under the {@link HttpApi}: it binds, parses requests and hands each to the API as
 * an {@link Exchange}. Jetty 12 ({@link JettyTransport}) by default; the JDK's
 * {@code com.sun.net.httpserver} ({@link JdkTransport}) with {@code -Dwalship.http.server=jdk}, kept
 * for comparison (docs/BENCHMARKS.md, "HTTP server").
 */
interface HttpTransport extends AutoCloseable {
    /** The system property choosing the server: {@code jetty} (default) or {@code jdk}. */
    String PROPERTY = "walship.http.server";

    /** Serves requests from now on. */
    void start();

    /** Where it listens (the actual port if it was given port 0). */
    InetSocketAddress address();

    /** Stops accepting, lets running requests finish for up to {@code seconds}. */
    void stop(int seconds);

    @Override
    default void close() {
        stop(2);
    }

    /**
     * Binds {@code address} with the server the {@value #PROPERTY} system property names (bad value:
     * {@link IllegalArgumentException}); serves nothing until {@link #start}.
     */
    static HttpTransport bind(InetSocketAddress address, SSLContext tls, Consumer<Exchange> dispatch) throws IOException {
        String which = System.getProperty(PROPERTY, "jetty");
        return switch (which) {
            case "jetty" -> new JettyTransport(address, tls, dispatch);
            case "jdk" -> new JdkTransport(address, tls, dispatch);
            default -> throw new IllegalArgumentException("-D" + PROPERTY + " must be jetty or jdk, got '" + which + "'");
        };
    }
}
