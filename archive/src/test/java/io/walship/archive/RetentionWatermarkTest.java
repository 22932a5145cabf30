package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The retention watermark (docs/FORMAT.md "Retention watermarks"): golden bytes, key, scan, immutability. */
class RetentionWatermarkTest {
    static final ArchiveLayout.WatermarkName NAME = new ArchiveLayout.WatermarkName(2, 0xA41F4L);

    @TempDir
    Path tmp;

    @Test
    void theGoldenWatermarkReadsAndWritesTheSameBytes() throws Exception {
        byte[] bytes;
        try (InputStream in = RetentionWatermarkTest.class.getResourceAsStream("/golden/retention-watermark-v1.json")) {
            bytes = in.readAllBytes();
        }
        assertEquals(RetentionWatermark.of(NAME), RetentionWatermark.read(new ByteArrayInputStream(bytes), NAME.key()));
        assertArrayEquals(bytes, RetentionWatermark.of(NAME).toJson(), "the writer must keep producing the documented"
                + " bytes:\n" + new String(RetentionWatermark.of(NAME).toJson(), StandardCharsets.UTF_8));
        assertEquals("retention/00000002-00000000000A41F4.json", NAME.key());
        assertEquals(NAME, ArchiveLayout.parseWatermark(NAME.key()).orElseThrow());
        assertFalse(ArchiveLayout.isMutable(NAME.key()), "a watermark is never replaced");
        assertTrue(ArchiveLayout.parseWatermark("retention/00000000-00000000000A41F4.json").isEmpty(), "timeline 0");
        assertTrue(ArchiveLayout.parseWatermark("retention/00000002-00000000000a41f4.json").isEmpty(), "lower case");
        ArchiveLayout.WatermarkName other = new ArchiveLayout.WatermarkName(2, 0xA41F5L);
        assertThrows(CorruptObjectException.class, () -> RetentionWatermark.read(new ByteArrayInputStream(bytes), other.key()));
        assertThrows(CorruptObjectException.class, () -> RetentionWatermark.read(new ByteArrayInputStream(
                new String(bytes, StandardCharsets.UTF_8).replace("\"formatVersion\" : 1", "\"formatVersion\" : 2")
                        .getBytes(StandardCharsets.UTF_8)), NAME.key()));
    }

