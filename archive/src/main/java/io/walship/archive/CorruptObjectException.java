package io.walship.archive;

/** An archive object is not what its format promises (checksum, length, version); exit code 3. */
public final class CorruptObjectException extends StorageException {
    public CorruptObjectException(String key, String what) {
        super("archive object " + key + " is corrupt: " + what);
    }

    public CorruptObjectException(String key, String what, Throwable cause) {
        super("archive object " + key + " is corrupt: " + what, cause);
    }
}
