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
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.http.UriCompliance;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.EofException;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.server.internal.HttpConnection;
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
        HttpConnectionFactory http = new NulPathConnectionFactory(config);
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
        server.setErrorHandler(new PlainErrorHandler());
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

    /**
     * Answers the requests Jetty refuses itself (a URI it cannot parse, headers too large, a path
     * climbing above the root) as the API answers its own errors: one {@code error: ...} line of plain
     * text, not an HTML page.
     */
    private static final class PlainErrorHandler extends ErrorHandler {
        @Override
        protected void generateResponse(Request request, Response response, int code, String message, Throwable cause,
                                        Callback callback) {
            String why = message != null && !message.isBlank() ? message : HttpStatus.getMessage(code);
            byte[] body = ("error: " + why.replace('\n', ' ').replace('\r', ' ') + "\n")
                    .getBytes(java.nio.charset.StandardCharsets.UTF_8);
            response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain; charset=utf-8");
            response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
            response.write(true, ByteBuffer.wrap(body), callback);
        }
    }

    /** Makes {@link NulPathConnection}s: HTTP/1.1 as {@link HttpConnectionFactory} makes it otherwise. */
    private static final class NulPathConnectionFactory extends HttpConnectionFactory {
        NulPathConnectionFactory(HttpConfiguration config) {
            super(config);
        }

        @Override
        public Connection newConnection(Connector connector, EndPoint endPoint) {
            NulPathConnection c = new NulPathConnection(getHttpConfiguration(), connector, endPoint);
            c.setTransferEncodingChunkMaxLength(getTransferEncodingChunkMaxLength());
            return configure(c, connector, endPoint);
        }
    }

    /**
     * Jetty's URI parser refuses {@code %00} in a path outright (400 before any handler, whatever the
     * {@link UriCompliance}), but a key may hold a 0 byte, percent-encoded like any other. A request
     * whose path has one is parsed under a stand-in path ({@code %01} in its place) and the
     * connection keeps the raw path for {@link JettyExchange#rawPath}. Built on Jetty's internal
     * {@code HttpConnection}: {@code HttpTransportTest} notices if an upgrade changes it.
     */
    static final class NulPathConnection extends HttpConnection {
        private volatile String standInPath;
        private volatile String rawPath;

        NulPathConnection(HttpConfiguration config, Connector connector, EndPoint endPoint) {
            super(config, connector, endPoint);
        }

        @Override
        protected HttpStreamOverHTTP1 newHttpStream(String method, String uri, HttpVersion version) {
            int q = uri.indexOf('?');
            String path = q < 0 ? uri : uri.substring(0, q);
            String standIn = path.startsWith("/") ? withoutNul(path) : path;
            if (standIn == path) {
                standInPath = null;
                rawPath = null;
                return super.newHttpStream(method, uri, version);
            }
            rawPath = path;
            standInPath = standIn;
            return super.newHttpStream(method, q < 0 ? standIn : standIn + uri.substring(q), version);
        }

        /** The raw path of the request Jetty sees under {@code path}, or {@code path}. */
        String rawPath(String path) {
            String standIn = standInPath;
            String raw = rawPath;
            return standIn != null && raw != null && standIn.equals(path) ? raw : path;
        }

        /** {@code path} with each {@code %00} triplet as {@code %01}, or {@code path} itself if it has none. */
        private static String withoutNul(String path) {
            StringBuilder b = null;
            for (int i = 0; i < path.length(); i++) {
                if (path.charAt(i) == '%' && path.startsWith("00", i + 1)) {
                    if (b == null) {
                        b = new StringBuilder(path.length()).append(path, 0, i);
                    }
                    b.append("%01");
                    i += 2;
                } else if (path.charAt(i) == '%' && i + 2 < path.length()) {
                    if (b != null) {
                        b.append(path, i, i + 3);
                    }
                    i += 2;
                } else if (b != null) {
                    b.append(path.charAt(i));
                }
            }
            return b == null ? path : b.toString();
        }
    }

    /** One request; ends with its callback, succeeded once the answer is out, failed to drop the connection. */
    private static final class JettyExchange extends Exchange.WithMinLsn {
        private final Request request;
        private final Response response;
        private final Callback callback;
        private OutputStream body;
        private boolean done;
        private final String rawPath;

        JettyExchange(Request request, Response response, Callback callback) {
            this.request = request;
            String p = request.getHttpURI().getPath();
            p = p == null ? "" : p;
            this.rawPath = request.getConnectionMetaData().getConnection() instanceof NulPathConnection c ? c.rawPath(p) : p;
            this.response = response;
            this.callback = callback;
        }

        @Override
        public String method() {
            return request.getMethod();
        }

        @Override
        public String rawPath() {
            return rawPath;
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
        public long contentLength() {
            return request.getLength(); // as Jetty parsed it: -1 if the body is chunked or has no length
        }

        @Override
        public InputStream requestBody() {
            return Content.Source.asInputStream(request);
        }

        /**
         * Before the answer's head goes out: a request body not read to its end (an error answered
         * before the body, as 401, 405, 413 or 503 are) is taken if it is already here; if not,
         * the answer says {@code Connection: close}, since Jetty then drops the connection after it
         * and a client not told so would send its next request on it and get no answer.
         */
        private void beforeCommit() {
            if (!request.consumeAvailable()) {
                response.getHeaders().put(HttpHeader.CONNECTION, "close");
            }
        }

        @Override
        public void respond(int status, String contentType, byte[] bytes) {
            beforeCommit();
            response.setStatus(status);
            response.getHeaders().put(HttpHeader.CONTENT_TYPE, contentType);
            response.getHeaders().put(HttpHeader.CONTENT_LENGTH, bytes.length);
            done = true;
            response.write(true, ByteBuffer.wrap(bytes), callback); // the thread goes back to the pool meanwhile
        }

        @Override
        public void sendHeaders(int status, long length) {
            beforeCommit();
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
                // no answer was given (the client went away while it was made): nothing to finish, and
                // nothing for Jetty's log (a client that goes away is no server fault: a quiet failure)
                callback.failed(new EofException("no answer: the client went away"));
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

    }
}
