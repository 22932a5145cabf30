package io.walship.archive;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * Counts the bytes read through it. With {@code shieldClose}, closing it leaves the stream under
 * it open (for a reader that hands it to a stream that closes what it wraps, then reads on).
 */
public final class CountingInputStream extends FilterInputStream {
    private final boolean shieldClose;
    private long count;

    public CountingInputStream(InputStream in, boolean shieldClose) {
        super(in);
        this.shieldClose = shieldClose;
    }

    /** Bytes read so far. */
    public long count() {
        return count;
    }

    @Override
    public int read() throws IOException {
        int b = super.read();
        if (b >= 0) {
            count++;
        }
        return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        int n = super.read(b, off, len);
        if (n > 0) {
            count += n;
        }
        return n;
    }

    @Override
    public long skip(long n) throws IOException {
        long s = super.skip(n);
        count += s;
        return s;
    }

    @Override
    public void close() throws IOException {
        if (!shieldClose) {
            super.close();
        }
    }
}
