package io.walship.cli;

import io.walship.wal.BTree;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import io.walship.wal.WriteBatch;

/** What {@code walship kv} does, either on a stopped data directory or through a running leader. */
interface KvBackend extends AutoCloseable {
    long put(byte[] key, byte[] value);

    Store.Read get(byte[] key);

    long delete(byte[] key);

    long write(WriteBatch batch);

    /** Visits pairs in key order; returns the LSN the scan reflects. */
    long scan(byte[] from, byte[] to, long limit, BTree.Visitor visitor);

    StateDigest digest();

    @Override
    void close();
}
