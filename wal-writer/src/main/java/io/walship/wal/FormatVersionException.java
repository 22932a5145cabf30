package io.walship.wal;

/** A control file, page, WAL entry or snapshot was written by an incompatible format version. */
public final class FormatVersionException extends IntegrityException {
    public FormatVersionException(String what, int found, int supported) {
        super(what + " has format version " + found + " but this walship reads version " + supported
                + "; use a walship build of the same format version");
    }
}
