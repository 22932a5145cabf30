package io.walship.archive;

import java.io.InputStream;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;

/**
 * An {@link ObjectStore} that loses the answer of chosen creates the way S3 does when a PUT's
 * reply never arrives and the SDK's retry meets its own object: the object is stored, then the
 * create throws {@link ObjectExistsException}. Each matching key loses its answer once.
 */
public final class LostAnswerStore extends ForwardingObjectStore {
    private final Predicate<String> lose;
    private final Set<String> lost = ConcurrentHashMap.newKeySet();

    public LostAnswerStore(ObjectStore inner, Predicate<String> lose) {
        super(inner);
        this.lose = lose;
    }

    /** Keys whose answer was lost so far. */
    public Set<String> lost() {
        return lost;
    }

    @Override
    public void create(String key, InputStream content) {
        inner.create(key, content);
        if (lose.test(key) && lost.add(key)) {
            throw new ObjectExistsException(key);
        }
    }

    @Override
    public String createReturningEtag(String key, byte[] content) {
        String etag = inner.createReturningEtag(key, content);
        if (lose.test(key) && lost.add(key)) {
            throw new ObjectExistsException(key);
        }
        return etag;
    }

    /** A lost answer of a replace: stored, then the SDK's retry with the old ETag is answered 412. */
    @Override
    public String replaceIfMatch(String key, String expectedEtag, byte[] content) {
        String etag = inner.replaceIfMatch(key, expectedEtag, content);
        if (lose.test(key) && lost.add(key + "@" + etag)) {
            throw new PreconditionFailedException(key, expectedEtag, "injected: the answer was lost, the retry met "
                    + etag);
        }
        return etag;
    }
}
