package io.walship.cli;

import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import picocli.CommandLine.Option;

/** The {@code --archive URI} option every archive command takes (a picocli mixin). */
final class ArchiveOption {
    @Option(names = "--archive", paramLabel = "URI", required = true, defaultValue = "${env:WALSHIP_ARCHIVE}",
            description = "file:///path/prefix or s3://bucket/prefix?endpoint=...&region=...&path-style=true."
                    + " Env: WALSHIP_ARCHIVE.")
    String uri;

    @picocli.CommandLine.Mixin
    EncryptionOption encryption = new EncryptionOption();

    /** Opens the archive and checks that it is usable (bucket exists, credentials work); close it. */
    ObjectStore open() {
        return ObjectStores.openVerified(uri, io.walship.archive.UploadLimit.NONE, encryption.keys());
    }

    /** {@link #open()}, its uploads under {@code limit}. */
    ObjectStore open(io.walship.archive.UploadLimit limit) {
        return ObjectStores.openVerified(uri, limit, encryption.keys());
    }
}
