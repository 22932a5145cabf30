package io.walship.archive;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * What an archive holds, rebuilt from one listing (there is no index to trust or lose): WAL
 * segments per timeline with the LSN ranges they cover and the gaps between them, base backups
 * (only those whose manifest exists), timeline histories, and total bytes. Immutable.
 */
public final class ArchiveListing {
    /** A segment as listed. */
    public record SegmentInfo(ArchiveLayout.SegmentName name, long size) {
    }

    /** A contiguous run of LSNs covered by segments. */
    public record Range(long firstLsn, long lastLsn) {
    }

    /** A base backup with a manifest. */
    public record BackupInfo(ArchiveLayout.BackupName name, long bytes) {
    }

    private final Map<Integer, List<SegmentInfo>> segments;
    private final List<BackupInfo> backups;
    private final Set<Integer> histories;
    private final List<ObjectInfo> orphans;
    private final Set<ArchiveLayout.BackupName> pins;
    private final List<ObjectInfo> legacyPruned;
    private final long totalBytes;

    private ArchiveListing(Map<Integer, List<SegmentInfo>> segments, List<BackupInfo> backups, Set<Integer> histories,
                           List<ObjectInfo> orphans, Set<ArchiveLayout.BackupName> pins,
                           List<ObjectInfo> legacyPruned, long totalBytes) {
        this.pins = pins;
        this.legacyPruned = legacyPruned;
        this.segments = segments;
        this.backups = backups;
        this.histories = histories;
        this.orphans = orphans;
        this.totalBytes = totalBytes;
    }

    public static ArchiveListing of(ObjectStore store) {
        Map<Integer, List<SegmentInfo>> segs = new TreeMap<>();
        java.util.Comparator<ArchiveLayout.BackupName> order =
                java.util.Comparator.comparingInt(ArchiveLayout.BackupName::timeline).thenComparingLong(ArchiveLayout.BackupName::lsn);
        Map<ArchiveLayout.BackupName, long[]> backupBytes = new TreeMap<>(order);
        Map<ArchiveLayout.BackupName, List<ObjectInfo>> backupObjects = new TreeMap<>(order);
        Set<ArchiveLayout.BackupName> withManifest = new TreeSet<>(order);
        Set<Integer> histories = new TreeSet<>();
        Set<ArchiveLayout.BackupName> pins = new TreeSet<>(order);
        List<ObjectInfo> legacyPruned = new ArrayList<>();
        long total = 0;
        for (ObjectInfo o : store.list("", null)) {
            total += o.size();
            var seg = ArchiveLayout.parseSegment(o.key());
            if (seg.isPresent()) {
                segs.computeIfAbsent(seg.get().timeline(), t -> new ArrayList<>()).add(new SegmentInfo(seg.get(), o.size()));
                continue;
            }
            var backup = ArchiveLayout.parseBackup(o.key());
            if (backup.isPresent()) {
                backupBytes.computeIfAbsent(backup.get(), b -> new long[1])[0] += o.size();
                backupObjects.computeIfAbsent(backup.get(), b -> new ArrayList<>()).add(o);
                if (ArchiveLayout.isManifest(o.key())) {
                    withManifest.add(backup.get());
                }
                continue;
            }
            var pin = ArchiveLayout.parsePin(o.key());
            if (pin.isPresent()) {
                pins.add(pin.get());
                continue;
            }
            if (o.key().startsWith(ArchiveLayout.LEGACY_PRUNED)) {
                legacyPruned.add(o);
                continue;
            }
            // retention/ (watermarks) is not taken from this listing: whoever needs them lists them afterwards
            ArchiveLayout.parseHistory(o.key()).ifPresent(histories::add);
        }
        List<BackupInfo> backups = new ArrayList<>();
        List<ObjectInfo> orphans = new ArrayList<>();
        backupBytes.forEach((name, bytes) -> {
            if (withManifest.contains(name)) {
                backups.add(new BackupInfo(name, bytes[0]));
            } else {
                orphans.addAll(backupObjects.get(name));
            }
        });
        segs.values().forEach(l -> l.sort(java.util.Comparator.comparingLong(s -> s.name().firstLsn())));
        return new ArchiveListing(segs, List.copyOf(backups), histories, List.copyOf(orphans),
                java.util.Collections.unmodifiableSet(pins), List.copyOf(legacyPruned), total);
    }

    public Set<Integer> timelines() {
        Set<Integer> t = new TreeSet<>(segments.keySet());
        backups.forEach(b -> t.add(b.name().timeline()));
        t.addAll(histories);
        return t;
    }

    public List<SegmentInfo> segments(int timeline) {
        return segments.getOrDefault(timeline, List.of());
    }

    /** The LSN ranges the timeline's segments cover, merged where they touch or overlap. */
    public List<Range> coverage(int timeline) {
        List<Range> out = new ArrayList<>();
        for (SegmentInfo s : segments(timeline)) {
            long f = s.name().firstLsn();
            long l = s.name().lastLsn();
            if (!out.isEmpty() && f <= out.get(out.size() - 1).lastLsn() + 1) {
                Range last = out.remove(out.size() - 1);
                out.add(new Range(last.firstLsn(), Math.max(last.lastLsn(), l)));
            } else {
                out.add(new Range(f, l));
            }
        }
        return out;
    }

    /** The missing LSN ranges between covered ranges of a timeline. */
    public List<Range> gaps(int timeline) {
        List<Range> cov = coverage(timeline);
        List<Range> out = new ArrayList<>();
        for (int i = 1; i < cov.size(); i++) {
            out.add(new Range(cov.get(i - 1).lastLsn() + 1, cov.get(i).firstLsn() - 1));
        }
        return out;
    }

    /** The last LSN archived on a timeline (the end of its last segment), or 0 if none. */
    public long lastArchivedLsn(int timeline) {
        List<SegmentInfo> s = segments(timeline);
        return s.isEmpty() ? 0 : s.stream().mapToLong(x -> x.name().lastLsn()).max().orElse(0);
    }

    /** Timelines that have a history record ({@code timelines/T.history}). */
    public Set<Integer> histories() {
        return histories;
    }

    public List<BackupInfo> backups() {
        return backups;
    }

    /**
     * Backups that have a pin object ({@code pins/T-L.json}; {@link BackupPin}), in timeline and LSN
     * order; a pin may outlive its backup if the backup was deleted by hand.
     */
    public Set<ArchiveLayout.BackupName> pins() {
        return pins;
    }

    public boolean pinned(ArchiveLayout.BackupName backup) {
        return pins.contains(backup);
    }

    /**
     * Objects under {@code pruned/}: pruned-WAL records of the previous walship, replaced by retention
     * watermarks ({@link RetentionWatermark}); they mean nothing now, and the next prune deletes them.
     */
    public List<ObjectInfo> legacyPruned() {
        return legacyPruned;
    }

    /**
     * Objects of backups that never got a manifest (a backup that crashed or is still being
     * uploaded): they do not exist for restore; retention may delete them once they are old.
     */
    public List<ObjectInfo> orphanBackupObjects() {
        return orphans;
    }

    public long totalBytes() {
        return totalBytes;
    }
}
