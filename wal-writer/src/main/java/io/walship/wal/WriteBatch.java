package io.walship.wal;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Puts and deletes committed together as one WAL entry: all or nothing. Not thread-safe. */
public final class WriteBatch {
    /** One operation; {@code value == null} means delete. */
    public record Op(byte[] key, byte[] value) {
        public boolean isDelete() {
            return value == null;
        }
    }

    private final List<Op> ops = new ArrayList<>();

    public WriteBatch put(byte[] key, byte[] value) {
        BTree.checkKey(key);
        BTree.checkValue(value);
        ops.add(new Op(key, value));
        return this;
    }

    public WriteBatch delete(byte[] key) {
        BTree.checkKey(key);
        ops.add(new Op(key, null));
        return this;
    }

    public List<Op> ops() {
        return Collections.unmodifiableList(ops);
    }

    public int size() {
        return ops.size();
    }
}
