package io.walship.restorer.follow;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

import io.walship.archive.ArchiveListing;
import io.walship.archive.CorruptObjectException;
import io.walship.archive.ObjectStore;
import io.walship.archive.TimelineHistory;
import io.walship.restorer.RestorePlan;
import io.walship.restorer.SegmentPrefetcher;
import io.walship.wal.Durability;
import io.walship.wal.IntegrityException;
import io.walship.wal.Lsn;
import io.walship.wal.Store;
import io.walship.wal.WalEntry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Catches an open follower store up from the archive: lists it, follows the store's timeline
 * from its last LSN through the WAL segments (fetched and checked ahead by a
 * {@link SegmentPrefetcher}), applies them in batches with {@link Store#applyAll}, and lists
 * again until nothing newer is there (PostgreSQL's restore_command loop). A gap in the archive
 * ends the catch-up at the gap (named in the log); the stream may still have those entries.
 * Every entry goes through the store's own WAL, so a crash in the middle resumes where it was.
 */
public final class ArchiveCatchUp {
    private static final Logger LOG = LoggerFactory.getLogger(ArchiveCatchUp.class);
    /** Entries applied per call to {@link Store#applyAll} (one WAL sync each). */
    static final int BATCH = 2_048;

    /** What a catch-up applied: entries, segments read, and the LSN reached. */
    public record Result(long entries, int segments, long lsn) {
    }

    private ArchiveCatchUp() {
    }

    /**
     * @param stop checked between batches: true ends the catch-up early (the follower is closing)
     */
    public static Result run(ObjectStore archive, Store store, int parallel, BooleanSupplier stop) {
        long entries = 0;
        int segments = 0;
        while (!stop.getAsBoolean()) {
            ArchiveListing listing = ArchiveListing.of(archive);
            Map<Integer, TimelineHistory> histories = TimelineHistory.readAll(archive, listing);
            List<TimelineHistory.Span> ancestry = TimelineHistory.ancestry(store.timeline(), histories);
            long from = store.lastLsn() + 1;
            RestorePlan.Chain chain = RestorePlan.chain(listing, ancestry, from);
            if (chain.steps().isEmpty()) {
                if (chain.gap() != null) {
                    LOG.warn("the archive is missing WAL LSN {}..{} (timeline {}); the follower waits for the leader's stream",
                            Lsn.format(chain.gap().firstLsn()), Lsn.format(chain.gap().lastLsn()), store.timeline());
                }
                break;
            }
            LOG.info("catching up from the archive: LSN {}..{} in {} segment(s)", Lsn.format(from),
                    Lsn.format(chain.end()), chain.steps().size());
            try (SegmentPrefetcher prefetch = new SegmentPrefetcher(archive, chain.steps(), parallel)) {
                for (RestorePlan.Step step : chain.steps()) {
                    if (stop.getAsBoolean()) {
                        return new Result(entries, segments, store.lastLsn());
                    }
                    SegmentPrefetcher.Decoded seg = prefetch.next();
                    segments++;
                    List<WalEntry> batch = new ArrayList<>(BATCH);
                    for (WalEntry e : seg.entries()) {
                        if (e.lsn() <= store.lastLsn() + batch.size() || e.lsn() < step.fromLsn()) {
                            continue;
                        }
                        if (e.lsn() > step.toLsn()) {
                            break;
                        }
                        batch.add(e);
                        if (batch.size() == BATCH) {
                            entries += apply(store, batch, step.key());
                        }
                    }
                    entries += apply(store, batch, step.key());
                    if (store.lastLsn() < step.toLsn()) {
                        throw new CorruptObjectException(step.key(), "ends at LSN " + Lsn.format(store.lastLsn())
                                + ", its name promises LSN " + Lsn.format(step.toLsn()));
                    }
                }
            }
        }
        return new Result(entries, segments, store.lastLsn());
    }

    private static int apply(Store store, List<WalEntry> batch, String key) {
        int n = batch.size();
        if (n == 0) {
            return 0;
        }
        try {
            store.applyAll(batch, Durability.DURABLE);
        } catch (IntegrityException e) {
            throw new CorruptObjectException(key, e.getMessage(), e);
        }
        batch.clear();
        return n;
    }
}
