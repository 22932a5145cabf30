package io.walship.cli;

import java.nio.file.Path;

import picocli.CommandLine.Option;

/** {@code --data DIR} (a stopped store) or {@code --url URL} (a running leader): exactly one. */
final class TargetOptions {
    @Option(names = "--data", paramLabel = "DIR", description = "Data directory of a store that is not running.")
    Path data;

    @Option(names = "--url", paramLabel = "URL", description = "A running leader, e.g. http://127.0.0.1:7070.")
    String url;

    KvBackend open() {
        String envData = System.getenv("WALSHIP_DATA");
        String envUrl = System.getenv("WALSHIP_URL");
        if (data != null && url != null) {
            throw new IllegalArgumentException("give either --data or --url, not both");
        }
        if (data == null && url == null) {
            if (envUrl != null && !envUrl.isBlank()) {
                return new HttpKv(envUrl);
            }
            if (envData != null && !envData.isBlank()) {
                return new LocalKv(Path.of(envData));
            }
            throw new IllegalArgumentException("give --data DIR (stopped store) or --url URL (running leader)");
        }
        return url != null ? new HttpKv(url) : new LocalKv(data);
    }
}
