package io.walship.client;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import io.walship.protocol.BatchRequest;

/**
 * Operations that the leader commits together, whole or not at all, as one WAL entry at one LSN
 * ({@code POST /batch}). Built with {@link #put} and {@link #delete}, sent with
 * {@link WalshipClient#batch}. Keys and values go as base64, so any bytes are fine. Not
 * thread-safe; the client copies it when sending.
 */
public final class Batch {
    private final List<BatchRequest.Op> ops = new ArrayList<>();

    public Batch put(byte[] key, byte[] value) {
        ops.add(BatchRequest.Op.put(key, value));
        return this;
    }

    public Batch put(String key, String value) {
        return put(key.getBytes(StandardCharsets.UTF_8), value.getBytes(StandardCharsets.UTF_8));
    }

    public Batch delete(byte[] key) {
        ops.add(BatchRequest.Op.delete(key));
        return this;
    }

    public Batch delete(String key) {
        return delete(key.getBytes(StandardCharsets.UTF_8));
    }

    public int size() {
        return ops.size();
    }

    /** The request body this batch is sent as. */
    BatchRequest request() {
        return new BatchRequest(ops);
    }
}
