package io.walship.scheduler;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The history of one scheduled job (one database, one kind): last start, duration, result,
 * bytes moved, counts. Updated by the job's thread, read by status requests; synchronized.
 */
final class JobRun {
    final String database;
    final String kind;
    final String schedule;
    private Instant lastStart;
    private long lastMillis;
    private String lastResult = "never run";
    private String lastError;
    private long lastBytes;
    private long runs;
    private long failures;
    private boolean running;
    private Instant nextFire;

    JobRun(String database, String kind, String schedule) {
        this.database = database;
        this.kind = kind;
        this.schedule = schedule;
    }

    synchronized void started() {
        lastStart = Instant.now();
        running = true;
    }

    synchronized void finished(long millis, long bytes, String result) {
        running = false;
        lastMillis = millis;
        lastBytes = bytes;
        lastResult = result;
        lastError = null;
        runs++;
    }

    synchronized void failed(long millis, String error) {
        running = false;
        lastMillis = millis;
        lastBytes = 0;
        lastResult = "failed";
        lastError = error;
        runs++;
        failures++;
    }

    synchronized void nextFire(Instant t) {
        nextFire = t;
    }

    synchronized long runs() {
        return runs;
    }

    synchronized long failures() {
        return failures;
    }

    synchronized String lastResult() {
        return lastResult;
    }

    synchronized Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("job", kind);
        m.put("schedule", schedule);
        m.put("running", running);
        m.put("lastStart", lastStart == null ? null : lastStart.toString());
        m.put("lastDurationMs", lastStart == null ? null : lastMillis);
        m.put("lastResult", lastResult);
        m.put("lastError", lastError);
        m.put("lastBytes", lastBytes);
        m.put("runs", runs);
        m.put("failures", failures);
        m.put("nextFire", nextFire == null ? null : nextFire.toString());
        return m;
    }
}
