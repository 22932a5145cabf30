package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import io.walship.scheduler.JobScheduler;
import io.walship.scheduler.SchedulerConfig;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The scheduler's status names each cron job's next fire time. A backup the scheduler takes at start
 * (the archive has none, or a slot passed while it was down) runs from a one-off trigger: once it has
 * run, the status said {@code nextFire: null} ("no next run") until the cron fired again, a whole day
 * with the default daily cron, though the job stays scheduled (seen end to end: {@code walship scheduler
 * status} showed no next fire for the backup job after its catch-up run). A cron job that ran longer than
 * its interval, announcing a past next fire, is {@link SchedulerLongRunNextFireTest}.
 */
class SchedulerNextFireStatusTest {
    @TempDir
    Path tmp;

    @Test
    void aBackupTakenAtStartStillAnnouncesItsNextCronFire() throws Exception {
        Path data = tmp.resolve("data");
        try (Store store = Store.open(data)) {
            for (int i = 0; i < 20; i++) {
                store.put(("k" + i).getBytes(StandardCharsets.UTF_8), "v".getBytes(StandardCharsets.UTF_8));
            }
        }
        String archive = "file://" + tmp.resolve("archive");
        SchedulerConfig cfg = SchedulerConfig.parse("databases:\n  - name: db\n    data: " + data + "\n    archive: "
                + archive + "\n    jobs:\n      backup: {cron: \"0 0 3 * * ?\"}\n", "test");
        try (JobScheduler s = JobScheduler.start(cfg, tmp.resolve("scratch"))) {
            long deadline = System.nanoTime() + 60_000_000_000L;
            Map<?, ?> backup;
            while (true) {
                Map<?, ?> db = (Map<?, ?>) ((List<?>) s.status().get("databases")).get(0);
                backup = ((List<?>) db.get("jobs")).stream().map(j -> (Map<?, ?>) j)
                        .filter(j -> "backup".equals(j.get("job"))).findFirst().orElseThrow();
                if (((Number) backup.get("runs")).intValue() >= 1 && !Boolean.TRUE.equals(backup.get("running"))) {
                    break;
                }
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("the catch-up backup never ran: " + backup);
                }
                java.util.concurrent.locks.LockSupport.parkNanos(20_000_000L);
            }
            assertTrue(String.valueOf(backup.get("lastResult")).startsWith("ok"), backup.toString());
            Object next = backup.get("nextFire");
            assertNotNull(next, "the daily backup is still scheduled, but the status announces no next run: " + backup);
            assertTrue(Instant.parse(next.toString()).isAfter(Instant.now()), "next fire in the past: " + backup);
        }
    }
}
