package io.walship.archive;

import java.io.InputStream;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * An {@link ObjectStore} that counts the requests an S3 bucket would bill for the calls made
 * through it, whatever the store under it is (so a {@code file://} archive can be priced too):
 *
 * <ul>
 *   <li><b>PUT class</b> (PUT, POST, COPY, LIST on S3's price list): a create of up to one part
 *       ({@link S3ObjectStore#DEFAULT_PART_SIZE}) is one PUT; a larger one is a multipart upload,
 *       one request to start it, one per part and one to complete it. Each compare-and-swap write
 *       is one PUT.</li>
 *   <li><b>LIST</b> (billed as PUT class, counted apart): one per page of up to
 *       {@link #LIST_PAGE} keys, at least one per call, as the S3 store's paginator asks.</li>
 *   <li><b>GET class</b>: each get, ranged get, versioned get and head is one request.</li>
 *   <li>Deletes (free on S3) are counted too.</li>
 * </ul>
 *
 * A call counts once it is made, whether it succeeds or not. The SDK's own retries of a failed
 * request are not seen here (they are billed too, and are rare). Thread-safe.
 */
public final class CountingObjectStore extends ForwardingObjectStore {
    /** Keys per LIST page (S3's and the SDK's default {@code max-keys}). */
    public static final int LIST_PAGE = 1000;

    /** Requests counted so far. */
    public record Counts(long puts, long lists, long gets, long heads, long deletes) {
        /** Requests S3 bills at the PUT price: PUTs and LISTs. */
        public long putPriced() {
            return puts + lists;
        }

        /** Requests S3 bills at the GET price: GETs and HEADs. */
        public long getPriced() {
            return gets + heads;
        }

        /** What these requests cost at {@code putPer1000} and {@code getPer1000} (currency units per 1,000 requests). */
        public double cost(double putPer1000, double getPer1000) {
            return putPriced() / 1000.0 * putPer1000 + getPriced() / 1000.0 * getPer1000;
        }

        /** The requests made since {@code before}. */
        public Counts minus(Counts before) {
            return new Counts(puts - before.puts, lists - before.lists, gets - before.gets, heads - before.heads,
                    deletes - before.deletes);
        }

        @Override
        public String toString() {
            return puts + " PUT, " + lists + " LIST, " + gets + " GET, " + heads + " HEAD, " + deletes + " DELETE";
        }
    }

    private final AtomicLong puts = new AtomicLong();
    private final AtomicLong lists = new AtomicLong();
    private final AtomicLong gets = new AtomicLong();
    private final AtomicLong heads = new AtomicLong();
    private final AtomicLong deletes = new AtomicLong();

    public CountingObjectStore(ObjectStore inner) {
        super(java.util.Objects.requireNonNull(inner, "inner"));
    }

    public Counts counts() {
        return new Counts(puts.get(), lists.get(), gets.get(), heads.get(), deletes.get());
    }

    @Override
    public void create(String key, InputStream content) {
        CountingInputStream counted = new CountingInputStream(content, true);
        try {
            inner.create(key, counted);
        } finally {
            long part = S3ObjectStore.DEFAULT_PART_SIZE;
            long n = counted.count();
            puts.addAndGet(n <= part ? 1 : (n + part - 1) / part + 2);
        }
    }

    /**
     * Counted by what was sent: a resumed upload's verified parts cost no PUT, but finding them is a
     * LIST of the pending uploads and one of the parts (per 1,000), and an empty-handed look costs the first.
     */
    @Override
    public Resumed createResuming(String key, InputStream content) {
        return createResuming(key, content, false);
    }

    @Override
    public Resumed createResuming(String key, InputStream content, boolean resumeOnly) {
        Resumed r = null;
        try {
            r = inner.createResuming(key, content, resumeOnly);
            return r;
        } finally {
            lists.incrementAndGet();
            long part = S3ObjectStore.DEFAULT_PART_SIZE;
            if (r != null) {
                if (r.skippedBytes() > 0) {
                    lists.addAndGet(Math.max(1, (r.skippedBytes() / part + 1 + LIST_PAGE - 1) / LIST_PAGE));
                }
                long total = r.skippedBytes() + r.sentBytes();
                long allParts = total <= part ? 1 : (total + part - 1) / part;
                long sentParts = total <= part ? 1 : allParts - r.skippedBytes() / part;
                // a from-scratch multipart upload also pays its start; every multipart upload its completion
                puts.addAndGet(total <= part ? 1 : sentParts + (r.skippedBytes() > 0 ? 1 : 2));
            }
        }
    }

    @Override
    public List<PendingUpload> pendingUploads(String prefix) {
        lists.incrementAndGet();
        return inner.pendingUploads(prefix);
    }

    /** A LIST of the pending uploads of the key and one of its parts. */
    @Override
    public long pendingBytes(String key) {
        lists.addAndGet(2);
        return inner.pendingBytes(key);
    }

    @Override
    public void abortPending(String key) {
        deletes.incrementAndGet();
        inner.abortPending(key);
    }

    @Override
    public String createReturningEtag(String key, byte[] content) {
        return counted(puts, () -> inner.createReturningEtag(key, content));
    }

    @Override
    public String replaceIfMatch(String key, String expectedEtag, byte[] content) {
        return counted(puts, () -> inner.replaceIfMatch(key, expectedEtag, content));
    }

    @Override
    public Optional<Versioned> getVersioned(String key) {
        return counted(gets, () -> inner.getVersioned(key));
    }

    @Override
    public InputStream get(String key) {
        return counted(gets, () -> inner.get(key));
    }

    @Override
    public InputStream getRange(String key, long offset, long length) {
        return counted(gets, () -> inner.getRange(key, offset, length));
    }

    @Override
    public Optional<ObjectInfo> head(String key) {
        return counted(heads, () -> inner.head(key));
    }

    @Override
    public List<ObjectInfo> list(String prefix, String startAfter) {
        List<ObjectInfo> out;
        try {
            out = inner.list(prefix, startAfter);
        } catch (RuntimeException | Error e) {
            lists.incrementAndGet();
            throw e;
        }
        lists.addAndGet(Math.max(1, (out.size() + LIST_PAGE - 1) / LIST_PAGE));
        return out;
    }

    @Override
    public List<ObjectInfo> listFirst(String prefix, int limit) {
        lists.addAndGet(Math.max(1, (limit + LIST_PAGE - 1) / LIST_PAGE)); // bounded by the limit, not by what exists
        return inner.listFirst(prefix, limit);
    }

    @Override
    public void delete(String key) {
        deletes.incrementAndGet(); // void: no value for counted() to pass back
        inner.delete(key);
    }

    @Override
    public void verifyAccess() {
        heads.incrementAndGet(); // S3: HEAD bucket
        inner.verifyAccess();
    }

    @Override
    public void verifyReadAccess() {
        heads.incrementAndGet();
        inner.verifyReadAccess();
    }

    /** One request of {@code counter}'s kind, counted before it is made (so a failed one counts too). */
    private static <T> T counted(AtomicLong counter, Supplier<T> call) {
        counter.incrementAndGet();
        return call.get();
    }
}
