package io.walship.protocol;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Objects;

/**
 * The shared secret of {@code --auth-token-file}: required in a replication HELLO and, as
 * {@code Authorization: Bearer <token>}, on HTTP writes (docs/PROTOCOL.md, docs/OPERATIONS.md).
 * The file holds the token; surrounding whitespace (a trailing newline) is not part of it.
 * Comparisons take the same time whatever the offered token ({@link MessageDigest#isEqual}).
 * Immutable; its {@link #toString} never shows the secret.
 */
public final class AuthToken {
    /** The {@code Authorization} header's scheme, with its space. */
    public static final String BEARER = "Bearer ";

    private final byte[] token;

    private AuthToken(byte[] token) {
        this.token = token;
    }

    /** A token given as text (trimmed). */
    public static AuthToken of(String text) {
        Objects.requireNonNull(text, "token");
        String t = text.strip();
        if (t.isEmpty()) {
            throw new IllegalArgumentException("the auth token is empty");
        }
        return new AuthToken(t.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Reads the token from {@code file}.
     *
     * @throws IllegalArgumentException the file is missing, unreadable or holds only whitespace
     *                                  (one line naming the file)
     */
    public static AuthToken read(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("auth token file " + file + " does not exist");
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read auth token file " + file + ": " + e.getMessage());
        } catch (UncheckedIOException e) {
            throw new IllegalArgumentException("auth token file " + file + " is not UTF-8 text");
        }
        if (text.isBlank()) {
            throw new IllegalArgumentException("auth token file " + file + " is empty");
        }
        return of(text);
    }

    /** Whether {@code offered} is this token, in constant time; null or empty never is. */
    public boolean matches(String offered) {
        if (offered == null || offered.isEmpty()) {
            return false;
        }
        return MessageDigest.isEqual(token, offered.getBytes(StandardCharsets.UTF_8));
    }

    /** Whether an {@code Authorization} header value is {@code Bearer <this token>}. */
    public boolean matchesHeader(String authorization) {
        if (authorization == null || !authorization.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
            return false;
        }
        return matches(authorization.substring(BEARER.length()).strip());
    }

    /** The token, for a client that sends it (HELLO.authToken, the Authorization header). */
    public String secret() {
        return new String(token, StandardCharsets.UTF_8);
    }

    /**
     * Whether {@code host} (a listen address) is only reachable from this machine: a loopback
     * name or address. A wildcard ({@code 0.0.0.0}, {@code ::}) or any other address is not.
     *
     * @throws IllegalArgumentException the name does not resolve
     */
    public static boolean isLoopback(String host) {
        try {
            for (InetAddress a : InetAddress.getAllByName(host)) {
                if (!a.isLoopbackAddress()) {
                    return false;
                }
            }
            return true;
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("cannot resolve listen address '" + host + "'");
        }
    }

    @Override
    public String toString() {
        return "AuthToken[***]";
    }
}
