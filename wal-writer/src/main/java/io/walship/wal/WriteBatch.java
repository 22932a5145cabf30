package io.walship.wal;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Puts and deletes committed together as one WAL entry: all or nothing. Not thread-safe.
 *
 * <p>Limits, each refused with a {@link BatchTooLargeException} that names it: at most
 * {@link #MAX_OPS} operations and {@link #MAX_BYTES} bytes of keys and values (checked as the
 * batch is built), and a WAL entry of at most {@link #MAX_ENTRY_BYTES} bytes (checked when it is
 * committed, since full-page images can make an entry larger than its keys and values; the
 * commit is then rolled back). Why these numbers: Chronicle Queue takes a document of at most
 * 16 MiB (its overlap size) and the entry stays at half of that; while a batch is applied its
 * pages' before-images (4 KiB per page touched) and its encoded entry live on the heap, which
 * 10,000 operations keep to tens of MiB at worst.
 */
public final class WriteBatch {
    /** Operations in one batch. */
    public static final int MAX_OPS = 10_000;
    /** Bytes of keys and values in one batch. */
    public static final long MAX_BYTES = 4L << 20;
    /** Bytes of the WAL entry one commit may produce. */
    public static final int MAX_ENTRY_BYTES = 8 << 20;

    /** One operation; {@code value == null} means delete. */
    public record Op(byte[] key, byte[] value) {
        public boolean isDelete() {
            return value == null;
        }
    }

    private final List<Op> ops = new ArrayList<>();
    private long bytes;

    public WriteBatch put(byte[] key, byte[] value) {
        BTree.checkKey(key);
        BTree.checkValue(value);
        add(new Op(key, value), key.length + value.length);
        return this;
    }

    public WriteBatch delete(byte[] key) {
        BTree.checkKey(key);
        add(new Op(key, null), key.length);
        return this;
    }

    private void add(Op op, int size) {
        if (ops.size() >= MAX_OPS) {
            throw new BatchTooLargeException("a batch holds at most " + MAX_OPS + " operations; split it");
        }
        if (bytes + size > MAX_BYTES) {
            throw new BatchTooLargeException("a batch holds at most " + MAX_BYTES + " bytes of keys and values ("
                    + (MAX_BYTES >> 20) + " MiB); this operation would make it " + (bytes + size) + "; split it");
        }
        ops.add(op);
        bytes += size;
    }

    /** Checks the limits again (they hold for any batch built through this class). */
    void checkLimits() {
        if (ops.size() > MAX_OPS || bytes > MAX_BYTES) {
            throw new BatchTooLargeException("a batch of " + ops.size() + " operations and " + bytes
                    + " bytes is over the limit of " + MAX_OPS + " operations and " + MAX_BYTES + " bytes");
        }
    }

    public List<Op> ops() {
        return Collections.unmodifiableList(ops);
    }

    public int size() {
        return ops.size();
    }

    /** Bytes of keys and values in the batch. */
    public long bytes() {
        return bytes;
    }
}
