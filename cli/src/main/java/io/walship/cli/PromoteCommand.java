package io.walship.cli;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;

import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.protocol.AuthToken;
import io.walship.protocol.BadInputException;
import io.walship.protocol.Endpoints;
import io.walship.protocol.Json;
import io.walship.protocol.PromoteResponse;
import io.walship.protocol.tls.Tls;
import io.walship.restorer.Promotion;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code walship promote}: open a restored standby for writes on a new timeline ({@code --data}),
 * or promote a running follower ({@code --url}, {@code POST /promote}).
 */
@Command(name = "promote", mixinStandardHelpOptions = true,
        description = {"Open a stopped standby (--data) or a running follower (--url) for writes on a new timeline.",
                "%nThe timeline is claimed in the archive with a history record (parent timeline and fork LSN),"
                        + " so its WAL never mixes with the old timeline's.",
                "%nWith --url the follower stops following, first fetches from the most advanced of --peers the WAL"
                        + " it lacks (else it refuses, naming that peer, unless --force), claims the next timeline no"
                        + " other live promotion took (one claimed by restore --promote is passed over; if another"
                        + " live promotion took it first, it refuses and stays a follower), then"
                        + " takes writes on its --http and serves followers on its --repl. Exit codes: 0 promoted,"
                        + " 2 bad usage, 6 the node cannot be reached or is unavailable, 7 refused (a leader, a"
                        + " promotion already running or lost, a peer ahead), 1 any other failure."})
final class PromoteCommand implements Callable<Integer> {
    @Option(names = "--data", paramLabel = "DIR", defaultValue = "${env:WALSHIP_DATA}",
            description = "A stopped standby's data directory (not open by another process). Env: WALSHIP_DATA.")
    Path data;

    @Option(names = "--archive", paramLabel = "URI", defaultValue = "${env:WALSHIP_ARCHIVE}",
            description = "With --data: the archive to claim the timeline in. Env: WALSHIP_ARCHIVE.")
    String archive;

    @picocli.CommandLine.Mixin
    EncryptionOption encryption = new EncryptionOption();

    @Option(names = "--url", paramLabel = "URL",
            description = "A running follower's HTTP URL (walship follow --http): promote it in place.")
    String url;

    @Option(names = "--peers", paramLabel = "URL[,URL...]", split = ",",
            description = "With --url: the other followers' HTTP URLs; the most advanced one ahead is fetched from first."
                    + " Default: the followers whose status objects (followers/NODE.json) in the follower's --archive"
                    + " are on its timeline.")
    java.util.List<String> peers;

    @Option(names = "--force",
            description = "With --url: promote even if a peer ahead cannot be fetched from (its extra WAL is lost).")
    boolean force;

    @Option(names = "--auth-token-file", paramLabel = "FILE", defaultValue = "${env:WALSHIP_AUTH_TOKEN_FILE}",
            description = "With --url: the node's token (it was started with --auth-token-file). Env: WALSHIP_AUTH_TOKEN_FILE.")
    Path authTokenFile;

