package io.walship.cli;

import java.util.concurrent.CountDownLatch;

import sun.misc.Signal;

/**
 * The one way walship's long-running commands ({@code leader}, {@code follow}, {@code ship}, {@code scheduler})
 * stop: SIGTERM or SIGINT ends {@link #await}, the command's main thread then closes what it
 * opened, most recent first (the HTTP API lets running requests finish, the ship loop ships a last
 * time, the store checkpoints), and the process exits with code 0. No shutdown hooks: closing runs
 * on the main thread, in the order the code shows, and a failure there is an ordinary error.
 * Thread-safe.
 */
final class Shutdown {
    private final CountDownLatch requested = new CountDownLatch(1);

    private Shutdown() {
    }

    /** Catches SIGTERM and SIGINT from now on; each ends {@link #await}. */
    static Shutdown onSignals() {
        Shutdown s = new Shutdown();
        for (String sig : new String[] {"TERM", "INT"}) {
            Signal.handle(new Signal(sig), x -> s.requested.countDown());
        }
        return s;
    }

    /** One that only {@link #request} ends (tests). */
    static Shutdown manual() {
        return new Shutdown();
    }

    /** Ends {@link #await} as a signal would: the command itself decided to stop (a fatal error). */
    void request() {
        requested.countDown();
    }

    /** Blocks until a signal arrives (or {@link #request}) or {@code timeout} passes; whether one did. */
    boolean await(java.time.Duration timeout) throws InterruptedException {
        return requested.await(timeout.toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS);
    }

    /** Blocks until a signal arrives (or {@link #request}). */
    void await() throws InterruptedException {
        requested.await();
    }
}
