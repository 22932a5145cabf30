package io.walship.server;

import java.util.PriorityQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;

/**
 * Reads that wait for an LSN ({@code ?min_lsn=N}) without holding an HTTP worker thread: the
 * worker parks the request here and returns to serve others. Each waiting read is woken by
 * {@link #applied} (the store's applied-LSN listener — nothing polls) or by its deadline, and is
 * then answered on one of a few "walship-read-wait" threads. At most {@code maxWaiting} reads wait
 * at once (parked, or woken and queued for an answer thread); beyond that {@link #await} refuses and the caller answers 503 at once, so a flood of
 * waiting reads can neither starve the HTTP pool nor grow memory without bound. Thread-safe.
 */
final class ReadWaits implements AutoCloseable {
    /** A parked read: what to run when the LSN is reached, and when the wait runs out. */
    private static final class Waiting implements Comparable<Waiting> {
        final long minLsn;
        final Runnable ready;
        final Runnable timedOut;
        final AtomicBoolean done = new AtomicBoolean();
        volatile ScheduledFuture<?> timer;

        Waiting(long minLsn, Runnable ready, Runnable timedOut) {
            this.minLsn = minLsn;
            this.ready = ready;
            this.timedOut = timedOut;
        }

        @Override
        public int compareTo(Waiting o) {
            return Long.compare(minLsn, o.minLsn);
        }
    }

    private final int maxWaiting;
    private final LongSupplier appliedLsn;
    private final PriorityQueue<Waiting> queue = new PriorityQueue<>(); // guarded by itself
    private final AtomicInteger waiting = new AtomicInteger();
    private final ScheduledExecutorService timers;
    private final ExecutorService answers;

    ReadWaits(int maxWaiting, int answerThreads, LongSupplier appliedLsn) {
        this.maxWaiting = maxWaiting;
        this.appliedLsn = appliedLsn;
        ScheduledThreadPoolExecutor t = new ScheduledThreadPoolExecutor(1, r -> daemon(r, "walship-read-wait-timer"));
        t.setRemoveOnCancelPolicy(true); // a read answered early leaves no timer behind
        this.timers = t;
        this.answers = new ThreadPoolExecutor(answerThreads, answerThreads, 0, TimeUnit.MILLISECONDS,
                new LinkedBlockingQueue<>(), r -> daemon(r, "walship-read-wait"));
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /** Reads waiting now: parked for their LSN, or woken and not answered yet. */
    int waiting() {
        return waiting.get();
    }

    /**
     * Parks a read until the applied LSN reaches {@code minLsn} (then {@code ready} runs) or
     * {@code timeoutNanos} pass ({@code timedOut} runs); exactly one of them runs, on a wait thread.
     * Returns false, running neither, if {@code maxWaiting} reads already wait.
     */
    boolean await(long minLsn, long timeoutNanos, Runnable ready, Runnable timedOut) {
        if (waiting.incrementAndGet() > maxWaiting) {
            waiting.decrementAndGet();
            return false;
        }
        Waiting w = new Waiting(minLsn, ready, timedOut);
        synchronized (queue) {
            queue.add(w);
        }
        try {
            w.timer = timers.schedule(() -> finish(w, false), timeoutNanos, TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException e) {
            finish(w, false); // closing
        }
        applied(appliedLsn.getAsLong()); // it may have been reached while the read was being parked
        return true;
    }

    /** The applied LSN moved to {@code lsn}: answers every read waiting for it (the store's listener). */
    void applied(long lsn) {
        while (true) {
            Waiting w;
            synchronized (queue) {
                w = queue.peek();
                if (w == null || w.minLsn > lsn) {
                    return;
                }
                queue.poll();
            }
            finish(w, true);
        }
    }

    private void finish(Waiting w, boolean reached) {
        if (!w.done.compareAndSet(false, true)) {
            return;
        }
        if (reached) {
            ScheduledFuture<?> t = w.timer;
            if (t != null) {
                t.cancel(false);
            }
        } else {
            synchronized (queue) {
                queue.remove(w);
            }
        }
        Runnable chosen = reached ? w.ready : w.timedOut;
        // the read counts against maxWaiting until it is answered, not merely woken: answers queue
        // for a few threads, and an answer may be slow (a big scan to a slow client), so counting
        // only parked reads would let that queue - each entry an open exchange - grow without bound
        Runnable answer = () -> {
            try {
                chosen.run();
            } finally {
                waiting.decrementAndGet();
            }
        };
        try {
            answers.execute(answer);
        } catch (RejectedExecutionException e) {
            answer.run(); // closing: answer on this thread rather than leave the client hanging
        }
    }

    /** Answers every waiting read as timed out, then stops the threads. */
    @Override
    public void close() {
        timers.shutdownNow();
        while (true) {
            Waiting w;
            synchronized (queue) {
                w = queue.poll();
            }
            if (w == null) {
                break;
            }
            finish(w, false);
        }
        answers.shutdown();
        try {
            answers.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
