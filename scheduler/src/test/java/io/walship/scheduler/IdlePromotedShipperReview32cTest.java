package io.walship.scheduler;

import static io.walship.scheduler.ArchiveFixture.backup;
import static io.walship.scheduler.ArchiveFixture.ship;
import static io.walship.scheduler.ArchiveFixture.writes;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

import io.walship.archive.Codec;
import io.walship.archive.CountingObjectStore;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.restorer.Promotion;
import io.walship.restorer.Restore;
import io.walship.shipper.WalShipper;
import io.walship.wal.Store;
import io.walship.wal.WalReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * review32c: WalShipper's "Request bill" ("an idle shipper makes no request" within archiveRecheck) and
 * LaggingArchiveForkCheckTest's "an idle run once the check passed: none". The fork check forces a listing on every
 * run until it passes, but it is only evaluated once the local WAL holds an entry: a store restored from A and
 * promoted has an empty WAL until its first write, so each idle run of the new leader's ship loop (every
 * --ship-interval, 1 s by default, per archive) lists the whole archive and reads the timeline's history again, for
 * as long as no one writes. On main such a run makes no request.
 */
class IdlePromotedShipperReview32cTest {
    @TempDir
    Path tmp;

    @Test
    void anIdlePromotedStoreWithAnEmptyWalMakesNoRequestPerRun() {
        Path leader = tmp.resolve("leader");
        Path standby = tmp.resolve("standby");
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archiveA"))) {
            try (Store s = Store.open(leader)) {
                writes(s, "a", 40);
                backup(s, a);
                writes(s, "b", 40);
            }
            ship(leader, a);
            Restore.run(a, standby, Restore.Options.defaults(), new Restore.Listener() { });
            assertEquals(2, Promotion.promote(standby, a).timeline());
            try (Store s = Store.open(standby)) {
                // the new leader starts (walship leader --data NEW), no client writes yet
            }
            try (WalReader r = WalReader.open(standby)) {
                assertTrue(r.firstAvailableLsn() < 0, "setup: the promoted store's WAL is empty until its first write");
            }

            CountingObjectStore counted = new CountingObjectStore(a);
            AtomicLong clock = new AtomicLong();
            try (WalShipper w = new WalShipper(standby, counted, new WalShipper.Options(Codec.ZSTD, 4096), true,
                    clock::get)) {
                w.shipOnce(() -> null); // a new shipper's first run lists
                CountingObjectStore.Counts before = counted.counts();
                for (int i = 0; i < 5; i++) {
                    w.shipOnce(() -> null); // the loop's idle runs, within the archive recheck (the clock stands still)
                }
                CountingObjectStore.Counts idle = counted.counts().minus(before);
                System.out.println("five idle runs of a promoted store with an empty WAL: " + idle);
                assertEquals(0, idle.lists() + idle.gets() + idle.heads() + idle.puts(),
                        "an idle shipper makes no request: " + idle);
            }
        }
    }
}
