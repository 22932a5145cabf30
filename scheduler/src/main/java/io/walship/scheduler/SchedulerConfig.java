package io.walship.scheduler;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.walship.archive.ArchiveUri;
import io.walship.archive.Codec;
import io.walship.protocol.HostPort;
import io.walship.shipper.BackupSource;
import io.walship.shipper.BackupType;
import io.walship.shipper.WalShipper;
import io.walship.wal.Units;
import org.quartz.CronExpression;

/**
 * The scheduler's YAML configuration (README, "Scheduled jobs"), validated completely at load:
 * an unknown key, a bad cron expression or duration, a missing archive URI — each is one line
 * naming the place in the file ({@link ConfigException}, exit code 2).
 *
 * <pre>
 * http: 127.0.0.1:7071          # status and metrics of the scheduler (optional)
 * maxUploadRate: 50MiB/s        # all uploads of this process together (optional; none by default)
 * databases:
 *   - name: orders
 *     data: /srv/orders          # the leader's data directory (shipping reads its WAL)
 *     url: http://127.0.0.1:7070 # the running leader (backups; optional if it is stopped)
 *     archive: s3://bucket/orders?endpoint=...
 *     encryptionKeyFiles: [/etc/walship/orders.key]  # optional: encrypt the archive (first key seals)
 *     jobs:                      # absent: ship and backup with their defaults
 *       ship: {interval: 1s}       # also codec, segmentSize, segmentMaxAge, archiveRecheck
 *       backup: {cron: "0 0 3 * * ?", type: incr, fullEvery: 7}  # daily; a full one every 7th
 *       retention: {cron: "0 30 3 * * ?", keepBackups: 7, keepDays: 14}
 *       verify: {cron: "0 0 5 ? * SUN"}
 * </pre>
 */
public record SchedulerConfig(String http, String maxUploadRate, List<Database> databases) {
    public static final String DEFAULT_BACKUP_CRON = "0 0 3 * * ?";

    /** Without an upload rate limit. */
    public SchedulerConfig(String http, List<Database> databases) {
        this(http, null, databases);
    }

    /** The upload rate limit that every database's shipping and backups share ({@code maxUploadRate}). */
    public io.walship.archive.UploadLimit uploadLimit() {
        return io.walship.archive.UploadLimit.parse(maxUploadRate);
    }

    /**
     * One database. Its archives: {@code archive} (one required archive) and/or {@code archives}
     * (required archives), and {@code optionalArchives} (shipped to, never waited for); the first
     * required one is the primary: backups, retention and drills run on it only
     * (docs/OPERATIONS.md, "Several archives").
     */
    public record Database(String name, String data, String url, String archive, Jobs jobs,
                           List<String> encryptionKeyFiles, List<String> archives, List<String> optionalArchives) {
        /** Without encryption keys of its own. */
        public Database(String name, String data, String url, String archive, Jobs jobs) {
            this(name, data, url, archive, jobs, null);
        }

        /** One archive only. */
        public Database(String name, String data, String url, String archive, Jobs jobs,
                        List<String> encryptionKeyFiles) {
            this(name, data, url, archive, jobs, encryptionKeyFiles, null, null);
        }

        /** The required archives: {@code archive}, then {@code archives}; the first is the primary. */
        public List<String> requiredArchives() {
            List<String> out = new java.util.ArrayList<>();
            if (archive != null && !archive.isBlank()) {
                out.add(archive);
            }
            if (archives != null) {
                out.addAll(archives);
            }
            return out;
        }

        /** {@code optionalArchives}, or none. */
        public List<String> optionalArchiveList() {
            return optionalArchives == null ? List.of() : optionalArchives;
        }

        /** The primary archive: the first required one. */
        public String primaryArchive() {
            return requiredArchives().get(0);
        }

        /**
         * The archive's keys: {@code encryptionKeyFiles}, else the files {@code WALSHIP_ENCRYPTION_KEY_FILE}
         * names, else none (docs/OPERATIONS.md "Encryption").
         */
        public io.walship.archive.EncryptionKeys encryptionKeys() {
            return io.walship.archive.EncryptionKeys.resolve(encryptionKeyFiles == null ? List.of()
                    : encryptionKeyFiles.stream().map(Path::of).toList(), System.getenv("WALSHIP_ENCRYPTION_KEY_FILE"));
        }

        /** Backups come from the running leader if {@code url} is set, else from the stopped {@code data} directory. */
        public BackupSource backupSource() {
            return url != null ? new BackupSource.Leader(url) : new BackupSource.StoppedStore(Path.of(data));
        }
    }

    /** Where to serve status and metrics, or null for nowhere. */
    public HostPort httpAddress() {
        return http == null ? null : HostPort.parse(http);
    }

