package io.walship.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;

class SchedulerConfigTest {
    @Test
    void theDocumentedExampleIsValid() {
        SchedulerConfig c = SchedulerConfig.load(Path.of("..", "docs", "walship.example.yaml"));
        assertEquals(2, c.databases().size());
        SchedulerConfig.Jobs orders = SchedulerConfig.jobsOf(c.databases().get(0));
        assertEquals(7, orders.retention().keepBackups());
        SchedulerConfig.Jobs sessions = SchedulerConfig.jobsOf(c.databases().get(1));
        assertEquals(SchedulerConfig.DEFAULT_BACKUP_CRON, sessions.backup().cronValue());
        assertEquals(1000, sessions.ship().intervalDuration().toMillis());
        assertEquals(java.time.Duration.ZERO, sessions.ship().options().segmentMaxAge(), "by default every run ships");
        assertEquals(java.time.Duration.ofMinutes(1), sessions.ship().options().archiveRecheck());
        assertEquals(50L << 20, c.uploadLimit().bytesPerSecond(), "one limit for the whole scheduler");
    }

    @Test
    void theShipJobTakesTheRequestBillSettings() {
        SchedulerConfig c = SchedulerConfig.parse("databases:\n  - name: a\n    data: /d\n    archive: file:///a\n"
                + "    jobs:\n      ship: {interval: 5s, segmentMaxAge: 2m, archiveRecheck: 10m}\n", "t");
        io.walship.shipper.WalShipper.Options o = SchedulerConfig.jobsOf(c.databases().get(0)).ship().options();
        assertEquals(java.time.Duration.ofMinutes(2), o.segmentMaxAge());
        assertEquals(java.time.Duration.ofMinutes(10), o.archiveRecheck());
    }

    @Test
    void encryptionKeyFilesAreReadAndCheckedAtLoad(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        Path k1 = java.nio.file.Files.write(tmp.resolve("k1"), new byte[32]);
        byte[] two = new byte[32];
        two[0] = 1;
        Path k2 = java.nio.file.Files.write(tmp.resolve("k2"), two);
        String db = "databases:\n  - name: a\n    data: /d\n    archive: file:///a\n";
        SchedulerConfig c = SchedulerConfig.parse(db + "    encryptionKeyFiles: [" + k2 + ", " + k1 + "]\n", "t");
        assertEquals(io.walship.archive.EncryptionKeys.load(java.util.List.of(k2, k1)).ids(),
                c.databases().get(0).encryptionKeys().ids(), "in order: the first seals");
        Path bad = java.nio.file.Files.writeString(tmp.resolve("bad"), "secret-ish");
        String e = err(db + "    encryptionKeyFiles: [" + bad + "]\n");
        assertTrue(e.startsWith("config t: database 'a': encryption key file " + bad) && !e.contains("secret-ish"), e);
    }

    @Test
    void theUploadRateIsParsedStrictly() {
        String db = "databases:\n  - name: a\n    data: /d\n    archive: file:///a\n";
        assertTrue(!SchedulerConfig.parse(db, "t").uploadLimit().limited(), "no limit unless configured");
        assertEquals(512L << 10, SchedulerConfig.parse("maxUploadRate: 512KiB/s\n" + db, "t").uploadLimit().bytesPerSecond());
        assertTrue(err("maxUploadRate: 50MB/s\n" + db).startsWith("config t: maxUploadRate '50MB/s': not a rate (use binary"));
        assertTrue(err("maxUploadRate: 10B/s\n" + db).contains("below the minimum of 1KiB/s"));
        assertTrue(err("maxUploadRate: fast\n" + db).contains("maxUploadRate 'fast'"));
    }

    private static String err(String yaml) {
        return assertThrows(SchedulerConfig.ConfigException.class, () -> SchedulerConfig.parse(yaml, "t")).getMessage();
    }

    @Test
    void everyMistakeIsOneLineNamingItsPlace() {
        String db = "databases:\n  - name: a\n    data: /d\n    archive: file:///a\n";
        assertTrue(err(db + "    jobs:\n      ship: {intervall: 1s}\n").contains("unknown key 'intervall' at databases[0].jobs.ship"));
        assertTrue(err(db + "    jobs:\n      ship: {interval: soon}\n").contains("not a duration: 'soon'"));
        assertTrue(err(db + "    jobs:\n      verify: {cron: \"0 0 25 * * ?\"}\n").contains("jobs.verify.cron"));
        assertTrue(err(db + "    jobs:\n      retention: {cron: \"0 0 3 * * ?\", keepBackups: 0}\n").contains("keep-backups must be at least 1"));
        assertTrue(err(db + "  - name: a\n    data: /e\n    archive: file:///b\n").contains("name 'a' is used twice"));
        assertTrue(err("databases:\n  - name: a\n    url: http://x:1\n    archive: file:///a\n").contains("the ship job reads the WAL from 'data'"));
        assertTrue(err("databases:\n  - name: a\n    data: /d\n    archive: ftp://x/y\n").contains("database 'a'"));
        assertTrue(err("http: nowhere\n" + db).contains("http must be HOST:PORT"));
        assertTrue(err("databases: []\n").contains("at least one database"));
        assertTrue(err("databases: [\n").startsWith("config t"));
        assertTrue(err(db + "    jobs:\n      ship: {segmentMaxAge: -1m}\n").contains("jobs.ship.segmentMaxAge: not a duration: '-1m'"));
        assertTrue(err(db + "    jobs:\n      ship: {archiveRecheck: often}\n").contains("jobs.ship.archiveRecheck: not a duration"));
        // past a year (and past what a nanosecond clock holds): refused at --check, not by a failing run
        assertTrue(err(db + "    jobs:\n      ship: {segmentMaxAge: 3000000h}\n").contains("segment max age must be between"));
        assertTrue(err(db + "    jobs:\n      ship: {archiveRecheck: 8761h}\n").contains("archive recheck interval must be between"));
        for (String m : new String[] {err(db + "    x: 1\n"), err("databases:\n  - name: a\n    data: /d\n"),
                err(db + "    jobs:\n      ship: {segmentMaxAge: 1 minute}\n")}) {
            assertEquals(1, m.lines().count(), m);
        }
    }
}
