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

    /**
     * Opens an archive that must exist, to read it, and checks that it is usable (bucket or
     * directory exists, credentials work; a read-only directory will do); close it.
     */
    ObjectStore open() {
        return ObjectStores.openExisting(uri, encryption.keys());
    }

    /** {@link #open()} for a command that changes an archive that must exist (prune, pin): it must be writable too. */
    ObjectStore openToChange() {
        return ObjectStores.checked(open(), ObjectStore::verifyAccess);
    }

    /** Opens the archive to write to it (a local directory is created), its uploads under {@code limit}; close it. */
    ObjectStore open(io.walship.archive.UploadLimit limit) {
        return ObjectStores.openVerified(uri, limit, encryption.keys());
    }
}
