package io.walship.protocol.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

import javax.net.SocketFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLSocket;

import io.walship.protocol.BadInputException;
import io.walship.protocol.HostPort;
import io.walship.protocol.repl.Frame;
import io.walship.protocol.repl.ReplConnection;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** PEM loading and the TLS replication socket, against the committed test CA. */
class TlsTest {
    @TempDir
    Path tmp;
    Path dir;

    @BeforeEach
    void files() {
        dir = TestTls.writeTo(tmp.resolve("tls"));
    }

    /** A TLS replication listener on 127.0.0.1 that echoes one frame back on each connection. */
    private static final class Echo implements AutoCloseable {
        final ServerSocket listener;
        final CompletableFuture<String> protocol = new CompletableFuture<>();
        final Thread thread;

        Echo(SSLContext ctx) throws IOException {
            listener = Tls.serverSockets(ctx).createServerSocket();
            listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            thread = new Thread(() -> {
                while (!listener.isClosed()) {
                    try (ReplConnection c = ReplConnection.accepted(listener, listener.accept())) {
                        c.readTimeout(Duration.ofSeconds(10));
                        Frame f = c.read();
                        c.write(f);
                    } catch (IOException e) {
                        // a refused handshake ends this connection only
                    }
                }
            });
            thread.setDaemon(true);
            thread.start();
        }

        HostPort at(String host) {
            return new HostPort(host, listener.getLocalPort());
        }

        @Override
        public void close() throws IOException {
            listener.close();
        }
    }

    private static final Frame.Hello HELLO = new Frame.Hello(Frame.VERSION, 42, 1, 7, "slot", "token", "node");

    private Frame roundTrip(SSLContext client, HostPort to) throws IOException {
        try (ReplConnection c = ReplConnection.connect(Tls.clientSockets(client), to, Duration.ofSeconds(10))) {
            c.readTimeout(Duration.ofSeconds(10));
            c.write(HELLO);
            return c.read();
        }
    }

    @Test
    void framesCrossTlsWithRsaAndEcKeysUnderTheirNameAndIp() throws IOException {
        for (String name : new String[]{"server", "ec-server"}) {
            SSLContext server = Tls.serverContext(dir.resolve(name + ".pem"), dir.resolve(name + ".key"));
            try (Echo echo = new Echo(server)) {
                SSLContext client = Tls.clientContext(dir.resolve("ca.pem"));
                assertEquals(HELLO, roundTrip(client, echo.at("127.0.0.1")), name);
                assertEquals(HELLO, roundTrip(client, echo.at("localhost")), name);
                try (Socket plain = new Socket()) {
                    plain.connect(new InetSocketAddress("127.0.0.1", echo.listener.getLocalPort()), 10_000);
                    SSLSocket s = Tls.handshake(client, plain, echo.at("127.0.0.1"), 10_000);
                    assertEquals("TLSv1.3", s.getSession().getProtocol());
                    s.close();
                }
            }
        }
    }

    @Test
    void aClientWithoutTheCaOrForAnotherNameIsRefusedAndTheServerKeepsServing() throws IOException {
        try (Echo echo = new Echo(Tls.serverContext(dir.resolve("server.pem"), dir.resolve("server.key")))) {
            // the JVM's default trust store does not know the test CA
            SSLHandshakeException untrusted = assertThrows(SSLHandshakeException.class,
                    () -> roundTrip(Tls.clientContext(null), echo.at("127.0.0.1")));
            assertTrue(untrusted.getMessage().contains("PKIX"), untrusted.getMessage());
            // plaintext to a TLS port: the client's frame is no ClientHello; the server drops it
            try (ReplConnection c = ReplConnection.connect(SocketFactory.getDefault(), echo.at("127.0.0.1"),
                    Duration.ofSeconds(10))) {
                c.readTimeout(Duration.ofSeconds(10));
                c.write(HELLO);
                assertThrows(IOException.class, c::read);
            }
            // still serving
            assertEquals(HELLO, roundTrip(Tls.clientContext(dir.resolve("ca.pem")), echo.at("127.0.0.1")));
        }
        // a certificate that names elsewhere.example, trusted as its own CA, on 127.0.0.1: the name check refuses it
        try (Echo echo = new Echo(Tls.serverContext(dir.resolve("wrong-name.pem"), dir.resolve("wrong-name.key")))) {
            SSLHandshakeException e = assertThrows(SSLHandshakeException.class,
                    () -> roundTrip(Tls.clientContext(dir.resolve("wrong-name.pem")), echo.at("127.0.0.1")));
            assertTrue(e.getMessage().contains("127.0.0.1"), e.getMessage());
            SSLHandshakeException dns = assertThrows(SSLHandshakeException.class,
                    () -> roundTrip(Tls.clientContext(dir.resolve("wrong-name.pem")), echo.at("localhost")));
            assertTrue(dns.getMessage().contains("localhost"), dns.getMessage());
        }
    }

