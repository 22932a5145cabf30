package io.walship.restorer;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.function.LongFunction;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ArchiveListing;
import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.archive.Segment;

/** Segments written to a test archive, each with the restore step that fetches it. */
public final class TestSegments {
    private TestSegments() {
    }

    /**
     * Writes the segment of timeline 1 holding LSNs {@code first .. first + entries - 1}, entry
     * {@code entry.apply(lsn)} at each (asked in LSN order), committed at 1,000,000 µs × its LSN, and
     * returns the step that fetches it ({@code step.key()}, {@code step.segment().size()}).
     */
    public static RestorePlan.Step write(ObjectStore archive, Codec codec, long first, int entries,
                                         LongFunction<byte[]> entry) throws IOException {
        Segment.Builder seg = new Segment.Builder(Segment.NO_SYSTEM_ID, 1, codec);
        for (long lsn = first; lsn < first + entries; lsn++) {
            seg.add(lsn, 1_000_000L * lsn, entry.apply(lsn));
        }
        byte[] object = seg.build();
        ArchiveLayout.SegmentName name = new ArchiveLayout.SegmentName(1, first, first + entries - 1);
        archive.create(name.key(), new ByteArrayInputStream(object));
        return new RestorePlan.Step(new ArchiveListing.SegmentInfo(name, object.length), first, first + entries - 1);
    }
}
