package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.time.Duration;
import java.util.OptionalLong;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code marks/sync-acked} is updated in place on every acknowledged sync commit, unsynced on that
 * path (a sync per ack would cost semi-sync its throughput). After the last acknowledgement of a
 * burst no further write comes to sync it, so unless something else does, it reaches the disk only
 * when the kernel writes the page back (30 s by default, unbounded by walship): a power loss in
 * that while leaves the mark behind commits the followers acknowledged, and a rejoin of this
 * node could then rewind past them without refusing (docs/OPERATIONS.md, "Rejoin"). The mark must
 * be durable at the last acknowledged LSN within a bounded time with no further acks.
 */
class SyncAckedMarkBoundedLagTest {
    @TempDir
    Path tmp;

    @Test
    void afterTheLastAckOfABurstTheMarkBecomesDurableWithoutFurtherAcks() {
        WalMarks marks = new WalMarks(tmp);
        try {
            marks.setSyncAcked(1); // the first write per open: a synced rename
            for (long lsn = 2; lsn <= 500; lsn++) {
                marks.setSyncAcked(lsn); // in place
            }
            assertEquals(OptionalLong.of(500), new WalMarks(tmp).syncAcked(), "written (page cache)");
            // no further ack: the last one must still reach the disk, within a bound (a deadline far
            // above it, for a loaded machine)
            Poll.until(Duration.ofSeconds(10), () -> marks.syncAckedDurableLsn() == 500,
                    () -> "the mark synced only up to " + marks.syncAckedDurableLsn() + " of 500 acknowledged");
        } finally {
            marks.close();
        }
    }
}