    public record Jobs(Ship ship, Backup backup, RetentionJob retention, Verify verify) {
    }

    /**
     * The ship job: {@code walship ship}'s {@code --interval}, {@code --codec}, {@code --segment-size},
     * {@code --segment-max-age} and {@code --archive-recheck}.
     */
    public record Ship(String interval, String codec, String segmentSize, String segmentMaxAge, String archiveRecheck) {
        public Ship(String interval, String codec, String segmentSize) {
            this(interval, codec, segmentSize, null, null);
        }

        public Duration segmentMaxAgeDuration() {
            return segmentMaxAge == null ? Duration.ZERO : named("jobs.ship.segmentMaxAge", segmentMaxAge);
        }

        public Duration archiveRecheckDuration() {
            return archiveRecheck == null ? WalShipper.DEFAULT_ARCHIVE_RECHECK : named("jobs.ship.archiveRecheck", archiveRecheck);
        }

        private static Duration named(String key, String text) {
            try {
                return Units.duration(text);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(key + ": " + e.getMessage(), e);
            }
        }

        /** The shipper's options this job sets. */
        public WalShipper.Options options() {
            return new WalShipper.Options(codecValue(), segmentBytes(), segmentMaxAgeDuration(), archiveRecheckDuration());
        }

        public Duration intervalDuration() {
            return Units.duration(interval == null ? "1s" : interval);
        }

        public Codec codecValue() {
            return Codec.parse(codec == null ? "zstd" : codec);
        }

        public long segmentBytes() {
            return Units.bytes(segmentSize == null ? "16MiB" : segmentSize);
        }
    }

    /**
     * The backup job. {@code type}: full (default), incr or diff ({@link BackupType}); {@code fullEvery} N: with
     * incr or diff, a full backup is taken whenever the chain (or the diffs since the newest full one) would
     * otherwise reach N+1 backups, so with a daily cron and 7, a full one comes every 7th day and a restore
     * never composes more than 7.
     */
    public record Backup(String cron, String codec, String type, Integer fullEvery) {
        public Backup(String cron, String codec) {
            this(cron, codec, null, null);
        }

        public BackupType.Policy policy() {
            BackupType t = type == null ? BackupType.FULL : BackupType.parse(type);
            if (fullEvery != null && fullEvery < 1) {
                throw new IllegalArgumentException("jobs.backup.fullEvery must be at least 1");
            }
            if (fullEvery != null && t == BackupType.FULL) {
                throw new IllegalArgumentException("jobs.backup.fullEvery needs type incr or diff");
            }
            return new BackupType.Policy(t, fullEvery == null ? 0 : fullEvery);
        }

        public String cronValue() {
            return cron == null ? DEFAULT_BACKUP_CRON : cron;
        }

        public Codec codecValue() {
            return Codec.parse(codec == null ? "zstd" : codec);
        }
    }

    public record RetentionJob(String cron, Integer keepBackups, Integer keepDays) {
        public Retention.Policy policy() {
            return new Retention.Policy(keepBackups, keepDays);
        }
    }

    public record Verify(String cron, Boolean quick) {
        public boolean quickValue() {
            return quick == null || quick;
        }
    }

