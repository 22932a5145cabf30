package io.walship.protocol.tls;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.InvalidKeySpecException;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.net.ServerSocketFactory;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;

import io.walship.protocol.BadInputException;
import io.walship.protocol.HostPort;

/**
 * TLS for every walship endpoint and client, with the JDK alone (docs/OPERATIONS.md, "TLS"): PEM
 * loading, {@link SSLContext}s, and the socket factories the replication port and its followers
 * use. One place decides the protocol versions ({@link #PROTOCOLS}: TLS 1.3, else 1.2) and that a
 * client verifies the server's name (HTTPS endpoint identification, for the replication socket too).
 *
 * <p>PEM forms accepted: certificates ({@code BEGIN CERTIFICATE}, the leaf first, then its chain)
 * and an unencrypted PKCS#8 private key ({@code BEGIN PRIVATE KEY}; RSA, EC, Ed25519/Ed448). An
 * encrypted key, a PKCS#1/SEC1 key ({@code BEGIN RSA/EC PRIVATE KEY}), an unreadable file or a key
 * that does not belong to the certificate is a {@link BadInputException} whose one-line message
 * names the file (exit 2 on the command line). Stateless and thread-safe.
 */
public final class Tls {
    /** The protocol versions offered and accepted, best first. */
    public static final List<String> PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");

    private static final Pattern PEM = Pattern.compile(
            "-----BEGIN ([A-Z0-9 ]+)-----\\s*([A-Za-z0-9+/=\\s]*?)-----END \\1-----");

    private Tls() {
    }

