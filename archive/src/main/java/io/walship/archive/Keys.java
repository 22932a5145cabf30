package io.walship.archive;

import java.util.regex.Pattern;

/** Validation of object keys, shared by every store so that all accept the same keys. */
public final class Keys {
    private static final Pattern SEGMENT = Pattern.compile("[A-Za-z0-9_=-][A-Za-z0-9._=-]*");

    private Keys() {
    }

    /** @throws IllegalArgumentException naming the key and what is wrong with it */
    public static String check(String key) {
        if (key == null || key.isEmpty() || key.length() > 512) {
            throw new IllegalArgumentException("bad object key '" + key + "': empty or over 512 characters");
        }
        for (String seg : key.split("/", -1)) {
            if (!SEGMENT.matcher(seg).matches()) {
                throw new IllegalArgumentException("bad object key '" + key
                        + "': segments must be non-empty, not start with '.', and use only A-Z a-z 0-9 . _ = -");
            }
        }
        return key;
    }

    /**
     * A key for the compare-and-swap calls: valid, under {@link ArchiveLayout#MUTABLE_PREFIXES}, with
     * small content.
     *
     * @throws IllegalArgumentException otherwise (archive objects elsewhere are never replaced)
     */
    static String checkVersioned(String key, byte[] content) {
        check(key);
        if (!ArchiveLayout.isMutable(key)) {
            throw new IllegalArgumentException("object " + key + " is immutable: only documents under "
                    + ArchiveLayout.MUTABLE_PREFIXES + " may be replaced");
        }
        if (content != null && content.length > ObjectStore.MAX_VERSIONED_BYTES) {
            throw new IllegalArgumentException("versioned document " + key + " has " + content.length
                    + " bytes, more than " + ObjectStore.MAX_VERSIONED_BYTES);
        }
        return key;
    }
}
