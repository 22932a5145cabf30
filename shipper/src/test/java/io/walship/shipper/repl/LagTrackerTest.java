package io.walship.shipper.repl;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Lag in time as pg_stat_replication measures it, with the leader's clock given by the test. */
class LagTrackerTest {
    @Test
    void lagIsNowMinusTheSendTimeOfTheNewestFrameAPositionReached() {
        LagTracker t = new LagTracker();
        assertEquals(-1, t.lagMillis(LagTracker.WRITE), "nothing measured yet");
        t.sent(10, 1_000_000);
        t.sent(20, 1_005_000);
        t.sent(30, 1_010_000);
        // written up to 20 at t = 1.012 s: the frame that ended at 20 left at 1.005 s
        t.reported(LagTracker.WRITE, 20, 1_010_000, 1_012_000);
        assertEquals(7, t.lagMillis(LagTracker.WRITE));
        assertEquals(-1, t.lagMillis(LagTracker.FLUSH), "positions are measured separately");
        // flushed up to 15: reached only the frame that ended at 10
        t.reported(LagTracker.FLUSH, 15, 1_010_000, 1_020_000);
        assertEquals(20, t.lagMillis(LagTracker.FLUSH));
        // applied nothing new: no sample reached, the lag stays unmeasured
        t.reported(LagTracker.REPLAY, 5, 1_010_000, 1_020_000);
        assertEquals(-1, t.lagMillis(LagTracker.REPLAY));
    }

    @Test
    void aCaughtUpIdleFollowerShowsTheKeepaliveRoundTripNotItsLastLag() {
        LagTracker t = new LagTracker();
        t.sent(10, 1_000_000);
        t.reported(LagTracker.REPLAY, 10, 1_000_000, 1_500_000); // applied half a second after the send
        assertEquals(500, t.lagMillis(LagTracker.REPLAY));
        // idle: a keepalive sent at 5.000 s is answered at 5.002 s, everything applied
        t.reported(LagTracker.REPLAY, 10, 5_000_000, 5_002_000);
        assertEquals(2, t.lagMillis(LagTracker.REPLAY));
        // a follower still behind keeps its measured lag even when it echoes a keepalive
        t.sent(20, 6_000_000);
        t.reported(LagTracker.REPLAY, 10, 6_500_000, 6_501_000);
        assertEquals(2, t.lagMillis(LagTracker.REPLAY));
        t.reported(LagTracker.REPLAY, 20, 6_500_000, 7_000_000);
        assertEquals(500, t.lagMillis(LagTracker.REPLAY), "min(now - send of LSN 20, now - echo)");
    }

    @Test
    void samplesAreBoundedAndTheOldestGoFirst() {
        LagTracker t = new LagTracker();
        for (int i = 1; i <= LagTracker.MAX_SAMPLES + 100; i++) {
            t.sent(i, i * 1000L);
        }
        // LSN 50's sample was dropped; reaching it measures nothing, reaching 150 measures against 150
        t.reported(LagTracker.WRITE, 50, 0, 1_000_000);
        assertEquals(-1, t.lagMillis(LagTracker.WRITE));
        t.reported(LagTracker.WRITE, 150, 0, 1_000_000);
        assertEquals((1_000_000 - 150_000) / 1000, t.lagMillis(LagTracker.WRITE));
    }
}
