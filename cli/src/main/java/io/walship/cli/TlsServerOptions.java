package io.walship.cli;

import java.nio.file.Path;

import javax.net.ssl.SSLContext;

import io.walship.protocol.AuthToken;
import io.walship.protocol.HostPort;
import io.walship.protocol.tls.Tls;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Option;

/**
 * {@code --tls-cert FILE --tls-key FILE} (both or neither): serve a node's HTTP API over HTTPS and
 * its replication port over TLS ({@code walship leader}, {@code walship follow}; a picocli mixin).
 * See docs/OPERATIONS.md, "TLS".
 */
final class TlsServerOptions {
    private static final Logger LOG = LoggerFactory.getLogger(TlsServerOptions.class);

    @Option(names = "--tls-cert", paramLabel = "FILE", defaultValue = "${env:WALSHIP_TLS_CERT}",
            description = "Serve HTTPS and TLS replication with this PEM certificate chain (the server's certificate"
                    + " first). Needs --tls-key. Env: WALSHIP_TLS_CERT.")
    Path cert;

    @Option(names = "--tls-key", paramLabel = "FILE", defaultValue = "${env:WALSHIP_TLS_KEY}",
            description = "The unencrypted PKCS#8 PEM private key (BEGIN PRIVATE KEY; RSA or EC) of --tls-cert."
                    + " Env: WALSHIP_TLS_KEY.")
    Path key;

    /**
     * The server's TLS context, or null without {@code --tls-cert}/{@code --tls-key}.
     *
     * @throws CliException (exit 2) only one of the two is given
     * @throws io.walship.protocol.BadInputException (exit 2) a file is missing, unreadable, not PEM,
     *                                               encrypted, or the key does not match
     */
    SSLContext context() {
        if (cert == null && key == null) {
            return null;
        }
        if (cert == null || key == null) {
            throw new CliException(ExitCodes.USAGE, cert == null ? "--tls-key needs --tls-cert" : "--tls-cert needs --tls-key",
                    null);
        }
        return Tls.serverContext(cert, key);
    }

    /**
     * A token on listeners reachable from other machines, without TLS, travels in clear: one WARN
     * naming them all (docs/OPERATIONS.md, "TLS").
     *
     * @param listeners flag and address pairs, e.g. {@code "--http", httpAddress}; null addresses are skipped
     */
    static void warnCleartextToken(AuthToken token, SSLContext tls, Object... listeners) {
        String w = cleartextTokenWarning(token, tls, listeners);
        if (w != null) {
            LOG.warn(w);
        }
    }

    /** The warning {@link #warnCleartextToken} logs, or null when there is nothing to warn about. */
    static String cleartextTokenWarning(AuthToken token, SSLContext tls, Object... listeners) {
        if (token == null || tls != null) {
            return null;
        }
        StringBuilder off = new StringBuilder();
        for (int i = 0; i + 1 < listeners.length; i += 2) {
            HostPort where = (HostPort) listeners[i + 1];
            if (where != null && !AuthToken.isLoopback(where.host())) {
                off.append(off.length() == 0 ? "" : ", ").append(listeners[i]).append(' ').append(where);
            }
        }
        return off.length() == 0 ? null : off + " listen(s) off loopback without TLS: the auth token and all data"
                + " travel in clear; give --tls-cert and --tls-key (docs/OPERATIONS.md, \"TLS\")";
    }

    /** {@code http} or {@code https}. */
    static String scheme(SSLContext tls) {
        return tls == null ? "http" : "https";
    }
}
