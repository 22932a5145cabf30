package io.walship.archive;

/** A create found the key already taken; the existing object was left as it was. */
public final class ObjectExistsException extends StorageException {
    public ObjectExistsException(String key) {
        super("object already exists (archive objects are never overwritten): " + key);
    }
}
