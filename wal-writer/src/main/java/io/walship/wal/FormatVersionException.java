package io.walship.wal;

/** A control file, page, WAL entry or snapshot was written by an incompatible format version. */
public final class FormatVersionException extends IntegrityException {
    public FormatVersionException(String what, int found, int supported) {
        super(what + " has format version " + found + " but this walship reads version " + supported
                + "; use a walship build of the same format version");
    }

    /** For structures of which this build reads several versions. */
    public FormatVersionException(String what, int found, int oldestSupported, int newestSupported) {
        super(what + " has format version " + found + " but this walship reads versions " + oldestSupported + " to "
                + newestSupported + "; use a walship build that reads version " + found);
    }
}
