package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.file.Path;

import javax.net.ssl.SSLContext;

import io.walship.protocol.AuthToken;
import io.walship.protocol.HostPort;
import io.walship.protocol.tls.TestTls;
import io.walship.protocol.tls.Tls;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The one WARN for a token that travels in clear (docs/OPERATIONS.md, "TLS"), without binding anything. */
class TlsServerOptionsTest {
    @TempDir
    Path tmp;

    @Test
    void warnsOnceNamingEveryListenerOffLoopbackWhenATokenHasNoTls() {
        AuthToken token = AuthToken.of("s3cret");
        HostPort lo = HostPort.parse("127.0.0.1:7070");
        HostPort off = HostPort.parse("10.0.0.5:7070");
        HostPort offRepl = HostPort.parse("[2001:db8::1]:7071");
        assertEquals("--http 10.0.0.5:7070, --repl [2001:db8::1]:7071 listen(s) off loopback without TLS: the auth token"
                        + " and all data travel in clear; give --tls-cert and --tls-key (docs/OPERATIONS.md, \"TLS\")",
                TlsServerOptions.cleartextTokenWarning(token, null, "--http", off, "--repl", offRepl));
        assertEquals("--repl [2001:db8::1]:7071", TlsServerOptions.cleartextTokenWarning(token, null, "--http", lo,
                "--repl", offRepl).split(" listen")[0]);
        assertNull(TlsServerOptions.cleartextTokenWarning(token, null, "--http", lo, "--repl", null), "loopback only");
        assertNull(TlsServerOptions.cleartextTokenWarning(null, null, "--http", off), "no token, nothing to leak");
        Path tls = TestTls.writeTo(tmp.resolve("tls"));
        SSLContext ctx = Tls.serverContext(tls.resolve("server.pem"), tls.resolve("server.key"));
        assertNull(TlsServerOptions.cleartextTokenWarning(token, ctx, "--http", off, "--repl", offRepl), "TLS on");
    }
}
