package io.walship.cli;

import java.nio.file.Path;

import io.walship.wal.BTree;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import io.walship.wal.WriteBatch;

/** {@link KvBackend} on a data directory no leader has open (this process takes its lock). */
final class LocalKv implements KvBackend {
    private final Store store;

    /** Opens the store in {@code dataDir}; creates one there only if {@code create} (a write). */
    LocalKv(Path dataDir, boolean create) {
        if (!create) {
            io.walship.wal.ControlFile.requireStore(dataDir);
        }
        this.store = Store.open(dataDir);
    }

    @Override
    public long put(byte[] key, byte[] value) {
        return store.put(key, value);
    }

    @Override
    public Store.Read get(byte[] key) {
        return store.read(key);
    }

    @Override
    public long delete(byte[] key) {
        return store.delete(key);
    }

    @Override
    public long write(WriteBatch batch) {
        return store.write(batch);
    }

    @Override
    public long scan(byte[] from, byte[] to, long limit, BTree.Visitor visitor) {
        long[] n = {0};
        if (limit <= 0) {
            return store.scan(from, to, (k, v) -> false); // no pairs, but the LSN of the state
        }
        return store.scan(from, to, (k, v) -> visitor.visit(k, v) && ++n[0] < limit);
    }

    @Override
    public StateDigest digest() {
        return store.digest();
    }

    @Override
    public void close() {
        store.close();
    }
}