    /**
     * The context a server presents {@code certPem} with: a PEM chain (leaf first) and the PKCS#8
     * key in {@code keyPem} that belongs to its leaf.
     *
     * @throws BadInputException either file is missing, unreadable, not PEM of the expected kind,
     *                           encrypted, or the key does not match the certificate
     */
    public static SSLContext serverContext(Path certPem, Path keyPem) {
        List<X509Certificate> chain = certificates(certPem, "certificate");
        PrivateKey key = privateKey(keyPem);
        if (!matches(key, chain.get(0).getPublicKey())) {
            throw new BadInputException("TLS key " + keyPem + " does not belong to the certificate in " + certPem
                    + " (" + chain.get(0).getSubjectX500Principal().getName() + ")");
        }
        try {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            char[] pass = new char[0];
            ks.setKeyEntry("walship", key, pass, chain.toArray(new Certificate[0]));
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, pass);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(kmf.getKeyManagers(), null, new SecureRandom());
            return ctx;
        } catch (GeneralSecurityException | IOException e) {
            throw new BadInputException("TLS certificate " + certPem + " and key " + keyPem + " cannot be used: "
                    + oneLine(e), e);
        }
    }

    /**
     * The context a client verifies servers with: trusting exactly the certificates in
     * {@code caPem} (a PEM bundle), or with null the JVM's default trust store.
     */
    public static SSLContext clientContext(Path caPem) {
        try {
            SSLContext ctx = SSLContext.getInstance("TLS");
            if (caPem == null) {
                ctx.init(null, null, new SecureRandom());
                return ctx;
            }
            KeyStore ts = KeyStore.getInstance("PKCS12");
            ts.load(null, null);
            int i = 0;
            for (X509Certificate c : certificates(caPem, "CA")) {
                ts.setCertificateEntry("ca" + i++, c);
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(ts);
            ctx.init(null, tmf.getTrustManagers(), new SecureRandom());
            return ctx;
        } catch (GeneralSecurityException | IOException e) {
            throw new BadInputException("TLS CA file " + caPem + " cannot be used: " + oneLine(e), e);
        }
    }

    /** The parameters every walship TLS endpoint uses: {@link #PROTOCOLS} only. */
    public static SSLParameters serverParameters(SSLContext ctx) {
        SSLParameters p = ctx.getDefaultSSLParameters();
        p.setProtocols(supported(ctx));
        return p;
    }

    /**
     * The parameters a walship client uses: {@link #PROTOCOLS} only and the server's name checked
     * against its certificate ({@code HTTPS} endpoint identification).
     */
    public static SSLParameters clientParameters(SSLContext ctx) {
        SSLParameters p = ctx.getDefaultSSLParameters();
        p.setProtocols(supported(ctx));
        p.setEndpointIdentificationAlgorithm("HTTPS");
        return p;
    }

    private static String[] supported(SSLContext ctx) {
        List<String> have = Arrays.asList(ctx.getSupportedSSLParameters().getProtocols());
        String[] use = PROTOCOLS.stream().filter(have::contains).toArray(String[]::new);
        if (use.length == 0) {
            throw new IllegalStateException("this JVM supports none of " + PROTOCOLS);
        }
        return use;
    }

    /** An {@link HttpClient} builder that speaks TLS with {@code ctx} (and plain HTTP to http:// URLs). */
    public static HttpClient.Builder http(HttpClient.Builder builder, SSLContext ctx) {
        return ctx == null ? builder : builder.sslContext(ctx).sslParameters(clientParameters(ctx));
    }

    /**
     * Server sockets for the replication port that speak TLS with {@code ctx}
     * ({@link #serverParameters}): plain TCP listeners ({@link TlsServerSocket}) whose accepted
     * sockets {@link io.walship.protocol.repl.ReplConnection#accepted(ServerSocket, Socket)} layers
     * TLS over, so that it can still abort the TCP connection underneath (an {@link SSLSocket}'s
     * own close waits for a writer blocked on a peer that stopped reading). The handshake runs on
     * the first read, in the session's own thread.
     */
    public static ServerSocketFactory serverSockets(SSLContext ctx) {
        Objects.requireNonNull(ctx, "ctx");
        return new ServerSocketFactory() {
            @Override
            public ServerSocket createServerSocket() throws IOException {
                return new TlsServerSocket(ctx);
            }

            @Override
            public ServerSocket createServerSocket(int port) throws IOException {
                ServerSocket s = createServerSocket();
                s.bind(new java.net.InetSocketAddress(port));
                return s;
            }

            @Override
            public ServerSocket createServerSocket(int port, int backlog) throws IOException {
                ServerSocket s = createServerSocket();
                s.bind(new java.net.InetSocketAddress(port), backlog);
                return s;
            }

            @Override
            public ServerSocket createServerSocket(int port, int backlog, java.net.InetAddress bind) throws IOException {
                ServerSocket s = createServerSocket();
                s.bind(new java.net.InetSocketAddress(bind, port), backlog);
                return s;
            }
        };
    }

    /** A plain TCP listener whose accepted sockets are meant to be {@link #layer}ed with TLS. */
    public static final class TlsServerSocket extends ServerSocket {
        private final SSLContext ctx;
        private final SSLParameters params;

        TlsServerSocket(SSLContext ctx) throws IOException {
            this.ctx = ctx;
            this.params = serverParameters(ctx);
        }

        /** TLS (server side, not yet handshaken) over a socket this listener accepted. */
        public SSLSocket layer(Socket accepted) throws IOException {
            SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(accepted,
                    accepted.getInetAddress().getHostAddress(), accepted.getPort(), true);
            s.setUseClientMode(false);
            s.setSSLParameters(params);
            return s;
        }
    }

    /**
     * Completes a client TLS handshake with {@code ctx} over {@code plain}, a socket connected to
     * {@code to}, within {@code handshakeTimeoutMs} ({@link #clientParameters}: the certificate must
     * chain to a trusted CA and name {@code to}'s host). Closing the result closes {@code plain}; the
     * result has no read timeout set.
     *
     * @throws javax.net.ssl.SSLHandshakeException the server is not trusted, not named by its
     *                                              certificate, or does not speak TLS
     */
    public static SSLSocket handshake(SSLContext ctx, Socket plain, HostPort to, int handshakeTimeoutMs)
            throws IOException {
        SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(plain, to.host(), to.port(), true);
        SSLParameters p = clientParameters(ctx);
        if (!isIpLiteral(to.host())) {
            p.setServerNames(List.of(new SNIHostName(to.host())));
        }
        s.setSSLParameters(p);
        s.setSoTimeout(handshakeTimeoutMs);
        s.startHandshake();
        s.setSoTimeout(0);
        return s;
    }

    /**
     * A socket factory for {@link io.walship.protocol.repl.ReplConnection#connect}: it connects
     * over TCP and then {@link #handshake}s with {@code ctx} (the server's name verified).
     */
    public static SSLSocketFactory clientSockets(SSLContext ctx) {
        return new ClientSockets(ctx);
    }

    /** The factory {@link #clientSockets} returns; {@code ReplConnection} recognises it. */
    public static final class ClientSockets extends SSLSocketFactory {
        private final SSLContext ctx;

        ClientSockets(SSLContext ctx) {
            this.ctx = Objects.requireNonNull(ctx, "ctx");
        }

        /** {@link Tls#handshake} with this factory's context. */
        public SSLSocket handshake(Socket plain, HostPort to, int handshakeTimeoutMs) throws IOException {
            return Tls.handshake(ctx, plain, to, handshakeTimeoutMs);
        }

        @Override
        public String[] getDefaultCipherSuites() {
            return ctx.getSocketFactory().getDefaultCipherSuites();
        }

        @Override
        public String[] getSupportedCipherSuites() {
            return ctx.getSocketFactory().getSupportedCipherSuites();
        }

        @Override
        public Socket createSocket(Socket s, String host, int port, boolean autoClose) throws IOException {
            if (!autoClose) {
                throw new UnsupportedOperationException("walship's TLS sockets always close the socket underneath");
            }
            return handshake(s, new HostPort(host, port), 0);
        }

        @Override
        public Socket createSocket(String host, int port) throws IOException {
            return connect(new HostPort(host, port));
        }

        @Override
        public Socket createSocket(String host, int port, java.net.InetAddress localHost, int localPort) {
            throw new UnsupportedOperationException("bind a local address with a plain socket and createSocket(Socket, …)");
        }

        @Override
        public Socket createSocket(java.net.InetAddress host, int port) throws IOException {
            return connect(new HostPort(host.getHostAddress(), port));
        }

        @Override
        public Socket createSocket(java.net.InetAddress address, int port, java.net.InetAddress localAddress,
                                   int localPort) {
            throw new UnsupportedOperationException("bind a local address with a plain socket and createSocket(Socket, …)");
        }

        private Socket connect(HostPort to) throws IOException {
            Socket plain = new Socket();
            try {
                plain.connect(to.resolve());
                return handshake(plain, to, 0);
            } catch (IOException | RuntimeException e) {
                plain.close();
                throw e;
            }
        }
    }

    /** The certificates in a PEM file, in file order (at least one). */
    public static List<X509Certificate> certificates(Path pem) {
        return certificates(pem, "certificate");
    }

    private static List<X509Certificate> certificates(Path pem, String what) {
        List<byte[]> blocks = blocks(pem, "CERTIFICATE", what);
        try {
            CertificateFactory cf = CertificateFactory.getInstance("X.509");
            List<X509Certificate> out = new ArrayList<>();
            for (byte[] der : blocks) {
                Collection<? extends Certificate> cs = cf.generateCertificates(new ByteArrayInputStream(der));
                for (Certificate c : cs) {
                    out.add((X509Certificate) c);
                }
            }
            return out;
        } catch (CertificateException e) {
            throw new BadInputException("TLS " + what + " file " + pem + " holds a certificate that cannot be read: "
                    + oneLine(e), e);
        }
    }

    /** The unencrypted PKCS#8 private key in a PEM file (RSA, EC, Ed25519 or Ed448). */
    public static PrivateKey privateKey(Path pem) {
        String text = read(pem, "key");
        if (text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")) {
            throw new BadInputException("TLS key " + pem + " is encrypted; walship needs an unencrypted PKCS#8 key"
                    + " (openssl pkcs8 -topk8 -nocrypt -in KEY -out " + pem.getFileName() + "), readable only by its user");
        }
        Matcher legacy = Pattern.compile("-----BEGIN ((RSA|EC|DSA|OPENSSH) PRIVATE KEY)-----").matcher(text);
        if (legacy.find()) {
            throw new BadInputException("TLS key " + pem + " is a " + legacy.group(1) + "; walship needs PKCS#8"
                    + " (BEGIN PRIVATE KEY): convert it with openssl pkcs8 -topk8 -nocrypt -in KEY -out NEW.key");
        }
        List<byte[]> blocks = blocks(pem, text, "PRIVATE KEY", "key");
        if (blocks.size() != 1) {
            throw new BadInputException("TLS key " + pem + " holds " + blocks.size() + " private keys; it must hold one");
        }
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(blocks.get(0));
        for (String alg : List.of("RSA", "EC", "Ed25519", "Ed448", "RSASSA-PSS")) {
            try {
                return KeyFactory.getInstance(alg).generatePrivate(spec);
            } catch (InvalidKeySpecException | java.security.NoSuchAlgorithmException e) {
                // try the next algorithm
            }
        }
        throw new BadInputException("TLS key " + pem + " is not an RSA, EC or EdDSA PKCS#8 private key that this JVM"
                + " can read");
    }

    /** Whether {@code key} is the private half of {@code pub}: it signs, the certificate's key verifies. */
    static boolean matches(PrivateKey key, PublicKey pub) {
        if (!key.getAlgorithm().equals(pub.getAlgorithm())
                && !(key.getAlgorithm().startsWith("Ed") && pub.getAlgorithm().startsWith("Ed"))) {
            return false;
        }
        String alg = switch (key.getAlgorithm()) {
            case "RSA" -> "SHA256withRSA";
            case "EC" -> "SHA256withECDSA";
            case "RSASSA-PSS" -> "RSASSA-PSS";
            default -> key.getAlgorithm(); // Ed25519, Ed448, EdDSA
        };
        byte[] probe = "walship key check".getBytes(StandardCharsets.US_ASCII);
        try {
            Signature s = Signature.getInstance(alg);
            if (alg.equals("RSASSA-PSS")) {
                s.setParameter(new java.security.spec.PSSParameterSpec("SHA-256", "MGF1",
                        java.security.spec.MGF1ParameterSpec.SHA256, 32, 1));
            }
            s.initSign(key);
            s.update(probe);
            byte[] sig = s.sign();
            Signature v = Signature.getInstance(alg);
            if (alg.equals("RSASSA-PSS")) {
                v.setParameter(new java.security.spec.PSSParameterSpec("SHA-256", "MGF1",
                        java.security.spec.MGF1ParameterSpec.SHA256, 32, 1));
            }
            v.initVerify(pub);
            v.update(probe);
            return v.verify(sig);
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    /** Whether {@code host} is an IPv4 or IPv6 literal (no SNI for those). */
    static boolean isIpLiteral(String host) {
        return host.matches("[0-9.]+") || host.contains(":");
    }

    private static String read(Path pem, String what) {
        try {
            return Files.readString(pem, StandardCharsets.US_ASCII);
        } catch (NoSuchFileException e) {
            throw new BadInputException("TLS " + what + " file " + pem + " does not exist");
        } catch (IOException e) {
            throw new BadInputException("TLS " + what + " file " + pem + " cannot be read: " + oneLine(e), e);
        } catch (java.io.UncheckedIOException e) {
            throw new BadInputException("TLS " + what + " file " + pem + " is not PEM text: " + oneLine(e), e);
        }
    }

    private static List<byte[]> blocks(Path pem, String label, String what) {
        return blocks(pem, read(pem, what), label, what);
    }

    private static List<byte[]> blocks(Path pem, String text, String label, String what) {
        List<byte[]> out = new ArrayList<>();
        Matcher m = PEM.matcher(text);
        while (m.find()) {
            if (m.group(1).equals(label)) {
                try {
                    out.add(Base64.getMimeDecoder().decode(m.group(2)));
                } catch (IllegalArgumentException e) {
                    throw new BadInputException("TLS " + what + " file " + pem + " has a " + label
                            + " block that is not base64: " + oneLine(e));
                }
            }
        }
        if (out.isEmpty()) {
            throw new BadInputException("TLS " + what + " file " + pem + " holds no PEM '-----BEGIN " + label
                    + "-----' block");
        }
        return out;
    }

    private static String oneLine(Throwable e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return m.replaceAll("\\s+", " ").trim();
    }
}
