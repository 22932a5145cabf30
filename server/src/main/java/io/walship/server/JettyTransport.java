package io.walship.server;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.util.function.Consumer;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;

import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.http.UriCompliance;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

import io.walship.protocol.tls.Tls;

/**
 * Jetty 12 (its core API, no servlets) under the {@link HttpApi}, the default: one selector thread
 * parses requests and keeps idle connections without a thread each; a request runs on a pool
 * thread (at most {@value #MAX_THREADS}) while it reads its body and commits, and a whole answer is
 * written without holding it. Chosen over the JDK's server by measurement (docs/BENCHMARKS.md, "HTTP
 * server"). Thread-safe.
 */
final class JettyTransport implements HttpTransport {
    /** Pool threads: a durable commit holds one through its WAL sync, and concurrent commits share syncs. */
    static final int MAX_THREADS = 128;
    /** An idle keep-alive connection, or a client that stops sending mid-request, is closed after this. */
    static final long IDLE_TIMEOUT_MS = 30_000;

    private final Server server;
    private final ServerConnector connector;

    JettyTransport(InetSocketAddress address, SSLContext tls, Consumer<Exchange> dispatch) throws IOException {
        QueuedThreadPool pool = new QueuedThreadPool(MAX_THREADS, 4, 60_000);
        pool.setName("walship-http");
        pool.setDaemon(true);
        server = new Server(pool);
        HttpConfiguration config = new HttpConfiguration();
        config.setSendServerVersion(false);
        config.setSendXPoweredBy(false);
        // keys are any bytes, percent-encoded in the path (%2F, %00, %2E%2E are keys, not path
        // segments): the API decodes the raw path itself, so no URI form is refused here for being
        // ambiguous as a file path
        config.setUriCompliance(UriCompliance.UNSAFE);
        HttpConnectionFactory http = new HttpConnectionFactory(config);
        if (tls != null) {
            SSLParameters params = Tls.serverParameters(tls);
            SslContextFactory.Server ssl = new SslContextFactory.Server() {
                @Override
                public SSLParameters customize(SSLParameters ignored) {
                    return params; // TLS 1.3 and 1.2 only, as Tls chose (the same as the JDK server's)
                }
            };
            ssl.setSslContext(tls);
            connector = new ServerConnector(server, 1, 1,
                    new SslConnectionFactory(ssl, HttpVersion.HTTP_1_1.asString()), http);
        } else {
            connector = new ServerConnector(server, 1, 1, http);
        }
        connector.setHost(address.getHostString());
        connector.setPort(address.getPort());
        connector.setAcceptQueueSize(256);
        connector.setIdleTimeout(IDLE_TIMEOUT_MS);
        server.addConnector(connector);
        server.setHandler(new Handler.Abstract() { // blocking: a request may read its body and commit
            @Override
            public boolean handle(Request request, Response response, Callback callback) {
                dispatch.accept(new JettyExchange(request, response, callback));
                return true;
            }
        });
        server.setStopTimeout(2_000);
        connector.open(); // bound now, like the JDK server: the caller learns its port before start()
    }

    @Override
    public void start() {
        try {
            server.start();
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException("the HTTP server did not start: " + e.getMessage(), e);
        }
    }

    @Override
    public InetSocketAddress address() {
        try {
            return (InetSocketAddress) ((ServerSocketChannel) connector.getTransport()).getLocalAddress();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Override
    public void stop(int seconds) {
        server.setStopTimeout(seconds * 1000L);
        try {
            server.stop();
        } catch (Exception e) {
            throw new IllegalStateException("the HTTP server did not stop: " + e.getMessage(), e);
        }
    }

    /** One request; ends with its callback, succeeded once the answer is out, failed to drop the connection. */
    private static final class JettyExchange implements Exchange {
        private final Request request;
        private final Response response;
        private final Callback callback;
        private OutputStream body;
        private boolean done;
        private Long minLsn;

        JettyExchange(Request request, Response response, Callback callback) {
            this.request = request;
            this.response = response;
            this.callback = callback;
        }

        @Override
        public String method() {
            return request.getMethod();
        }

        @Override
        public String rawPath() {
            String p = request.getHttpURI().getPath();
            return p == null ? "" : p;
        }

        @Override
        public String rawQuery() {
            return request.getHttpURI().getQuery();
        }

        @Override
        public String requestHeader(String name) {
            return request.getHeaders().get(name);
        }

        @Override
        public void header(String name, String value) {
            response.getHeaders().put(name, value);
        }

        @Override
        public InputStream requestBody() {
            return Content.Source.asInputStream(request);
        }

        @Override
        public void respond(int status, String contentType, byte[] bytes) {
            response.setStatus(status);
            response.getHeaders().put(HttpHeader.CONTENT_TYPE, contentType);
            response.getHeaders().put(HttpHeader.CONTENT_LENGTH, bytes.length);
            done = true;
            response.write(true, ByteBuffer.wrap(bytes), callback); // the thread goes back to the pool meanwhile
        }

        @Override
        public void sendHeaders(int status, long length) {
            response.setStatus(status);
            if (length > 0) {
                response.getHeaders().put(HttpHeader.CONTENT_LENGTH, length);
            }
        }

        @Override
        public OutputStream responseBody() {
            if (body == null) {
                body = new BufferedOutputStream(Content.Sink.asOutputStream(response), 32 << 10);
            }
            return body;
        }

        @Override
        public void close() {
            if (done) {
                return;
            }
            done = true;
            if (body == null) {
                // no answer was given (the client went away while it was made): nothing to finish
                callback.failed(new IOException("no answer"));
                return;
            }
            try {
                body.close(); // the last write, if the handler did not close it already
            } catch (IOException e) {
                callback.failed(e);
                return;
            }
            callback.succeeded();
        }

        /** Fails the callback: Jetty drops the connection, so a cut body never looks complete. */
        @Override
        public void abort(RuntimeException cause) {
            if (!done) {
                done = true;
                callback.failed(cause);
            }
        }

        @Override
        public Long minLsn() {
            return minLsn;
        }

        @Override
        public void minLsn(long lsn) {
            minLsn = lsn;
        }
    }
}
