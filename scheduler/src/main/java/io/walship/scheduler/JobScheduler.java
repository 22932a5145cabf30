package io.walship.scheduler;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.walship.archive.ArchiveListing;
import io.walship.archive.BackupManifest;
import io.walship.protocol.Endpoints;
import io.walship.protocol.Json;
import io.walship.restorer.RestorePlan;
import io.walship.shipper.ShipLoop;
import io.walship.shipper.ShipLoops;
import io.walship.shipper.WalShipper;
import io.walship.wal.Errors;
import io.walship.wal.Lsn;
import org.quartz.CronExpression;
import org.quartz.CronScheduleBuilder;
import org.quartz.DisallowConcurrentExecution;
import org.quartz.Job;
import org.quartz.JobBuilder;
import org.quartz.JobDetail;
import org.quartz.JobExecutionContext;
import org.quartz.JobKey;
import org.quartz.Scheduler;
import org.quartz.SchedulerException;
import org.quartz.Trigger;
import org.quartz.TriggerBuilder;
import org.quartz.impl.StdSchedulerFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code walship scheduler}: runs every database's jobs in one process, through the same
 * {@link ArchiveJobs} methods the one-shot commands use: backup, retention and verify on Quartz
 * cron triggers, shipping as the {@link io.walship.shipper.ShipLoop} that {@code walship ship}
 * runs, its ticks recorded as runs of the "ship" job.
 *
 * <ul>
 *   <li>A job never overlaps with itself ({@link DisallowConcurrentExecution} per job; the ship
 *       loop waits for one run to end before the next interval starts).
 *   <li>Misfires (the process was paused or busy past a slot) run once, not once per missed
 *       slot. After downtime, a backup whose last slot passed since the newest backup in the
 *       archive runs once at start: positions and history come from the archive.
 *   <li>A failed run is logged with its cause, counted, and simply tried again at the next
 *       trigger (or tick).
 *   <li>{@link #close} (SIGTERM) stops triggering, waits for running jobs to finish and ships a
 *       last time.
 * </ul>
 * Status ({@code GET /status}) and Prometheus metrics ({@code GET /metrics}) on {@code http}.
 *
 * <p>Thread-safe: jobs run on Quartz's threads and the ship loops' own, {@link #status} and
 * {@link #metricsText} may be read from any thread; {@link #start} and {@link #close} are called
 * once each.
 */
public final class JobScheduler implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(JobScheduler.class);
    private static final String RUNNERS = "walship.runners";

    private final SchedulerConfig config;
    private final Path scratch;
    private final Scheduler quartz;
    private final Map<String, ArchiveJobs> databases = new LinkedHashMap<>();
    private final Map<JobKey, Runner> runners = new LinkedHashMap<>();
    private final PrometheusMeterRegistry metrics = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private HttpServer http;

    /** One job: its action (none for ship: the ship loop runs it), its history and its meters. */
    final class Runner {
        final JobRun run;
        final ArchiveJobs jobs;
        final Action action;
        final Timer duration;
        final Counter bytes;

        Runner(ArchiveJobs jobs, String kind, String schedule, Action action) {
            this.jobs = jobs;
            this.action = action;
            this.run = new JobRun(jobs.name(), kind, schedule);
            this.duration = Timer.builder("walship_job_duration").tag("database", jobs.name()).tag("job", kind)
                    .description("duration of job runs").register(metrics);
            this.bytes = Counter.builder("walship_job_bytes").tag("database", jobs.name()).tag("job", kind)
                    .description("bytes moved by job runs (uploaded, downloaded or deleted)").register(metrics);
        }

        /** A Quartz trigger: runs the action, records it; a failure is logged and tried again at the next trigger. */
        void execute() {
            long t0 = System.nanoTime();
            run.started();
            try {
                succeeded(action.run(), System.nanoTime() - t0);
            } catch (Exception | Error e) {
                String cause = Errors.oneLine(e);
                failed(cause, System.nanoTime() - t0);
                LOG.error("{}/{} failed (retried at the next trigger): {}", jobs.name(), run.kind, cause);
                LOG.debug("{}/{} failure", jobs.name(), run.kind, e);
            }
        }

        void succeeded(ArchiveJobs.Outcome o, long nanos) {
            long ms = nanos / 1_000_000;
            run.finished(ms, o.bytes(), "ok: " + o.summary());
            bytes.increment(o.bytes());
            duration.record(nanos, TimeUnit.NANOSECONDS);
            metrics.counter("walship_job_runs", "database", jobs.name(), "job", run.kind, "result", "ok").increment();
            if (!run.kind.equals("ship") || o.bytes() > 0) {
                LOG.info("{}/{}: {} ({} ms)", jobs.name(), run.kind, o.summary(), ms);
            }
        }

        void failed(String cause, long nanos) {
            run.failed(nanos / 1_000_000, cause);
            duration.record(nanos, TimeUnit.NANOSECONDS);
            metrics.counter("walship_job_runs", "database", jobs.name(), "job", run.kind, "result", "failed").increment();
        }
    }

    /** Records the ship loop's ticks as runs of the "ship" job; the loop itself logs failures. */
    private static ShipLoop.Listener shipRecorder(Runner r, Duration interval) {
        return new ShipLoop.Listener() {
            @Override
            public void starting() {
                r.run.started();
            }

            @Override
            public void finished(ShipLoop.Tick t) {
                long nanos = t.took().toNanos();
                if (t.ok()) {
                    WalShipper.Result s = t.result();
                    r.succeeded(new ArchiveJobs.Outcome(s.objectBytes(), s.segments() + " segment(s), " + s.entries()
                            + " entries, archived up to LSN " + Lsn.format(s.archivedUpTo())), nanos);
                } else {
                    r.failed(t.error(), nanos);
                }
                // a fatal error (the archive holds another history) ended the loop: no next run
                boolean stopped = !t.ok() && t.error().startsWith(ShipLoop.STOPPED_PREFIX);
                r.run.nextFire(stopped ? null : Instant.now().plus(interval));
            }
        };
    }

    @FunctionalInterface
    interface Action {
        ArchiveJobs.Outcome run() throws Exception;
    }

    /** The Quartz side of every job: look up the runner and run it. */
    @DisallowConcurrentExecution
    public static final class QuartzJob implements Job {
        @Override
        public void execute(JobExecutionContext context) {
            try {
                @SuppressWarnings("unchecked")
                Map<JobKey, Runner> runners = (Map<JobKey, Runner>) context.getScheduler().getContext().get(RUNNERS);
                Runner r = runners.get(context.getJobDetail().getKey());
                r.execute();
                // the job's triggers as they are now, not the trigger that fired this run (a one-off trigger of a
                // catch-up run has no next fire). A trigger's stored next fire may lie in the past: while this job
                // runs, Quartz keeps its cron trigger blocked on the slot it computed when it fired (a run longer
                // than the interval ends after that slot), and a pending one-off trigger keeps its past start. So
                // the earliest fire time at or after now: the stored one if not past, else the trigger's first
                // fire after now (a cron trigger's next slot; none for a one-off trigger).
                Date now = new Date();
                Date next = null;
                for (Trigger t : context.getScheduler().getTriggersOfJob(context.getJobDetail().getKey())) {
                    Date d = t.getNextFireTime();
                    if (d != null && d.before(now)) {
                        d = t.getFireTimeAfter(now);
                    }
                    next = d != null && (next == null || d.before(next)) ? d : next;
                }
                r.run.nextFire(next == null ? null : next.toInstant());
            } catch (SchedulerException e) {
                LOG.error("scheduler context: {}", e.getMessage());
            }
        }
    }

    private JobScheduler(SchedulerConfig config, Path scratch) throws SchedulerException {
        this.config = config;
        this.scratch = scratch;
        Properties p = new Properties();
        p.setProperty("org.quartz.scheduler.instanceName", "walship");
        p.setProperty("org.quartz.scheduler.skipUpdateCheck", "true");
        p.setProperty("org.quartz.threadPool.class", "org.quartz.simpl.SimpleThreadPool");
        p.setProperty("org.quartz.threadPool.threadCount", String.valueOf(Math.max(2, 4 * config.databases().size())));
        p.setProperty("org.quartz.jobStore.class", "org.quartz.simpl.RAMJobStore");
        p.setProperty("org.quartz.jobStore.misfireThreshold", "2000");
        this.quartz = new StdSchedulerFactory(p).getScheduler();
        quartz.getContext().put(RUNNERS, runners);
    }

    /** Validates access to every archive, schedules every job and starts. */
    public static JobScheduler start(SchedulerConfig config, Path scratch) throws SchedulerException, IOException {
        JobScheduler s = new JobScheduler(config, scratch);
        try {
            s.schedule();
            s.quartz.start();
            s.startHttp();
            return s;
        } catch (RuntimeException | SchedulerException | IOException e) {
            s.close();
            throw e;
        }
    }

    private void schedule() throws SchedulerException {
        io.walship.archive.UploadLimit limit = config.uploadLimit(); // one for the whole process
        for (SchedulerConfig.Database d : config.databases()) {
            ArchiveJobs jobs = new ArchiveJobs(d, limit);
            databases.put(d.name(), jobs);
            SchedulerConfig.Jobs j = SchedulerConfig.jobsOf(d);
            Gauge.builder("walship_archive_lag_lsns", jobs, x -> x.shipping().lagLsns()).tag("database", d.name())
                    .description("commits in the leader's WAL not yet archived (-1: unknown)").register(metrics);
            Gauge.builder("walship_archive_lag_seconds", jobs, x -> x.shipping().lagSeconds()).tag("database", d.name())
                    .description("age of the oldest commit not yet archived (-1: unknown)").register(metrics);
            if (j.ship() != null) {
                // not a Quartz job: the ship loop every command uses, its ticks recorded as runs
                Duration every = j.ship().intervalDuration();
                String schedule = "every " + every.toString().substring(2).toLowerCase();
                Map<ShipLoops.Target, Runner> byTarget = new LinkedHashMap<>();
                for (int i = 0; i < jobs.targets().size(); i++) {
                    ShipLoops.Target t = jobs.targets().get(i);
                    // the primary's job keeps the name "ship"; each other archive has a job of its own
                    String kind = i == 0 ? "ship" : "ship-" + WalShipper.archiveId(t.store());
                    Runner r = new Runner(jobs, kind, schedule, null);
                    runners.put(JobKey.jobKey(kind, jobs.name()), r);
                    byTarget.put(t, r);
                }
                jobs.startShipping(t -> shipRecorder(byTarget.get(t), every));
                for (ShipLoop l : jobs.shipLoops()) {
                    Tags tags = Tags.of("database", d.name(), "archive", l.archiveId(), "required",
                            Boolean.toString(l.required()));
                    Gauge.builder("walship_archive_shipped_lsn", l, x -> x.status().archivedUpTo()).tags(tags)
                            .description("the archive holds every LSN up to this one (-1: unknown)").register(metrics);
                    Gauge.builder("walship_archive_shipping_lag_lsns", l, x -> x.status().lagLsns()).tags(tags)
                            .description("commits not yet in this archive (-1: unknown)").register(metrics);
                    Gauge.builder("walship_archive_shipping_lag_seconds", l, x -> x.status().lagSeconds()).tags(tags)
                            .description("age of the oldest commit not yet in this archive (-1: unknown)").register(metrics);
                    Gauge.builder("walship_archive_shipping_failing", l, x -> x.status().failing() ? 1 : 0).tags(tags)
                            .description("1 while shipping to this archive fails, hangs or stopped").register(metrics);
                }
            }
            if (j.backup() != null) {
                boolean missed = backupMissed(jobs, j.backup().cronValue());
                add(jobs, "backup", "cron " + j.backup().cronValue(), jobs::backup, cron(j.backup().cronValue()), missed);
            }
            if (j.retention() != null) {
                add(jobs, "retention", "cron " + j.retention().cron(), jobs::retention, cron(j.retention().cron()), false);
            }
            if (j.verify() != null) {
                add(jobs, "verify", "cron " + j.verify().cron(), () -> jobs.verify(scratch), cron(j.verify().cron()), false);
            }
        }
    }

    private static CronScheduleBuilder cron(String expr) {
        return CronScheduleBuilder.cronSchedule(expr).withMisfireHandlingInstructionFireAndProceed();
    }

    /** Whether a backup slot passed since the newest backup in the archive (or there is none). */
    private static boolean backupMissed(ArchiveJobs jobs, String cron) {
        try {
            ArchiveListing l = ArchiveListing.of(jobs.archive());
            Instant newest = null;
            for (ArchiveListing.BackupInfo b : l.backups()) {
                BackupManifest m = RestorePlan.readManifest(jobs.archive(), b.name());
                Instant c = Instant.parse(m.createdAt());
                newest = newest == null || c.isAfter(newest) ? c : newest;
            }
            if (newest == null) {
                LOG.info("{}: the archive has no base backup yet; taking one now", jobs.name());
                return true;
            }
            Date slot = new CronExpression(cron).getNextValidTimeAfter(Date.from(newest));
            if (slot != null && slot.toInstant().isBefore(Instant.now())) {
                LOG.info("{}: the backup slot of {} passed while the scheduler was down (newest backup {}); taking one now",
                        jobs.name(), slot.toInstant(), newest);
                return true;
            }
            return false;
        } catch (RuntimeException | java.text.ParseException e) {
            LOG.warn("{}: could not tell whether a backup was missed: {}", jobs.name(), e.getMessage());
            return false;
        }
    }

    private void add(ArchiveJobs jobs, String kind, String schedule, Action action,
                     org.quartz.ScheduleBuilder<? extends Trigger> when, boolean runNow) throws SchedulerException {
        JobKey key = JobKey.jobKey(kind, jobs.name());
        Runner r = new Runner(jobs, kind, schedule, action);
        runners.put(key, r);
        JobDetail detail = JobBuilder.newJob(QuartzJob.class).withIdentity(key).build();
        Trigger trigger = TriggerBuilder.newTrigger().withIdentity(kind, jobs.name()).withSchedule(when).startNow().build();
        Date first = quartz.scheduleJob(detail, trigger);
        r.run.nextFire(first.toInstant());
        if (runNow) {
            quartz.triggerJob(key);
        }
    }

    // ---- status ---------------------------------------------------------------------------------

    public Map<String, Object> status() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("role", "scheduler");
        List<Object> dbs = new ArrayList<>();
        for (ArchiveJobs jobs : databases.values()) {
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("name", jobs.name());
            d.put("archive", jobs.archive().describe());
            ShipLoop.Status shipping = jobs.shipping();
            d.put("archivedLsn", shipping.archivedUpTo() < 0 ? null : Lsn.format(shipping.archivedUpTo()));
            d.put("archiveLagLsns", shipping.lagLsns() < 0 ? null : shipping.lagLsns());
            d.put("archiveLagSeconds", shipping.lagSeconds() < 0 ? null : shipping.lagSeconds());
            d.put("shippingStopped", shipping.stopped());
            d.put("shippingLastError", shipping.lastError());
            List<Object> as = new ArrayList<>();
            for (ShipLoop l : jobs.shipLoops()) {
                ShipLoop.Status a = l.status();
                Map<String, Object> am = new LinkedHashMap<>();
                am.put("id", a.id());
                am.put("uri", a.archive());
                am.put("required", a.required());
                am.put("shippedLsn", a.archivedUpTo() < 0 ? null : Lsn.format(a.archivedUpTo()));
                am.put("lagLsns", a.lagLsns());
                am.put("lagSeconds", a.lagSeconds());
                am.put("failing", a.failing());
                am.put("lastError", a.lastError());
                as.add(am);
            }
            if (!as.isEmpty()) {
                d.put("archives", as);
            }
            List<Object> js = new ArrayList<>();
            runners.values().stream().filter(r -> r.jobs == jobs).forEach(r -> js.add(r.run.toMap()));
            d.put("jobs", js);
            dbs.add(d);
        }
        m.put("databases", dbs);
        return m;
    }

    /** The history of one job (tests, status). */
    JobRun run(String database, String kind) {
        Runner r = runners.get(JobKey.jobKey(kind, database));
        return r == null ? null : r.run;
    }

    public String metricsText() {
        return metrics.scrape();
    }

    public InetSocketAddress httpAddress() {
        return http == null ? null : http.getAddress();
    }

    private void startHttp() throws IOException {
        if (config.http() == null) {
            return;
        }
        http = HttpServer.create(config.httpAddress().resolve(), 16);
        http.createContext(Endpoints.STATUS, ex -> reply(ex, "application/json", Json.writeBytes(status())));
        http.createContext(Endpoints.METRICS, ex -> reply(ex, "text/plain; version=0.0.4", metricsText().getBytes(StandardCharsets.UTF_8)));
        http.start();
        LOG.info("scheduler status on http://{}:{}/status", http.getAddress().getHostString(), http.getAddress().getPort());
    }

    private static void reply(HttpExchange ex, String type, byte[] body) throws IOException {
        try (ex) {
            if (!ex.getRequestMethod().equals("GET")) {
                ex.sendResponseHeaders(405, -1);
                return;
            }
            ex.getResponseHeaders().set("Content-Type", type);
            ex.sendResponseHeaders(200, body.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
            }
        }
    }

    /** Stops triggering, waits for running jobs to finish, and releases everything. */
    @Override
    public void close() {
        // every database's archives take their last shipment at once, first: neither a hanging
        // archive of another database nor a running backup or drill (Quartz waits for those) holds them back
        List<ShipLoop> loops = new ArrayList<>();
        databases.values().forEach(j -> loops.addAll(j.takeShipLoops()));
        ShipLoops.closeAll(loops);
        try {
            quartz.shutdown(true);
        } catch (SchedulerException e) {
            LOG.error("stopping the scheduler: {}", e.getMessage());
        }
        if (http != null) {
            http.stop(0);
        }
        databases.values().forEach(ArchiveJobs::close);
    }
}
