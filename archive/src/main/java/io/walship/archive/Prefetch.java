package io.walship.archive;

import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * Runs tasks on {@code threads} daemon threads, at most {@code ahead} in flight, and hands their
 * results out strictly in task order: downloads run ahead of the consumer without reordering
 * anything. The first failure is rethrown by that {@link #next} and every later one (nothing after
 * a failed task is ever handed out). One consumer; close to cancel the rest.
 */
public final class Prefetch<T> implements AutoCloseable {
    private final List<Supplier<T>> tasks;
    private final int ahead;
    private final ExecutorService pool;
    private final ArrayDeque<CompletableFuture<T>> inFlight = new ArrayDeque<>();
    private int submitted;
    private RuntimeException failure;

    public Prefetch(String threadName, int threads, int ahead, List<Supplier<T>> tasks) {
        if (threads < 1 || ahead < 1) {
            throw new IllegalArgumentException("threads and ahead must be positive");
        }
        this.tasks = tasks;
        this.ahead = ahead;
        AtomicInteger n = new AtomicInteger();
        this.pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, threadName + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        fill();
    }

    private void fill() {
        while (inFlight.size() < ahead && submitted < tasks.size()) {
            inFlight.add(CompletableFuture.supplyAsync(tasks.get(submitted++), pool));
        }
    }

    public boolean hasNext() {
        return failure != null || !inFlight.isEmpty();
    }

    /** The next task's result, in order; waits for it. */
    public T next() {
        if (failure != null) {
            throw failure;
        }
        CompletableFuture<T> f = inFlight.poll();
        if (f == null) {
            throw new IllegalStateException("no more tasks");
        }
        try {
            T v = f.get();
            fill();
            return v;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            failure = new StorageException("interrupted while waiting for a download");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Error err) {
                throw err;
            }
            failure = e.getCause() instanceof RuntimeException r ? r
                    : new StorageException(String.valueOf(e.getCause().getMessage()), e.getCause());
        }
        throw failure;
    }

    @Override
    public void close() {
        inFlight.forEach(f -> f.cancel(true));
        inFlight.clear();
        pool.shutdownNow();
        try {
            pool.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
