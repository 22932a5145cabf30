package io.walship.shipper;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;

import java.io.ByteArrayInputStream;
import java.nio.file.Path;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ObjectStore;
import io.walship.archive.TimelineHistory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review rev39 of pastfork (518e084a): {@link LocalHistories#ensure} calls any record that differs from the data
 * directory's another history. Two copies of ONE claim differ as records when one was saved by a walship that did not
 * know a field yet: it reads the archive's record (unknown fields are dropped, ArchiveJson) and saves that into
 * DATA/timelines — main's shipper does so for {@code fork} (docs/FORMAT.md says older versions ignore it), a
 * walship before f87d0ab5 for {@code promotion}. A mixed-version fleet or a rollback then re-upgrade leaves such a copy;
 * every ship run to the healthy archive then fails with ArchiveSpliceException (ShipLoop stops for good, a leader
 * is SUPERSEDED).
 */
class LocalHistoriesReview39Test {
    @TempDir
    Path tmp;

    private void sameClaim(String name, TimelineHistory inArchive, TimelineHistory savedByOlder) throws Exception {
        Path data = tmp.resolve(name);
        LocalHistories.save(data, savedByOlder);
        try (ObjectStore archive = new LocalObjectStore(tmp.resolve(name + "-archive"))) {
            archive.create(ArchiveLayout.historyKey(2), new ByteArrayInputStream(inArchive.toJson()));
            assertDoesNotThrow(() -> LocalHistories.ensure(archive, data, 2), name + ": one claim, two copies");
        }
    }

    @Test
    void aCopyOfTheSameClaimSavedByAnOlderWalshipIsNotAnotherHistory() {
        TimelineHistory end = new TimelineHistory(1, 2, 1, "0000000000000040", "2026-12-05T20:00:00Z",
                "2026-12-05T20:01:00.123456Z", "restore --promote to the end of the archive", TimelineHistory.OFFLINE,
                TimelineHistory.FORK_END);
        TimelineHistory live = new TimelineHistory(1, 2, 1, "0000000000000040", "2026-12-05T20:00:00Z",
                "2026-12-05T20:01:00.123456Z", "live promotion of n2 at LSN 0000000000000040", TimelineHistory.LIVE);
        assertAll(
                () -> sameClaim("fork", end, new TimelineHistory(1, 2, 1, end.forkLsn(), end.forkTime(), end.createdAt(),
                        end.reason(), end.promotion())),
                () -> sameClaim("promotion", live, new TimelineHistory(1, 2, 1, live.forkLsn(), live.forkTime(),
                        live.createdAt(), live.reason())));
    }
}
