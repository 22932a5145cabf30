package io.walship.server;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import javax.net.ssl.SSLContext;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import io.walship.protocol.tls.Tls;

/**
 * The JDK's {@code com.sun.net.httpserver} under the {@link HttpApi} ({@code -Dwalship.http.server=jdk}):
 * a pool of {@value #THREADS} threads, each request on one of them from its head to its answer (a
 * durable PUT holds its thread through the WAL sync). Thread-safe.
 */
final class JdkTransport implements HttpTransport {
    static final int THREADS = 64;

    private final HttpServer server;
    private final ExecutorService executor;

    JdkTransport(InetSocketAddress address, SSLContext tls, Consumer<Exchange> dispatch) throws IOException {
        if (tls != null) {
            HttpsServer https = HttpsServer.create(address, 256);
            https.setHttpsConfigurator(new HttpsConfigurator(tls) {
                @Override
                public void configure(HttpsParameters params) {
                    params.setSSLParameters(Tls.serverParameters(getSSLContext()));
                }
            });
            this.server = https;
        } else {
            this.server = HttpServer.create(address, 256);
        }
        this.executor = Executors.newFixedThreadPool(THREADS, r -> {
            Thread t = new Thread(r, "walship-http");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        server.createContext("/", ex -> dispatch.accept(new JdkExchange(ex)));
    }

    @Override
    public void start() {
        server.start();
    }

    @Override
    public InetSocketAddress address() {
        return server.getAddress();
    }

    @Override
    public void stop(int seconds) {
        server.stop(seconds);
        executor.shutdown();
        try {
            executor.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static final class JdkExchange extends Exchange.WithMinLsn {
        private final HttpExchange ex;

        JdkExchange(HttpExchange ex) {
            this.ex = ex;
        }

        @Override
        public String method() {
            return ex.getRequestMethod();
        }

        @Override
        public String rawPath() {
            return ex.getRequestURI().getRawPath();
        }

        @Override
        public String rawQuery() {
            return ex.getRequestURI().getRawQuery();
        }

        @Override
        public String requestHeader(String name) {
            return ex.getRequestHeaders().getFirst(name);
        }

        @Override
        public void header(String name, String value) {
            ex.getResponseHeaders().set(name, value);
        }

        @Override
        public InputStream requestBody() {
            return ex.getRequestBody();
        }

        @Override
        public void respond(int status, String contentType, byte[] body) throws IOException {
            ex.getResponseHeaders().set("Content-Type", contentType);
            ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
            }
        }

        @Override
        public void sendHeaders(int status, long length) throws IOException {
            ex.sendResponseHeaders(status, length);
        }

        @Override
        public OutputStream responseBody() {
            return ex.getResponseBody();
        }

        @Override
        public void close() {
            ex.close();
        }

        /** Throws: the exchange is left unclosed, and the server drops the connection without a last chunk. */
        @Override
        public void abort(RuntimeException cause) {
            throw cause;
        }

    }
}