    @Test
    void theScanKeepsTheHighestSoundWatermarkPerTimelineAndReportsCorruptOnes() {
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            RetentionWatermark.create(a, NAME);
            RetentionWatermark.create(a, NAME); // a rerun of an interrupted prune finds the same object
            RetentionWatermark.create(a, new ArchiveLayout.WatermarkName(2, 0x100L));
            RetentionWatermark.create(a, new ArchiveLayout.WatermarkName(1, 0x50L));
            // a higher one of timeline 1 whose content names another key: corrupt, it excuses nothing
            a.create(new ArchiveLayout.WatermarkName(1, 0x90000L).key(),
                    new ByteArrayInputStream(RetentionWatermark.of(new ArchiveLayout.WatermarkName(1, 0x90001L)).toJson()));
            RetentionWatermark.Scan s = RetentionWatermark.scan(a);
            assertEquals(0xA41F4L, s.windowStart(2));
            assertEquals(0x50L, s.windowStart(1), "the corrupt one does not count");
            assertEquals(0L, s.windowStart(3));
            assertTrue(s.pruned(2, 0xA41F3L));
            assertFalse(s.pruned(2, 0xA41F4L), "the window start itself is kept");
            assertEquals(1, s.corrupt().size());
            assertEquals(new ArchiveLayout.WatermarkName(1, 0x90000L).key(), s.corrupt().get(0).key());
            assertEquals(4, RetentionWatermark.listNames(a).size());
        }
    }

    /**
     * A gap on a path is excused piece by piece: on the stretch timeline 2's path shares with timeline 1 (below the
     * fork at 100) timeline 1's watermark counts; on timeline 2's own WAL only timeline 2's does; a piece of timeline
     * 1 past the fork (not on 2's path) does not borrow 2's.
     */
    @Test
    void aSharedStretchCountsTheOtherTimelinesWatermark() {
        java.util.Map<Integer, java.util.List<TimelineHistory.Span>> ancestries = java.util.Map.of(
                1, java.util.List.of(new TimelineHistory.Span(1, 1, Long.MAX_VALUE)),
                2, java.util.List.of(new TimelineHistory.Span(1, 1, 100), new TimelineHistory.Span(2, 101, Long.MAX_VALUE)));
        RetentionWatermark.Scan only1 = new RetentionWatermark.Scan(java.util.Map.of(1, 150L), java.util.List.of(),
                java.util.List.of(new ArchiveLayout.WatermarkName(1, 150)));
        assertEquals(java.util.OptionalLong.of(150), only1.prunedBelow(2, new ArchiveListing.Range(40, 90), ancestries));
        assertTrue(only1.prunedBelow(2, new ArchiveListing.Range(40, 120), ancestries).isEmpty(),
                "timeline 2's own WAL at 101..120 has no watermark");
        assertEquals(java.util.OptionalLong.of(150), only1.prunedBelow(1, new ArchiveListing.Range(40, 120), ancestries));
        RetentionWatermark.Scan only2 = new RetentionWatermark.Scan(java.util.Map.of(2, 150L), java.util.List.of(),
                java.util.List.of(new ArchiveLayout.WatermarkName(2, 150)));
        assertEquals(java.util.OptionalLong.of(150), only2.prunedBelow(2, new ArchiveListing.Range(40, 120), ancestries));
        assertEquals(java.util.OptionalLong.of(150), only2.prunedBelow(1, new ArchiveListing.Range(40, 90), ancestries),
                "below the fork timeline 1's WAL is on timeline 2's path");
        assertTrue(only2.prunedBelow(1, new ArchiveListing.Range(90, 120), ancestries).isEmpty(),
                "timeline 1's WAL past the fork is not on timeline 2's path");
        RetentionWatermark.Scan both = new RetentionWatermark.Scan(java.util.Map.of(1, 60L, 2, 150L), java.util.List.of(),
                java.util.List.of());
        assertTrue(both.prunedBelow(2, new ArchiveListing.Range(40, 70), ancestries).isPresent(), "2's covers it");
        assertTrue(both.prunedBelow(1, new ArchiveListing.Range(40, 120), ancestries).isEmpty(),
                "only 1's (60) counts past the fork");
    }

    /** The watermark reader is strict: trailing content and values of the wrong JSON type are a corrupt object. */
    @Test
    void aWatermarkWithTrailingContentOrWrongTypesIsCorrupt() {
        String good = new String(RetentionWatermark.of(NAME).toJson(), StandardCharsets.UTF_8);
        assertEquals(RetentionWatermark.of(NAME), RetentionWatermark.read(new ByteArrayInputStream(
                good.getBytes(StandardCharsets.UTF_8)), NAME.key()));
        for (String bad : new String[] {
                good + " {}",
                good + " garbage",
                good.replace("\"timeline\" : 2", "\"timeline\" : \"2\""),
                good.replace("\"formatVersion\" : 1", "\"formatVersion\" : \"1\""),
                good.replace("\"formatVersion\" : 1", "\"formatVersion\" : 1.0"),
                good.replace("\"windowStart\" : \"00000000000A41F4\"", "\"windowStart\" : 672244"),
                good.replace("\"timeline\" : 2", "\"timeline\" : null")}) {
            assertTrue(!bad.equals(good), "the test's replacement must apply: " + bad);
            assertThrows(CorruptObjectException.class, () -> RetentionWatermark.read(new ByteArrayInputStream(
                    bad.getBytes(StandardCharsets.UTF_8)), NAME.key()), bad);
        }
    }

    /**
     * "Every byte is checked" (ArchiveJson.STRICT) but a field given twice is read as its last value: a watermark
     * saying timeline 9 and then timeline 2 reads as sound under the key of timeline 2. Harmless for what excuses
     * (the key), but it is not the strict reading FORMAT.md promises; STRICT_DUPLICATE_DETECTION would refuse it.
     */
    @Test
    void aWatermarkWithAFieldTwiceIsCorrupt() {
        byte[] doubled = ("{\"formatVersion\":1,\"timeline\":9,\"timeline\":2,\"windowStart\":\"00000000000A41F4\"}")
                .getBytes(StandardCharsets.UTF_8);
        assertThrows(CorruptObjectException.class, () -> RetentionWatermark.read(new ByteArrayInputStream(doubled),
                NAME.key()));
    }
}
