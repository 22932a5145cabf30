package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

/**
 * {@code timelines/T.history} as docs/FORMAT.md ("Timeline history") shows it. A record written before the
 * {@code promotion} field existed keeps reading and writes back byte for byte (the data directory's copy is written
 * from the parsed record, LocalHistories), its kind inferred from {@code reason}; a record with the field reads
 * with a reader that does not know it (an older walship: unknown fields are ignored).
 */
class TimelineHistoryGoldenTest {
    static final TimelineHistory OLD = new TimelineHistory(1, 2, 1, "000000000000003D", "2026-11-30T09:15:02.123456Z",
            "2026-11-30T09:20:11.407Z", "restore --promote to the end of the archive");
    static final TimelineHistory LIVE = new TimelineHistory(1, 3, 1, "0000000000000040", "2026-11-30T09:21:40.5Z",
            "2026-11-30T09:21:52.031Z", "live promotion of db2.example:/srv/walship at LSN 0000000000000040",
            TimelineHistory.LIVE);

    static final TimelineHistory END = new TimelineHistory(1, 2, 1, "000000000000003D", "2026-11-30T09:15:02.123456Z",
            "2026-12-05T20:01:11.407Z", "restore --promote to the end of the archive", TimelineHistory.OFFLINE,
            TimelineHistory.FORK_END);

    private static byte[] golden(String name) throws Exception {
        try (InputStream in = TimelineHistoryGoldenTest.class.getResourceAsStream("/golden/" + name)) {
            return in.readAllBytes();
        }
    }

    private static TimelineHistory read(byte[] b, int timeline) {
        return TimelineHistory.read(new ByteArrayInputStream(b), ArchiveLayout.historyKey(timeline));
    }

    @Test
    void aRecordWithoutThePromotionFieldReadsAndWritesTheSameBytes() throws Exception {
        byte[] bytes = golden("timeline-history-v1.json");
        TimelineHistory h = read(bytes, 2);
        assertEquals(OLD, h);
        assertNull(h.promotion());
        assertFalse(h.live(), "reason restore --promote …: an offline promotion's claim");
        assertArrayEquals(bytes, h.toJson(), "no promotion field is added to an old record:\n"
                + new String(h.toJson(), StandardCharsets.UTF_8));
    }

    @Test
    void aLiveRecordReadsAndWritesTheSameBytes() throws Exception {
        byte[] bytes = golden("timeline-history-live-v1.json");
        assertEquals(LIVE, read(bytes, 3));
        assertTrue(LIVE.live());
        assertArrayEquals(bytes, LIVE.toJson(), "the writer must keep producing the documented bytes:\n"
                + new String(LIVE.toJson(), StandardCharsets.UTF_8));
    }

    /** A copy restored to the end of the archive: {@code "fork": "end"}, which the lease take checks (LeaderLease). */
    @Test
    void aCopyRestoredToTheEndSaysSoAndReadsAndWritesTheSameBytes() throws Exception {
        byte[] bytes = golden("timeline-history-offline-end-v1.json");
        TimelineHistory h = read(bytes, 2);
        assertEquals(END, h);
        assertTrue(h.forkedAtArchiveEnd());
        assertFalse(h.live());
        assertArrayEquals(bytes, END.toJson(), "the writer must keep producing the documented bytes:\n"
                + new String(END.toJson(), StandardCharsets.UTF_8));
        assertFalse(LIVE.forkedAtArchiveEnd());
        assertFalse(OLD.forkedAtArchiveEnd(), "a record written before the field is not checked");
        assertFalse(new String(LIVE.toJson(), StandardCharsets.UTF_8).contains("fork\""), "absent: not written");
        OlderWalshipHistory older = ArchiveJson.read(new ByteArrayInputStream(bytes), OlderWalshipHistory.class,
                ArchiveLayout.historyKey(2), "timeline history");
        assertEquals(END.reason(), older.reason(), "an older walship ignores the field");
    }

    /** The record as walship wrote and read it before the field: it must read a new record. */
    record OlderWalshipHistory(int formatVersion, int timeline, int parent, String forkLsn, String forkTime,
                               String createdAt, String reason) {
    }

    @Test
    void anOlderReaderIgnoresThePromotionField() throws Exception {
        OlderWalshipHistory h = ArchiveJson.read(new ByteArrayInputStream(golden("timeline-history-live-v1.json")),
                OlderWalshipHistory.class, ArchiveLayout.historyKey(3), "timeline history");
        assertEquals(new OlderWalshipHistory(1, 3, 1, "0000000000000040", "2026-11-30T09:21:40.5Z",
                "2026-11-30T09:21:52.031Z", LIVE.reason()), h);
    }

    @Test
    void withoutTheFieldTheReasonSaysWhichKindOfPromotionClaimed() {
        assertFalse(withReason("restore --promote to LSN 0000000000000040").live());
        assertFalse(withReason("restore --promote to the end of the archive").live());
        assertFalse(withReason("promote at LSN 0000000000000040").live(), "walship promote --data");
        assertTrue(withReason("live promotion of f1 at LSN 0000000000000040").live());
        assertTrue(withReason("anything else").live(), "in doubt: live (a live promotion refuses to pass over it)");
        assertTrue(withReason(null).live());
        // the field, when there, decides; an unknown value is live
        assertFalse(with("live promotion of f1", TimelineHistory.OFFLINE).live());
        assertTrue(with("restore --promote to x", TimelineHistory.LIVE).live());
        assertTrue(with("restore --promote to x", "something newer").live());
    }

    private static TimelineHistory withReason(String reason) {
        return new TimelineHistory(1, 2, 1, "0000000000000040", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", reason);
    }

    private static TimelineHistory with(String reason, String promotion) {
        return new TimelineHistory(1, 2, 1, "0000000000000040", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", reason,
                promotion);
    }
}