    @Test
    void aTlsClientToAPlainPortFailsCleanly() throws IOException {
        try (ServerSocket plain = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            Thread t = new Thread(() -> {
                try (Socket s = plain.accept()) {
                    s.getInputStream().read(new byte[5]);
                    s.getOutputStream().write(new byte[]{0, 0, 0, 3, 9, 9, 9}); // not a TLS record
                } catch (IOException e) {
                    // the test fails on the client side if this goes wrong
                }
            });
            t.setDaemon(true);
            t.start();
            IOException e = assertThrows(IOException.class, () -> roundTrip(
                    Tls.clientContext(dir.resolve("ca.pem")), new HostPort("127.0.0.1", plain.getLocalPort())));
            assertInstanceOf(SSLException.class, e, e.toString());
        }
    }

    @Test
    void badKeysAndCertificatesNameTheFileOnOneLine() throws IOException {
        Path cert = dir.resolve("server.pem");
        Files.writeString(dir.resolve("garbage.pem"), "not a certificate\n");
        Files.writeString(dir.resolve("broken.pem"), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        String[][] cases = {
                {"server.pem", "other.key", "does not belong to the certificate"},
                {"server.pem", "encrypted.key", "is encrypted"},
                {"server.pem", "pkcs1.key", "RSA PRIVATE KEY"},
                {"server.pem", "missing.key", "does not exist"},
                {"server.pem", "server.pem", "no PEM '-----BEGIN PRIVATE KEY-----' block"},
                {"garbage.pem", "server.key", "no PEM '-----BEGIN CERTIFICATE-----' block"},
                {"broken.pem", "server.key", "cannot be read"},
                {"ec-server.pem", "server.key", "does not belong to the certificate"},
        };
        for (String[] c : cases) {
            BadInputException e = assertThrows(BadInputException.class,
                    () -> Tls.serverContext(dir.resolve(c[0]), dir.resolve(c[1])), c[0] + " " + c[1]);
            assertTrue(e.getMessage().contains(c[2]), e.getMessage());
            assertTrue(e.getMessage().contains(c[1].endsWith(".key") && !c[2].contains("CERTIFICATE")
                    && !c[2].equals("cannot be read") ? c[1] : c[0]), e.getMessage());
            assertTrue(!e.getMessage().contains("\n"), e.getMessage());
        }
        BadInputException ca = assertThrows(BadInputException.class, () -> Tls.clientContext(dir.resolve("server.key")));
        assertTrue(ca.getMessage().contains("server.key"), ca.getMessage());
        assertEquals(2, Tls.certificates(cert).size());
    }

    /**
     * The leader's watchdog unblocks a sender whose follower stopped reading by closing the
     * connection from another thread; over TLS that close must not wait for the blocked writer.
     */
    @Test
    void closingATlsConnectionUnblocksAWriterStuckOnAPeerThatDoesNotRead() throws Exception {
        SSLContext server = Tls.serverContext(dir.resolve("server.pem"), dir.resolve("server.key"));
        try (ServerSocket listener = Tls.serverSockets(server).createServerSocket()) {
            listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            CompletableFuture<ReplConnection> accepted = CompletableFuture.supplyAsync(() -> {
                try {
                    ReplConnection c = ReplConnection.accepted(listener, listener.accept());
                    c.readTimeout(Duration.ofSeconds(10));
                    assertEquals(HELLO, c.read()); // the server's handshake runs in this first read
                    return c;
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            try (ReplConnection client = ReplConnection.connect(Tls.clientSockets(Tls.clientContext(dir.resolve("ca.pem"))),
                    new HostPort("127.0.0.1", listener.getLocalPort()), Duration.ofSeconds(10))) {
                client.write(HELLO); // the server reads it (finishing its handshake), then writes until blocked
                ReplConnection conn = accepted.get(10, java.util.concurrent.TimeUnit.SECONDS);
                CompletableFuture<Throwable> writer = CompletableFuture.supplyAsync(() -> {
                    Frame big = new Frame.Hello(Frame.VERSION, 1, 1, 1, "x".repeat(60_000), "", "");
                    try {
                        while (true) {
                            conn.write(big);
                        }
                    } catch (Throwable t) {
                        return t;
                    }
                });
                // the client never reads: the writer fills both socket buffers and blocks
                long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(5);
                while (System.nanoTime() < deadline && !writer.isDone()) {
                    Thread.onSpinWait();
                }
                assertTrue(!writer.isDone(), "the writer should be blocked, not " + writer.getNow(null));
                CompletableFuture<Void> close = CompletableFuture.runAsync(conn::close);
                close.get(10, java.util.concurrent.TimeUnit.SECONDS);
                assertInstanceOf(IOException.class, writer.get(10, java.util.concurrent.TimeUnit.SECONDS));
            }
        }
    }

    @Test
    void onlyTls12AndUpAreOffered() {
        SSLContext ctx = Tls.serverContext(dir.resolve("server.pem"), dir.resolve("server.key"));
        assertEquals(java.util.List.of("TLSv1.3", "TLSv1.2"), java.util.List.of(Tls.serverParameters(ctx).getProtocols()));
        assertEquals("HTTPS", Tls.clientParameters(ctx).getEndpointIdentificationAlgorithm());
    }
}
