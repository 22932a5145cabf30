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
}