    /** A config file that cannot be used; exit code 2. */
    public static final class ConfigException extends IllegalArgumentException {
        public ConfigException(String message) {
            super(message);
        }
    }

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory())
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);

    /** The jobs a database runs: as configured, or ship and backup with defaults if none are named. */
    public static Jobs jobsOf(Database d) {
        return d.jobs() != null ? d.jobs() : new Jobs(new Ship(null, null, null), new Backup(null, null), null, null);
    }

    public static SchedulerConfig load(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new ConfigException("config " + file + " does not exist");
        } catch (IOException e) {
            throw new ConfigException("config " + file + " cannot be read: " + e.getMessage());
        }
        return parse(text, file.toString());
    }

    public static SchedulerConfig parse(String yaml, String where) {
        SchedulerConfig c;
        try {
            c = YAML.readValue(yaml, SchedulerConfig.class);
        } catch (UnrecognizedPropertyException e) {
            String known = e.getKnownPropertyIds() == null ? "" : " (known: " + e.getKnownPropertyIds().stream()
                    .map(Object::toString).sorted().collect(Collectors.joining(", ")) + ")";
            throw new ConfigException("config " + where + ": unknown key '" + e.getPropertyName() + "' at "
                    + path(e) + known);
        } catch (JsonMappingException e) {
            throw new ConfigException("config " + where + ": bad value at " + path(e) + ": "
                    + e.getOriginalMessage().lines().findFirst().orElse(""));
        } catch (IOException e) {
            throw new ConfigException("config " + where + " is not valid YAML: " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (c == null) {
            throw new ConfigException("config " + where + " is empty");
        }
        c.validate(where);
        return c;
    }

    private static String path(JsonMappingException e) {
        StringBuilder b = new StringBuilder();
        for (JsonMappingException.Reference r : e.getPath()) {
            if (r.getIndex() >= 0) {
                b.append('[').append(r.getIndex()).append(']');
            } else if (r.getFieldName() != null) {
                b.append(b.length() == 0 ? "" : ".").append(r.getFieldName());
            }
        }
        return b.length() == 0 ? "the top level" : b.toString();
    }

    private void validate(String where) {
        if (databases == null || databases.isEmpty()) {
            throw new ConfigException("config " + where + ": 'databases' must list at least one database");
        }
        if (http != null) {
            try {
                httpAddress();
            } catch (IllegalArgumentException e) {
                throw new ConfigException("config " + where + ": http must be HOST:PORT or [IPV6]:PORT, not '" + http + "'");
            }
        }
        if (maxUploadRate != null) {
            try {
                io.walship.archive.UploadLimit.parseRate(maxUploadRate);
            } catch (IllegalArgumentException e) {
                throw new ConfigException("config " + where + ": maxUploadRate '" + maxUploadRate + "': " + e.getMessage());
            }
        }
        Set<String> names = new HashSet<>();
        for (int i = 0; i < databases.size(); i++) {
            Database d = databases.get(i);
            String at = "config " + where + ": databases[" + i + "]";
            if (d == null) {
                throw new ConfigException(at + " is empty");
            }
            if (d.name() == null || !d.name().matches("[A-Za-z0-9_.-]{1,64}")) {
                throw new ConfigException(at + ": 'name' must be 1-64 characters of A-Z a-z 0-9 _ . -");
            }
            if (!names.add(d.name())) {
                throw new ConfigException(at + ": name '" + d.name() + "' is used twice");
            }
            at = "config " + where + ": database '" + d.name() + "'";
            if (d.requiredArchives().isEmpty()) {
                throw new ConfigException(at + ": 'archive' (the archive URI) is missing"
                        + (d.optionalArchiveList().isEmpty() ? "" : "; optionalArchives need a required archive"));
            }
            List<String> all = new java.util.ArrayList<>(d.requiredArchives());
            all.addAll(d.optionalArchiveList());
            try {
                for (String u : all) {
                    if (u == null || u.isBlank()) {
                        throw new IllegalArgumentException("an archive URI is empty");
                    }
                    ArchiveUri.parse(u);
                }
                io.walship.shipper.ShipLoops.checkDistinct(all);
            } catch (RuntimeException e) {
                throw new ConfigException(at + ": " + e.getMessage());
            }
            try {
                d.encryptionKeys();
            } catch (io.walship.archive.EncryptionKeyException e) {
                throw new ConfigException(at + ": " + e.getMessage());
            }
            if (d.data() == null && d.url() == null) {
                throw new ConfigException(at + ": give 'data' (the leader's data directory) and/or 'url' (the running leader)");
            }
            Jobs j = jobsOf(d);
            if (j.ship() != null && d.data() == null) {
                throw new ConfigException(at + ": the ship job reads the WAL from 'data', which is missing");
            }
            try {
                if (j.ship() != null) {
                    Duration iv = j.ship().intervalDuration();
                    if (iv.isZero()) {
                        throw new IllegalArgumentException("ship interval must be positive");
                    }
                    j.ship().options();
                }
                if (j.backup() != null) {
                    cron(j.backup().cronValue(), "jobs.backup.cron");
                    j.backup().codecValue();
                    try {
                        j.backup().policy();
                    } catch (IllegalArgumentException e) {
                        throw new ConfigException(at + ": " + e.getMessage());
                    }
                }
                if (j.retention() != null) {
                    cron(required(j.retention().cron(), "jobs.retention.cron"), "jobs.retention.cron");
                    j.retention().policy();
                }
                if (j.verify() != null) {
                    cron(required(j.verify().cron(), "jobs.verify.cron"), "jobs.verify.cron");
                }
            } catch (IllegalArgumentException e) {
                throw new ConfigException(at + ": " + e.getMessage());
            }
        }
    }

    private static String required(String v, String what) {
        if (v == null) {
            throw new IllegalArgumentException(what + " is missing");
        }
        return v;
    }

    private static void cron(String expr, String what) {
        try {
            CronExpression.validateExpression(expr);
        } catch (java.text.ParseException e) {
            throw new IllegalArgumentException(what + " '" + expr + "' is not a cron expression (Quartz syntax: sec min hour"
                    + " day-of-month month day-of-week, e.g. \"0 0 3 * * ?\"): " + e.getMessage());
        }
    }
}
