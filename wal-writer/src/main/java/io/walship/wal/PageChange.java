package io.walship.wal;

import java.util.Objects;

/**
 * One physical change: write {@code bytes} at {@code offset} of page {@code pageNo}. A full-page
 * image has offset 0 and exactly {@link PageFormat#PAGE_SIZE} bytes. Immutable by convention:
 * nobody writes into {@code bytes} after construction.
 */
record PageChange(int pageNo, int offset, byte[] bytes, boolean fullPage) {
    public PageChange {
        Objects.requireNonNull(bytes, "bytes");
        if (pageNo < 0 || offset < 0 || offset + bytes.length > PageFormat.PAGE_SIZE) {
            throw new IllegalArgumentException("page change out of bounds: page " + pageNo + " offset " + offset
                    + " length " + bytes.length);
        }
        if (fullPage && (offset != 0 || bytes.length != PageFormat.PAGE_SIZE)) {
            throw new IllegalArgumentException("a full-page image must cover the whole page");
        }
    }

    public static PageChange fullPage(int pageNo, byte[] image) {
        return new PageChange(pageNo, 0, image, true);
    }
}