    @Option(names = "--tls-ca", paramLabel = "FILE", defaultValue = "${env:WALSHIP_TLS_CA}",
            description = "With an https:// --url: trust the CA certificates in this PEM file. Env: WALSHIP_TLS_CA.")
    Path tlsCa;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "5m",
            description = "With --url: how long to wait for the answer (default ${DEFAULT-VALUE}; fetching from a peer"
                    + " can take a while).")
    String timeout;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        if (url != null && !url.isBlank()) {
            if (data != null && spec.commandLine().getParseResult().hasMatchedOption("--data")) {
                throw new BadInputException("give either --data (a stopped standby) or --url (a running follower), not both");
            }
            return live();
        }
        if ((peers != null && !peers.isEmpty()) || force) {
            throw new BadInputException("--peers and --force go with --url (a running follower)");
        }
        if (data == null) {
            throw new BadInputException("give --data DIR (a stopped standby) or --url URL (a running follower)");
        }
        if (archive == null || archive.isBlank()) {
            throw new BadInputException("--data needs --archive URI (or WALSHIP_ARCHIVE) to claim the timeline in");
        }
        Promotion.Promoted p;
        try (ObjectStore store = ObjectStores.openVerified(archive, io.walship.archive.UploadLimit.NONE, encryption.keys())) {
            p = Promotion.promote(data, store);
        }
        spec.commandLine().getOut().printf("promoted %s: it takes writes on timeline %d%n", data, p.timeline());
        if (p.backup() != null) {
            spec.commandLine().getOut().printf("took base backup %s on timeline %d: the archive may not restore it"
                    + " otherwise (%s)%n", p.backup().imageKey(), p.timeline(), p.backupReason());
        }
        return ExitCodes.OK;
    }

    private int live() {
        URI base;
        try {
            base = URI.create(url.endsWith("/") ? url.substring(0, url.length() - 1) : url);
        } catch (IllegalArgumentException e) {
            throw new BadInputException("bad --url '" + url + "': " + e.getMessage());
        }
        if (!("http".equals(base.getScheme()) || "https".equals(base.getScheme())) || base.getHost() == null) {
            throw new BadInputException("--url must look like http://HOST:PORT or https://HOST:PORT, got '" + url + "'");
        }
        Duration wait = Flags.positiveDuration("--timeout", timeout);
        StringBuilder q = new StringBuilder(Endpoints.FORCE + "=" + force);
        if (peers != null && !peers.isEmpty()) {
            q.append('&').append(Endpoints.PEERS).append('=')
                    .append(URLEncoder.encode(String.join(",", peers), StandardCharsets.UTF_8));
        }
        HttpClient client = Tls.http(HttpClient.newBuilder(), tlsCa == null ? null : Tls.clientContext(tlsCa))
                .connectTimeout(Duration.ofSeconds(5)).build();
        HttpRequest.Builder req = HttpRequest.newBuilder(URI.create(base + Endpoints.PROMOTE + "?" + q)).timeout(wait)
                .POST(HttpRequest.BodyPublishers.noBody());
        if (authTokenFile != null) {
            req.header("Authorization", "Bearer " + AuthToken.read(authTokenFile).secret());
        }
        HttpResponse<String> r;
        try {
            r = client.send(req.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new CliException(ExitCodes.UNAVAILABLE, "cannot reach " + base + ": " + io.walship.wal.Errors.oneLine(e),
                    "is the follower running with --http there?");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException(ExitCodes.FAILURE, "interrupted while promoting " + base, null);
        }
        String body = r.body().strip();
        switch (r.statusCode()) {
            case 200 -> {
                PromoteResponse p;
                try {
                    p = Json.read(body, PromoteResponse.class);
                } catch (IOException e) {
                    throw new CliException(ExitCodes.FAILURE, "promoted, but the answer is not JSON: " + body, null);
                }
                spec.commandLine().getOut().printf("promoted %s: it takes writes on timeline %d (forked from timeline %d"
                                + " after LSN %s%s)%n", base, p.timeline(), p.previousTimeline(), p.forkLsn(),
                        p.fetchedFrom() == null ? "" : "; " + p.fetchedEntries() + " entries fetched from " + p.fetchedFrom());
                return ExitCodes.OK;
            }
            case 400 -> throw new CliException(ExitCodes.USAGE, strip(body), null);
            case 401 -> throw new CliException(ExitCodes.USAGE, strip(body), "give --auth-token-file with the node's token");
            case 409 -> throw new CliException(ExitCodes.REPLICATION_REFUSED, "promotion refused: " + strip(body), null);
            case 503 -> throw new CliException(ExitCodes.UNAVAILABLE, strip(body), null);
            default -> throw new CliException(ExitCodes.FAILURE, "POST " + Endpoints.PROMOTE + " answered "
                    + r.statusCode() + ": " + strip(body), null);
        }
    }

    /** The one-line reason without the API's "error: " prefix. */
    private static String strip(String body) {
        String b = body.startsWith("error: ") ? body.substring(7) : body;
        return b.lines().findFirst().orElse("");
    }
}
