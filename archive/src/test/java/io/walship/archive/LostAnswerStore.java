package io.walship.archive;

import java.io.InputStream;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;

/**
 * An {@link ObjectStore} that loses the answer of chosen creates the way S3 does when a PUT's
 * reply never arrives and the SDK's retry meets its own object: the object is stored, then the
 * create throws {@link ObjectExistsException}. Each matching key loses its answer once.
 */
public final class LostAnswerStore implements ObjectStore {
    private final ObjectStore inner;
    private final Predicate<String> lose;
    private final Set<String> lost = ConcurrentHashMap.newKeySet();

    public LostAnswerStore(ObjectStore inner, Predicate<String> lose) {
        this.inner = inner;
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
    public InputStream get(String key) {
        return inner.get(key);
    }

    @Override
    public InputStream getRange(String key, long offset, long length) {
        return inner.getRange(key, offset, length);
    }

    @Override
    public Optional<ObjectInfo> head(String key) {
        return inner.head(key);
    }

    @Override
    public List<ObjectInfo> list(String prefix, String startAfter) {
        return inner.list(prefix, startAfter);
    }

    @Override
    public void delete(String key) {
        inner.delete(key);
    }

    @Override
    public void verifyAccess() {
        inner.verifyAccess();
    }

    @Override
    public String describe() {
        return inner.describe();
    }

    @Override
    public void close() {
        inner.close();
    }
}
