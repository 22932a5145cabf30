package io.walship.server;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * One HTTP request and its answer as the {@link HttpApi} handles it, whichever server carries it
 * ({@link JettyTransport} or {@link JdkTransport}). An answer is either whole ({@link #respond}) or
 * streamed ({@link #sendHeaders}, {@link #responseBody}); it ends with {@link #close} or, once its
 * head is out and it cannot be finished, {@link #abort} (the connection is dropped, so a cut body
 * never looks complete). Used by one thread at a time.
 */
interface Exchange {
    /** {@code GET}, {@code PUT}, ... */
    String method();

    /** The request path as sent (percent-encoded), never null. */
    String rawPath();

    /** The query as sent (percent-encoded), or null if there is none. */
    String rawQuery();

    /** The first value of a request header, or null. */
    String requestHeader(String name);

    /** Sets a header of the answer (before its head is sent). */
    void header(String name, String value);

    InputStream requestBody() throws IOException;

    /**
     * The request's {@code Content-Length}, or -1 if it has none (or not a number). Only a hint for
     * sizing what the body is read into: the body itself ends where the server's framing ends it.
     */
    default long contentLength() {
        String v = requestHeader("Content-Length");
        if (v == null) {
            return -1;
        }
        try {
            long n = Long.parseLong(v.trim());
            return n < 0 ? -1 : n;
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** A whole answer: status, content type and body, then the exchange is done ({@link #close} is a no-op after it). */
    void respond(int status, String contentType, byte[] body) throws IOException;

    /** Sends the head of a streamed answer: {@code length} bytes follow, or 0: chunked, to the end. */
    void sendHeaders(int status, long length) throws IOException;

    /** The body of a streamed answer, after {@link #sendHeaders}; closing it ends the answer. */
    OutputStream responseBody() throws IOException;

    /** Ends the exchange (after an answer, or after the client went away). */
    void close();

    /**
     * Drops the connection of an answer whose head is out and which cannot be finished. Returns
     * normally or throws {@code cause} back, as the server needs to drop it.
     */
    void abort(RuntimeException cause);

    /** The {@code min_lsn} this read waited for, or null (see {@link HttpApi}'s answerLsn). */
    Long minLsn();

    void minLsn(long lsn);

    /** Keeps the request's {@code min_lsn} for the API: what every transport's exchange does alike. */
    abstract class WithMinLsn implements Exchange {
        private Long minLsn;

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
