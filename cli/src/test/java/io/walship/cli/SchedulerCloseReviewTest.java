package io.walship.cli;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import io.walship.archive.ArchiveListing;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.scheduler.JobScheduler;
import io.walship.scheduler.SchedulerConfig;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Adversarial review of several archives at once: the scheduler's stop gives every database's
 * archives their last shipment at once. It closed the databases one after another, so an archive
 * hanging in one database (up to 60 s each, S3 black holes retry for minutes) held back the last
 * shipment of every database after it — past a service manager's stop timeout, WAL acknowledged
 * before the stop never reached their archives until the next start.
 */
class SchedulerCloseReviewTest {
    @TempDir
    Path tmp;

    @Test
    void aHangingArchiveOfOneDatabaseDelaysNoOtherDatabasesLastShipment() throws Exception {
        List<Socket> held = new ArrayList<>();
        // credentials for the black-hole S3 archive (the SDK's default chain reads these properties),
        // so its requests go out and hang instead of failing at once for want of credentials
        boolean setKeys = System.getProperty("aws.accessKeyId") == null;
        if (setKeys) {
            System.setProperty("aws.accessKeyId", "review");
            System.setProperty("aws.secretAccessKey", "review-secret");
        }
        try (ServerSocket blackHole = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread acceptor = new Thread(() -> {
                try {
                    while (true) {
                        Socket s = blackHole.accept(); // accepted, never answered
                        synchronized (held) {
                            held.add(s);
                        }
                    }
                } catch (java.io.IOException e) {
                    // closed at the end of the test
                }
            }, "black-hole");
            acceptor.setDaemon(true);
            acceptor.start();
            Path dataA = tmp.resolve("da");
            Path dataB = tmp.resolve("db");
            for (Path d : List.of(dataA, dataB)) {
                try (Store s = Store.open(d)) {
                    s.put("k".getBytes(StandardCharsets.UTF_8), "v".getBytes(StandardCharsets.UTF_8));
                }
            }
            String archiveB = "file://" + tmp.resolve("ab");
            String yaml = """
                    databases:
                      - name: a
                        data: %s
                        archive: "file://%s"
                        optionalArchives: ["s3://walship-hang/p?endpoint=http://127.0.0.1:%d&region=us-east-1"]
                        jobs:
                          ship: {interval: 1h}
                      - name: b
                        data: %s
                        archive: "%s"
                        jobs:
                          ship: {interval: 1h}
                    """.formatted(dataA, tmp.resolve("aa"), blackHole.getLocalPort(), dataB, archiveB);
            SchedulerConfig cfg = SchedulerConfig.parse(yaml, "test");
            JobScheduler sched = JobScheduler.start(cfg, tmp.resolve("s"));
            Thread closer;
            long[] lastB = new long[1];
            try (ObjectStore b = ObjectStores.open(archiveB)) {
                // b's first run shipped its first entry; a's S3 archive hangs in its first run
                Poll.until(Duration.ofSeconds(30), () -> ArchiveListing.of(b).lastArchivedLsn(1), v -> v >= 1);
                try (Store s = Store.open(dataB)) {
                    for (int i = 0; i < 5; i++) {
                        s.put(("k" + i).getBytes(StandardCharsets.UTF_8), "v".getBytes(StandardCharsets.UTF_8));
                    }
                    lastB[0] = s.lastLsn();
                }
                closer = new Thread(sched::close, "closer");
                closer.setDaemon(true);
                closer.start();
                // only the stop's last shipment ships these (the interval is an hour)
                // fails ("not within PT20S") while b's last shipment waits for a's hanging archive
                Poll.until(Duration.ofSeconds(20), () -> ArchiveListing.of(b).lastArchivedLsn(1), v -> v >= lastB[0]);
            }
            // the hanging archive is left after ShipLoops' 60 s, once: not again when its database closes
            closer.join(Duration.ofSeconds(100).toMillis());
            org.junit.jupiter.api.Assertions.assertFalse(closer.isAlive(), "the stop waited for the hanging archive twice");
        } finally {
            if (setKeys) {
                System.clearProperty("aws.accessKeyId");
                System.clearProperty("aws.secretAccessKey");
            }
            synchronized (held) {
                for (Socket s : held) {
                    s.close();
                }
            }
        }
    }
}
