package io.walship.cli;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import io.walship.shipper.WalShipper;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.wal.Lsn;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Continuous shipping inside the leader process ({@code walship leader --archive URI}): the same
 * {@link WalShipper} as {@code walship ship}, run every interval on its own thread. A failed
 * run is logged and retried at the next tick; unarchived WAL stays on the leader. Thread-safe.
 */
final class ArchiveShipping implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ArchiveShipping.class);
    private final ObjectStore store;
    private final WalShipper shipper;
    private final ScheduledExecutorService timer;
    private volatile long archivedUpTo;
    private volatile String lastError;

    ArchiveShipping(Path dataDir, String archiveUri, Duration interval) {
        this.store = ObjectStores.open(archiveUri);
        try {
            store.verifyAccess();
            this.shipper = new WalShipper(dataDir, store, WalShipper.Options.defaults());
        } catch (RuntimeException e) {
            store.close();
            throw e;
        }
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "walship-shipper");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleWithFixedDelay(this::shipOnce, 0, interval.toMillis(), TimeUnit.MILLISECONDS);
        LOG.info("shipping WAL to {} every {} ms", store.describe(), interval.toMillis());
    }

    private void shipOnce() {
        try {
            archivedUpTo = shipper.shipOnce().archivedUpTo();
            if (lastError != null) {
                LOG.info("shipping works again; archived up to {}", Lsn.format(archivedUpTo));
            }
            lastError = null;
        } catch (RuntimeException e) {
            lastError = ErrorReporter.message(e);
            LOG.warn("shipping to {} failed, will retry: {}", store.describe(), lastError);
        }
    }

    long archivedUpTo() {
        return archivedUpTo;
    }

    String lastError() {
        return lastError;
    }

    String describe() {
        return store.describe();
    }

    /** Ships once more (so a clean stop leaves nothing unarchived), then stops. */
    @Override
    public void close() {
        timer.shutdown();
        try {
            timer.awaitTermination(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        shipOnce();
        shipper.close();
        store.close();
    }
}
