package io.walship.cli;

import java.nio.file.Path;

import javax.net.ssl.SSLContext;

import io.walship.protocol.AuthToken;
import io.walship.protocol.BadInputException;
import io.walship.protocol.tls.Tls;
import io.walship.shipper.BackupSource;
import picocli.CommandLine.Option;

/**
 * {@code --data DIR} (a stopped store) or {@code --url URL} (a running leader): exactly one, with
 * {@code WALSHIP_URL} and then {@code WALSHIP_DATA} standing in when neither is given. The
 * {@code kv} commands and {@code backup} take it (a picocli mixin).
 */
final class TargetOptions {
    @Option(names = "--data", paramLabel = "DIR", description = "Data directory of a store that is not running. Env: WALSHIP_DATA.")
    Path data;

    @Option(names = "--url", paramLabel = "URL", description = "A running leader, e.g. http://127.0.0.1:7070. Env: WALSHIP_URL.")
    String url;

    @Option(names = "--auth-token-file", paramLabel = "FILE",
            description = "With --url: send the token in this file with writes (a leader run with --auth-token-file)."
                    + " Env: WALSHIP_AUTH_TOKEN_FILE.")
    Path authTokenFile;

    @Option(names = "--tls-ca", paramLabel = "FILE", defaultValue = "${env:WALSHIP_TLS_CA}",
            description = "With an https:// --url: trust the CA certificates in this PEM file (default: the JVM's"
                    + " trust store). Env: WALSHIP_TLS_CA.")
    Path tlsCa;

    /** The TLS context for an https:// --url, or null for the JVM's default trust store. */
    SSLContext tls() {
        return tlsCa == null ? null : Tls.clientContext(tlsCa);
    }

    /** The token for writes through --url, or null. */
    AuthToken token() {
        if (authTokenFile != null) {
            return AuthToken.read(authTokenFile);
        }
        String env = System.getenv("WALSHIP_AUTH_TOKEN_FILE");
        return env == null || env.isBlank() ? null : AuthToken.read(Path.of(env));
    }

    /** The store these options name, as the source of a base backup. */
    BackupSource source() {
        if (data != null && url != null) {
            throw new BadInputException("give either --data or --url, not both");
        }
        if (url != null) {
            return new BackupSource.Leader(url, tls());
        }
        if (data != null) {
            return new BackupSource.StoppedStore(data);
        }
        String envUrl = System.getenv("WALSHIP_URL");
        if (envUrl != null && !envUrl.isBlank()) {
            return new BackupSource.Leader(envUrl, tls());
        }
        String envData = System.getenv("WALSHIP_DATA");
        if (envData != null && !envData.isBlank()) {
            return new BackupSource.StoppedStore(Path.of(envData));
        }
        throw new BadInputException("give --data DIR (stopped store) or --url URL (running leader)");
    }

    /**
     * The store these options name; a stopped store is created at {@code --data} only by a write
     * ({@code create}): a read of a path that holds no store is an error, not a new empty store.
     */
    KvBackend open(boolean create) {
        BackupSource s = source();
        return s instanceof BackupSource.Leader leader ? new HttpKv(leader.url(), token(), leader.tls())
                : new LocalKv(((BackupSource.StoppedStore) s).dataDir(), create);
    }
}
