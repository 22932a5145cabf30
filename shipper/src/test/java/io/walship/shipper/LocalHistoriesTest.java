package io.walship.shipper;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.file.Path;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ObjectStore;
import io.walship.archive.TimelineHistory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link LocalHistories#ensure}: the archive gets the data directory's records it lacks, keeps the ones it holds for
 * the same fork, and is refused (a splice) when it holds a claim of the timeline forked elsewhere.
 */
class LocalHistoriesTest {
    @TempDir
    Path tmp;

    private static TimelineHistory claim(String forkLsn, String fork) {
        return new TimelineHistory(1, 2, 1, forkLsn, "2026-12-05T20:00:00Z", "2026-12-05T20:01:00Z",
                "restore --promote to the end of the archive", TimelineHistory.OFFLINE, fork);
    }

    @Test
    void aMissingRecordIsUploadedTheSameOnePassesOneForkedElsewhereIsASplice() throws Exception {
        Path data = tmp.resolve("data");
        TimelineHistory mine = claim("0000000000000040", TimelineHistory.FORK_END);
        LocalHistories.save(data, mine);
        try (ObjectStore a = new LocalObjectStore(tmp.resolve("a")); ObjectStore b = new LocalObjectStore(tmp.resolve("b"))) {
            LocalHistories.ensure(a, data, 2); // absent: uploaded
            assertEquals(mine, TimelineHistory.readOne(a, 2));
            assertDoesNotThrow(() -> LocalHistories.ensure(a, data, 2), "the same claim");
            b.create(ArchiveLayout.historyKey(2), new ByteArrayInputStream(claim("0000000000000030", null).toJson()));
            ArchiveSpliceException e = assertThrows(ArchiveSpliceException.class, () -> LocalHistories.ensure(b, data, 2));
            assertTrue(e.getMessage().contains("holds another history for timeline 2"), e.getMessage());
        }
    }
}
