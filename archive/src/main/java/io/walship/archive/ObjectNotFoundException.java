package io.walship.archive;

/** The object does not exist. */
public final class ObjectNotFoundException extends StorageException {
    public ObjectNotFoundException(String key) {
        super("no such object: " + key);
    }
}
