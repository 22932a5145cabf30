package io.walship.restorer;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

import io.walship.archive.CorruptObjectException;
import io.walship.archive.ObjectStore;
import io.walship.archive.Prefetch;
import io.walship.archive.Segment;
import io.walship.archive.StorageException;
import io.walship.wal.EntryCodec;
import io.walship.wal.IntegrityException;
import io.walship.wal.Lsn;
import io.walship.wal.WalEntry;

/**
 * Fetches the segments of a plan in order, up to {@code parallel} ahead of the consumer, and
 * checks and decodes each on a worker thread (download, decompression and entry checksums run
 * beside the replay). Every problem names the object. One consumer; close it to cancel the rest.
 */
public final class SegmentPrefetcher implements AutoCloseable {
    /** A fetched segment: its header, its entries decoded and checked, and the object's size. */
    public record Decoded(Segment.Header header, List<WalEntry> entries, long objectBytes) {
    }

    private final Prefetch<Decoded> segments;

    public SegmentPrefetcher(ObjectStore store, List<RestorePlan.Step> steps, int parallel) {
        List<Supplier<Decoded>> tasks = new ArrayList<>();
        for (RestorePlan.Step step : steps) {
            tasks.add(() -> fetch(store, step.key(), step.segment().size()));
        }
        this.segments = new Prefetch<>("walship-segment", parallel, parallel + 1, tasks);
    }

    public Decoded next() {
        return segments.next();
    }

    /**
     * Downloads one segment and checks it completely: size against the listing, header against
     * the key, body checksum, every entry's checksum and version, and LSN continuity inside it.
     */
    static Decoded fetch(ObjectStore store, String key, long listedSize) {
        var name = io.walship.archive.ArchiveLayout.parseSegment(key).orElseThrow();
        byte[] bytes;
        try (InputStream in = store.get(key)) {
            bytes = in.readAllBytes();
        } catch (IOException e) {
            throw new StorageException("read " + key + ": " + e.getMessage(), e);
        }
        if (bytes.length != listedSize) {
            throw new CorruptObjectException(key, "read " + bytes.length + " bytes, the listing says " + listedSize);
        }
        Segment.Header h;
        List<byte[]> raw;
        try {
            h = Segment.readHeader(new ByteArrayInputStream(bytes), key);
            raw = Segment.readEntries(new ByteArrayInputStream(bytes), key);
        } catch (IOException e) {
            throw new UncheckedIOException("read " + key + ": " + e.getMessage(), e);
        }
        if (h.timeline() != name.timeline() || h.firstLsn() != name.firstLsn() || h.lastLsn() != name.lastLsn()
                || h.entryCount() != h.lastLsn() - h.firstLsn() + 1) {
            throw new CorruptObjectException(key, "header says timeline " + h.timeline() + " LSN " + Lsn.format(h.firstLsn())
                    + ".." + Lsn.format(h.lastLsn()) + " in " + h.entryCount() + " entries, which its key contradicts");
        }
        List<WalEntry> entries = new ArrayList<>(raw.size());
        long expect = h.firstLsn();
        for (byte[] r : raw) {
            WalEntry e;
            try {
                e = EntryCodec.decode(r);
            } catch (IntegrityException x) {
                throw new CorruptObjectException(key, x.getMessage(), x);
            }
            if (e.lsn() != expect) {
                throw new CorruptObjectException(key, "holds LSN " + Lsn.format(e.lsn()) + " where LSN "
                        + Lsn.format(expect) + " belongs");
            }
            if (e.timeline() != h.timeline()) {
                throw new CorruptObjectException(key, "entry at LSN " + Lsn.format(e.lsn()) + " is on timeline "
                        + e.timeline() + ", the segment on " + h.timeline());
            }
            entries.add(e);
            expect++;
        }
        return new Decoded(h, entries, bytes.length);
    }

    @Override
    public void close() {
        segments.close();
    }
}
