package io.walship.archive;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;

import software.amazon.awssdk.http.AbortableInputStream;
import software.amazon.awssdk.http.ExecutableHttpRequest;
import software.amazon.awssdk.http.HttpExecuteRequest;
import software.amazon.awssdk.http.HttpExecuteResponse;
import software.amazon.awssdk.http.SdkHttpClient;
import software.amazon.awssdk.http.SdkHttpResponse;
import software.amazon.awssdk.http.apache.ApacheHttpClient;

/**
 * An HTTP client for the S3 SDK that fails a share of requests the ways networks and servers
 * do: a 503 (throttling), a connection reset before the request is sent, and — the nasty one —
 * a reset after the server has executed the request, so the client never sees that it worked.
 * Below the SDK's retry logic, so retries happen as they would for real.
 */
public final class FaultyHttpClient implements SdkHttpClient {
    private final SdkHttpClient delegate = ApacheHttpClient.builder().build();
    private final Random random;
    private final double rate;
    private final AtomicInteger injected = new AtomicInteger();
    private final AtomicInteger requests = new AtomicInteger();

    public FaultyHttpClient(long seed, double rate) {
        this.random = new Random(seed);
        this.rate = rate;
    }

    public int injected() {
        return injected.get();
    }

    public int requests() {
        return requests.get();
    }

    @Override
    public ExecutableHttpRequest prepareRequest(HttpExecuteRequest request) {
        requests.incrementAndGet();
        int fault;
        synchronized (random) {
            fault = random.nextDouble() < rate ? 1 + random.nextInt(3) : 0;
        }
        if (fault == 1) {
            injected.incrementAndGet();
            return new Canned(() -> {
                InputStream body = new ByteArrayInputStream(
                        "<Error><Code>SlowDown</Code><Message>injected</Message></Error>".getBytes(StandardCharsets.UTF_8));
                return HttpExecuteResponse.builder()
                        .response(SdkHttpResponse.builder().statusCode(503).statusText("Slow Down").build())
                        .responseBody(AbortableInputStream.create(body)).build();
            });
        }
        if (fault == 2) {
            injected.incrementAndGet();
            return new Canned(() -> {
                throw new IOException("injected: connection reset before the request was sent");
            });
        }
        ExecutableHttpRequest real = delegate.prepareRequest(request);
        if (fault == 3) {
            injected.incrementAndGet();
            return new Canned(() -> {
                HttpExecuteResponse r = real.call();
                r.responseBody().ifPresent(b -> {
                    try {
                        b.readAllBytes();
                        b.close();
                    } catch (IOException ignored) {
                        // we are throwing anyway
                    }
                });
                throw new IOException("injected: connection reset after the server executed the request");
            });
        }
        return real;
    }

    private interface Call {
        HttpExecuteResponse call() throws IOException;
    }

    private record Canned(Call body) implements ExecutableHttpRequest {
        @Override
        public HttpExecuteResponse call() throws IOException {
            return body.call();
        }

        @Override
        public void abort() {
            // nothing in flight
        }
    }

    @Override
    public void close() {
        delegate.close();
    }
}
