package io.walship.wal;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongConsumer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The WAL's durable LSN inside the process, and everyone who wants to know when it moves.
 *
 * <p>Whoever synced {@link #advance}s it after each successful sync (the sync thread, or a
 * committer leading its own sync: {@link CommitPipeline}; one at a time): it publishes the new value
 * to {@link DurablePoint} (for other processes), wakes the threads in {@link #await} whose LSN it
 * reached, and signals the notifier thread, which calls the registered listeners with the newest
 * value. Listeners (WAL senders to followers) thus never run on, or hold up, the sync thread; a
 * slow listener only delays the next listener call, and values in between are coalesced.
 * <b>Wakers</b> ({@link #wakeOnAdvance}) are the exception: they run on the syncing thread itself,
 * right after each advance, and may only unpark threads — a WAL sender woken there starts sending
 * one thread hand-off sooner than through the notifier (semi-sync waits for that send). After
 * {@link #fail} nothing advances any more and every waiter gets the failure.
 *
 * <p>Thread-safe.
 */
final class DurableLsn implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DurableLsn.class);

    private record Waiter(Thread thread, long lsn) {
    }

    private final DurablePoint point;
    private final ConcurrentLinkedQueue<Waiter> waiters = new ConcurrentLinkedQueue<>();
    private final CopyOnWriteArrayList<LongConsumer> listeners = new CopyOnWriteArrayList<>();
    private final CopyOnWriteArrayList<LongConsumer> wakers = new CopyOnWriteArrayList<>();
    private volatile long value;
    private volatile StoreFailedException failure;
    private volatile boolean closed;
    private Thread notifier; // guarded by this

    /** {@code point} may be null (nothing published outside the process). */
    DurableLsn(long initial, DurablePoint point) {
        this.value = initial;
        this.point = point;
    }

    long get() {
        return value;
    }

    /** The syncing thread (one at a time): everything up to {@code lsn} is durable now. */
    void advance(long lsn) {
        if (lsn <= value) {
            return;
        }
        value = lsn;
        if (point != null) {
            point.publish(lsn);
        }
        for (Waiter w : waiters) {
            if (w.lsn() <= lsn && waiters.remove(w)) {
                LockSupport.unpark(w.thread());
            }
        }
        for (LongConsumer k : wakers) {
            try {
                k.accept(lsn);
            } catch (RuntimeException e) {
                LOG.warn("durable-LSN waker {} failed at LSN {}: {}", k, Lsn.format(lsn), e.toString());
            }
        }
        Thread n = notifier;
        if (n != null) {
            LockSupport.unpark(n);
        }
    }

    /** The store has stopped: wake everyone; nothing advances any more. */
    void fail(StoreFailedException f) {
        if (failure == null) {
            failure = f;
        }
        wakeAll();
    }

    /**
     * Waits until {@code lsn} is durable, for at most {@code timeoutNanos}. Returns whether it is.
     *
     * @throws StoreFailedException if the store stopped before {@code lsn} was durable
     * @throws WalshipException if the store was closed before
     */
    boolean await(long lsn, long timeoutNanos) {
        if (value >= lsn) {
            return true;
        }
        long deadline = System.nanoTime() + timeoutNanos;
        Waiter w = new Waiter(Thread.currentThread(), lsn);
        waiters.add(w);
        // an interrupt would end every park at once: the caller's is set aside until it returns
        boolean interrupted = false;
        try {
            while (true) {
                if (value >= lsn) {
                    return true;
                }
                StoreFailedException f = failure;
                if (f != null) {
                    throw new StoreFailedException(f.getMessage(), f.getCause());
                }
                if (closed) {
                    throw new WalshipException("the store was closed before LSN " + Lsn.format(lsn) + " was durable");
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                LockSupport.parkNanos(this, left);
                interrupted |= Thread.interrupted();
            }
        } finally {
            waiters.remove(w);
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Calls {@code listener} (on the notifier thread) with each new durable LSN until the registration is closed. */
    Store.Registration listen(LongConsumer listener) {
        listeners.add(listener);
        startNotifier();
        return () -> listeners.remove(listener);
    }

    /**
     * Calls {@code waker} on the syncing thread (the sync thread, or a committer leading its own
     * sync) with each new durable LSN, until the registration is
     * closed. It must only unpark threads: no locks, no I/O, nothing that can block the sync.
     */
    Store.Registration wakeOnAdvance(LongConsumer waker) {
        wakers.add(waker);
        return () -> wakers.remove(waker);
    }

    private synchronized void startNotifier() {
        if (notifier != null || closed) {
            return;
        }
        Thread t = new Thread(this::notifyLoop, "walship-durable-notifier");
        t.setDaemon(true);
        notifier = t;
        t.start();
    }

    private void notifyLoop() {
        long announced = value;
        while (!closed) {
            long v = value;
            if (v > announced) {
                announced = v;
                for (LongConsumer l : listeners) {
                    try {
                        l.accept(v);
                    } catch (RuntimeException e) {
                        LOG.warn("durable-LSN listener {} failed at LSN {}: {}", l, Lsn.format(v), e.toString());
                    }
                }
                continue;
            }
            LockSupport.park(this);
        }
    }

    private void wakeAll() {
        for (Waiter w : waiters) {
            LockSupport.unpark(w.thread());
        }
        Thread n = notifier;
        if (n != null) {
            LockSupport.unpark(n);
        }
    }

    @Override
    public void close() {
        closed = true;
        wakeAll();
    }
}
