package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;

import org.junit.jupiter.api.Test;

class ArchiveLayoutTest {
    @Test
    void namesRoundTrip() {
        ArchiveLayout.SegmentName s = new ArchiveLayout.SegmentName(2, 0x1F, 0x2A0);
        assertEquals("wal/00000002/000000000000001F-00000000000002A0.seg", s.key());
        assertEquals(Optional.of(s), ArchiveLayout.parseSegment(s.key()));
        ArchiveLayout.BackupName b = new ArchiveLayout.BackupName(1, 0xABC);
        assertEquals("backups/00000001-0000000000000ABC/manifest.json", b.manifestKey());
        assertEquals("backups/00000001-0000000000000ABC/image.zst", b.imageKey("zst"));
        assertEquals(Optional.of(b), ArchiveLayout.parseBackup(b.imageKey("zst")));
        assertTrue(ArchiveLayout.isManifest(b.manifestKey()));
        assertFalse(ArchiveLayout.isManifest(b.imageKey("zst")));
        assertEquals(Optional.of(3), ArchiveLayout.parseHistory(ArchiveLayout.historyKey(3)));
        assertEquals(Optional.empty(), ArchiveLayout.parseSegment("wal/00000002/1F-2A0.seg"));
        for (String k : new String[] {s.key(), b.manifestKey(), ArchiveLayout.historyKey(3)}) {
            Keys.check(k);
        }
    }

    @Test
    void lexicalOrderIsLsnOrder() {
        List<String> keys = new ArrayList<>();
        long[] firsts = {1, 9, 10, 0xFF, 0x100, 0xFFFF_FFFFL, 0x1_0000_0000L};
        for (long f : firsts) {
            keys.add(new ArchiveLayout.SegmentName(1, f, f + 5).key());
        }
        List<String> sorted = new ArrayList<>(keys);
        Collections.sort(sorted);
        assertEquals(keys, sorted);
    }
}
