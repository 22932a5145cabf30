package io.walship.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

import javax.net.ssl.SSLHandshakeException;

import io.walship.protocol.tls.TestTls;
import io.walship.protocol.tls.Tls;
import io.walship.server.LeaderServer;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** WalshipClient against an in-process leader served over HTTPS with the committed test CA. */
class WalshipClientTlsTest {
    @TempDir
    Path tmp;

    @Test
    void readsAndWritesOverHttpsWithTheCaAndIsRefusedWithoutIt() throws Exception {
        Path tls = TestTls.writeTo(tmp.resolve("tls"));
        try (Store store = Store.open(tmp.resolve("leader"));
             LeaderServer leader = new LeaderServer(store, new InetSocketAddress("127.0.0.1", 0), null, null, null,
                     Tls.serverContext(tls.resolve("server.pem"), tls.resolve("server.key"))).start()) {
            int port = leader.address().getPort();
            String https = "https://127.0.0.1:" + port;
            try (WalshipClient c = WalshipClient.builder(https).trust(tls.resolve("ca.pem")).build()) {
                long lsn = c.put("k", "v1");
                assertTrue(lsn > 0);
                GetResult got = c.get("k");
                assertEquals("v1", got.valueString());
                assertTrue(got.lsn() >= lsn);
            }
            // the name in the URL is checked too: localhost is in the certificate
            try (WalshipClient c = WalshipClient.builder("https://localhost:" + port)
                    .sslContext(Tls.clientContext(tls.resolve("ca.pem"))).build()) {
                assertEquals("v1", c.get("k").valueString());
            }
            // the JVM's default trust store does not know the test CA: refused, nothing written
            try (WalshipClient c = WalshipClient.builder(https).build()) {
                NodeUnreachableException e = assertThrows(NodeUnreachableException.class, () -> c.put("k", "v2"));
                assertTrue(hasCause(e, SSLHandshakeException.class), e.toString());
            }
            // a certificate that names another host: refused by hostname verification
            try (WalshipClient c = WalshipClient.builder(https).trust(tls.resolve("wrong-name.pem")).build()) {
                assertThrows(NodeUnreachableException.class, () -> c.get("k"));
            }
            // plain HTTP to the HTTPS port fails that request only; a raw plaintext request is dropped
            HttpClient plain = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            assertThrows(IOException.class, () -> plain.send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + port + "/kv/k")).timeout(Duration.ofSeconds(20)).GET().build(),
                    HttpResponse.BodyHandlers.ofString()));
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
                s.setSoTimeout(20_000);
                OutputStream out = s.getOutputStream();
                out.write("GET /kv/k HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
                InputStream in = s.getInputStream();
                byte[] answer = in.readAllBytes(); // the server closes; whatever it sent is no HTTP answer
                assertTrue(!new String(answer, StandardCharsets.ISO_8859_1).contains("v1"), "plaintext leaked the value");
            }
            try (WalshipClient c = WalshipClient.builder(https).trust(tls.resolve("ca.pem")).build()) {
                assertEquals("v1", c.get("k").valueString());
                assertTrue(c.put("k", "v3") > 0);
                assertEquals("v3", c.get("k").valueString());
            }
        }
    }

    private static boolean hasCause(Throwable e, Class<? extends Throwable> type) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return true;
            }
        }
        return false;
    }
}
