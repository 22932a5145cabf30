package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import com.sun.net.httpserver.HttpServer;
import io.walship.scheduler.JobScheduler;
import io.walship.scheduler.SchedulerConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of 084c054: its comment and SchedulerNextFireStatusTest's javadoc say that reading the job's triggers
 * after the run also fixes "a cron job that ran longer than its interval showed a next fire time in the past, the
 * slot it had been fired for". It does not: while a {@code @DisallowConcurrentExecution} job runs, Quartz keeps
 * its cron trigger BLOCKED with the next fire time computed when it fired; a run longer than the interval ends
 * with that (past) slot still in the trigger, and the status announces it until the next run ends.
 *
 * <p>A backup every second from a leader (a fake one here) whose first {@code GET /snapshot} is answered only
 * once 2.5 s have passed: when the second run has started (so the first one's status update is done), the
 * announced next fire must not lie before the first run's end.
 */
class SchedulerLongRunNextFireTest {
    @TempDir
    Path tmp;

    @Test
    void aRunLongerThanItsIntervalDoesNotAnnounceAPastNextFire() throws Exception {
        AtomicInteger requests = new AtomicInteger();
        AtomicReference<Instant> firstAnswered = new AtomicReference<>();
        CountDownLatch end = new CountDownLatch(1);
        HttpServer leader = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 8);
        ExecutorService pool = Executors.newCachedThreadPool();
        leader.setExecutor(pool);
        leader.createContext("/", ex -> {
            try (ex) {
                if (requests.incrementAndGet() == 1) {
                    // the first run lasts longer than the one-second interval
                    long until = System.nanoTime() + 2_500_000_000L;
                    while (System.nanoTime() < until) {
                        java.util.concurrent.locks.LockSupport.parkNanos(until - System.nanoTime());
                    }
                } else {
                    end.await(60, TimeUnit.SECONDS); // later runs are held until the test has looked
                }
                firstAnswered.compareAndSet(null, Instant.now()); // before the answer: the run cannot end earlier
                ex.sendResponseHeaders(503, -1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        leader.start();
        try {
            String url = "http://127.0.0.1:" + leader.getAddress().getPort();
            SchedulerConfig cfg = SchedulerConfig.parse("databases:\n  - name: db\n    url: " + url + "\n    archive: file://"
                    + tmp.resolve("archive") + "\n    jobs:\n      backup: {cron: \"* * * * * ?\"}\n", "test");
            try (JobScheduler s = JobScheduler.start(cfg, tmp.resolve("scratch"))) {
                try {
                    long deadline = System.nanoTime() + 60_000_000_000L;
                    while (requests.get() < 2) { // the second run started: the first one's status is written
                        if (System.nanoTime() > deadline) {
                            throw new AssertionError("the backup job did not run twice: " + s.status());
                        }
                        java.util.concurrent.locks.LockSupport.parkNanos(20_000_000L);
                    }
                    Map<?, ?> db = (Map<?, ?>) ((List<?>) s.status().get("databases")).get(0);
                    Map<?, ?> backup = ((List<?>) db.get("jobs")).stream().map(j -> (Map<?, ?>) j)
                            .filter(j -> "backup".equals(j.get("job"))).findFirst().orElseThrow();
                    Object next = backup.get("nextFire");
                    assertNotNull(next, backup.toString());
                    Instant ended = firstAnswered.get();
                    assertFalse(Instant.parse(next.toString()).isBefore(ended.minusMillis(500)),
                            "the first run ended at " + ended + " but the status announces a next fire before it: " + backup);
                } finally {
                    end.countDown(); // the held run ends before close() waits for it
                }
            }
        } finally {
            end.countDown();
            leader.stop(0);
            pool.shutdownNow();
        }
    }
}
