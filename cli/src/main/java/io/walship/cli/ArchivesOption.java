package io.walship.cli;

import java.util.ArrayList;
import java.util.List;

import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.UploadLimit;
import io.walship.shipper.ShipLoops;
import picocli.CommandLine.Option;

/**
 * The archives a command ships to (a picocli mixin of {@code ship} and {@code leader}; {@code follow}
 * declares its own options and checks them here, {@link #of}): repeatable
 * {@code --archive URI} (required: the WAL is kept until each holds it; the first is the primary)
 * and {@code --optional-archive URI} (shipped to, never waited for). docs/OPERATIONS.md, "Several
 * archives".
 */
final class ArchivesOption {
    @Option(names = "--archive", paramLabel = "URI",
            description = "Ship to this archive (file:///path/prefix or s3://bucket/prefix?endpoint=...&region=..."
                    + "&path-style=true); repeat for several. Each is required: the local WAL is kept until it holds"
                    + " it. The first is the primary. Env: WALSHIP_ARCHIVE (one).")
    List<String> required = new ArrayList<>();

    @Option(names = "--optional-archive", paramLabel = "URI",
            description = "Also ship to this archive, without waiting for it: WAL retention and --max-archive-lag"
                    + " ignore it, its failures are logged and shown, never fatal. Repeatable.")
    List<String> optional = new ArrayList<>();

    /** Whether WALSHIP_ARCHIVE stands in for no {@code --archive} ({@link #of}: not when one was given blank). */
    private boolean fromEnv = true;

    /**
     * The archives of a command that declares {@code --archive} and {@code --optional-archive} itself
     * ({@code walship follow}: its own help text), checked and opened as a mixin's are. {@code fromEnv}:
     * whether WALSHIP_ARCHIVE is used when {@code required} is empty (follow: only when no
     * {@code --archive} was given at all; a blank one means none, as it always did).
     */
    static ArchivesOption of(List<String> required, List<String> optional, boolean fromEnv) {
        ArchivesOption a = new ArchivesOption();
        a.required = required == null ? new ArrayList<>() : required;
        a.optional = optional == null ? new ArrayList<>() : optional;
        a.fromEnv = fromEnv;
        return a;
    }

    /** The required archives given, or the one in WALSHIP_ARCHIVE. */
    List<String> requiredUris() {
        if (!required.isEmpty() || !fromEnv) {
            return required;
        }
        String env = System.getenv("WALSHIP_ARCHIVE");
        return env == null || env.isBlank() ? List.of() : List.of(env.trim());
    }

    boolean any() {
        return !requiredUris().isEmpty() || !optional.isEmpty();
    }

    /** The required URIs then the optional ones; exit 2 if one archive is named twice or only optional ones are given. */
    List<String> checked() {
        List<String> all = new ArrayList<>(requiredUris());
        all.addAll(optional);
        if (requiredUris().isEmpty() && !optional.isEmpty()) {
            throw new CliException(ExitCodes.USAGE, "--optional-archive needs at least one --archive (the primary)");
        }
        ShipLoops.checkDistinct(all);
        return all;
    }

    /** The primary (first required) archive's URI, or null. */
    String primary() {
        List<String> r = requiredUris();
        return r.isEmpty() ? null : r.get(0);
    }

    /**
     * Opens every archive, the primary first: only the primary is checked here (bucket, credentials);
     * the others are opened without a request, so a down one delays nothing and shows as failing in
     * its own loop. Closes what it opened if one fails.
     */
    List<ShipLoops.Target> open(UploadLimit limit, io.walship.archive.EncryptionKeys keys) {
        checked();
        List<ShipLoops.Target> out = new ArrayList<>();
        out.add(new ShipLoops.Target(ObjectStores.openVerified(primary(), limit, keys), true));
        try {
            out.addAll(openOthers(limit, keys));
            return out;
        } catch (RuntimeException e) {
            close(out);
            throw e;
        }
    }

    /**
     * Opens every archive but the primary, without a request (a down one delays nothing and shows
     * as failing in its own loop): the required ones, then the optional ones. Closes what it opened
     * if one fails.
     */
    List<ShipLoops.Target> openOthers(UploadLimit limit, io.walship.archive.EncryptionKeys keys) {
        checked();
        List<ShipLoops.Target> out = new ArrayList<>();
        try {
            List<String> req = requiredUris();
            for (String u : req.subList(Math.min(1, req.size()), req.size())) {
                out.add(new ShipLoops.Target(ObjectStores.open(io.walship.archive.ArchiveUri.parse(u), limit, keys),
                        true));
            }
            for (String u : optional) {
                out.add(new ShipLoops.Target(ObjectStores.open(io.walship.archive.ArchiveUri.parse(u), limit,
                        keys), false));
            }
            return out;
        } catch (RuntimeException e) {
            close(out);
            throw e;
        }
    }

    static void close(List<ShipLoops.Target> targets) {
        for (ShipLoops.Target t : targets) {
            try {
                t.store().close();
            } catch (RuntimeException ignored) {
                // closing on the way out of an error: the first error is the one reported
            }
        }
    }
}
