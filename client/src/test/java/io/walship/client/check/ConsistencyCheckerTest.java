package io.walship.client.check;

import static io.walship.client.check.History.Op.delete;
import static io.walship.client.check.History.Op.put;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import io.walship.client.check.ConsistencyChecker.Kind;
import io.walship.client.check.ConsistencyChecker.Report;
import io.walship.client.check.ConsistencyChecker.Violation;
import org.junit.jupiter.api.Test;

/** The checker itself, on hand-made histories: a correct one passes, each kind of broken one is flagged as such. */
class ConsistencyCheckerTest {
    private static final String L = "leader";
    private static final String F = "follower";

    /** Session 1 writes k=a1 at 5; session 2 writes k=b2 at 3 before; both read. */
    private static History correct() {
        History h = new History();
        h.session(2).wrote(List.of(put("k", "b2")), 3);
        h.session(1).wrote(List.of(put("k", "a1"), put("j", "a1j")), 5)
                .read("k", "a1", 5, 5, F)
                .read("j", "a1j", 5, 6, F)
                .read("x", null, 6, 6, F);
        h.session(2).read("k", "b2", 3, 4, F) // an old state but not older than session 2 saw
                .read("k", "a1", 4, 5, F)
                .wrote(List.of(delete("k")), 6)
                .read("k", null, 6, 6, L);
        return h;
    }

    private static Set<Kind> kinds(Report r) {
        return r.violations().stream().map(Violation::kind).collect(Collectors.toSet());
    }

    @Test
    void aCorrectHistoryPasses() {
        Report r = ConsistencyChecker.check(correct());
        assertTrue(r.ok(), r.summary());
        assertEquals(2, r.sessions());
        assertEquals(3, r.writes());
        assertEquals(6, r.reads());
        assertEquals(5, r.readYourWritesChecks(), r.summary());
        assertEquals(2, r.monotonicChecks(), r.summary());
        assertEquals(5, r.readsByNode().get(F));
        assertTrue(r.summary().contains("no violations"), r.summary());
    }

    @Test
    void aStaleReadAfterTheSessionsOwnWriteIsFlagged() {
        History h = new History();
        h.session(2).wrote(List.of(put("k", "b2")), 3);
        // session 1 wrote k=a1 at 5 and then reads b2 (written at 3) from a node claiming LSN 7:
        // the LSNs look fine, the versions do not
        h.session(1).wrote(List.of(put("k", "a1")), 5).read("k", "b2", 5, 7, F);
        Report r = ConsistencyChecker.check(h);
        assertEquals(Set.of(Kind.READ_YOUR_WRITES, Kind.WRONG_STATE), kinds(r), r.summary());
        Violation ryw = r.violations().stream().filter(v -> v.kind() == Kind.READ_YOUR_WRITES).findFirst().orElseThrow();
        assertEquals(1, ryw.session());
        assertEquals(1, ryw.seq());
        assertEquals("read of 'k' at LSN 7 by follower returned 'b2' (version 3), older than the session's own write at LSN 5",
                ryw.detail());

        // a stale absent: session 2 deleted k at 6, then sees it back
        History h2 = correct();
        h2.session(2).read("k", "a1", 6, 6, F);
        Report r2 = ConsistencyChecker.check(h2);
        assertTrue(kinds(r2).contains(Kind.READ_YOUR_WRITES), r2.summary());
    }

    @Test
    void aNonMonotonicReadIsFlagged() {
        // session 2 had seen LSN 6, then reads j from a node at LSN 4
        History h = correct();
        h.session(2).read("j", "a1j", 6, 4, F);
        Report r = ConsistencyChecker.check(h);
        assertEquals(Set.of(Kind.MONOTONIC_READS, Kind.WRONG_STATE), kinds(r), r.summary());
        assertTrue(r.violations().get(0).detail().contains("after the session had seen LSN 6"), r.summary());

        // a value older than one the session already read, at an LSN that did not go back
        History h2 = new History();
        h2.session(9).wrote(List.of(put("k", "v1")), 1);
        h2.session(8).wrote(List.of(put("k", "v2")), 2);
        h2.session(7).read("k", "v2", 0, 2, F).read("k", "v1", 2, 2, F);
        Report r2 = ConsistencyChecker.check(h2);
        assertEquals(1, r2.count(Kind.MONOTONIC_READS), r2.summary());
        assertEquals(0, r2.count(Kind.READ_YOUR_WRITES), "session 7 wrote nothing");
        assertTrue(r2.violations().stream().anyMatch(v -> v.kind() == Kind.MONOTONIC_READS
                && v.detail().endsWith("older than the version of LSN 2 the session had read")), r2.summary());
    }

    @Test
    void aValueNobodyWroteAndAReadFromTheFutureAreFlagged() {
        History h = correct();
        h.session(1).read("k", "zzz", 6, 6, F);
        assertEquals(Set.of(Kind.PHANTOM_VALUE), kinds(ConsistencyChecker.check(h)));

        History future = new History();
        future.session(1).wrote(List.of(put("k", "v1")), 1).read("k", "v1", 1, 1, F);
        future.session(2).wrote(List.of(put("k", "v9")), 9);
        future.session(3).read("k", "v9", 0, 2, F); // v9 was written at 9, not visible at 2
        assertEquals(Set.of(Kind.WRONG_STATE), kinds(ConsistencyChecker.check(future)));
    }

    @Test
    void writesShareNoLsnAndASessionsWritesMoveForward() {
        History h = new History();
        h.session(1).wrote(List.of(put("a", "1")), 5);
        h.session(2).wrote(List.of(put("b", "2")), 5);
        Report r = ConsistencyChecker.check(h);
        assertEquals(1, r.count(Kind.WRITE_ORDER), r.summary());

        // a delete that changed nothing carries the LSN current then: shared, and not above the session's
        History noop = new History();
        noop.session(1).wrote(List.of(put("a", "1")), 5).read("a", "1", 5, 5, F).wrote(List.of(delete("zz")), 5);
        noop.session(2).wrote(List.of(delete("b"), delete("c")), 5).read("b", null, 5, 5, F);
        Report rn = ConsistencyChecker.check(noop);
        assertTrue(rn.ok(), rn.summary());
        // ... but it cannot say "absent" of a key the write at that LSN put
        noop.session(3).wrote(List.of(delete("a")), 5);
        Report contradiction = ConsistencyChecker.check(noop);
        assertEquals(Set.of(Kind.WRITE_ORDER), kinds(contradiction), contradiction.summary());

        History back = new History();
        back.session(2).wrote(List.of(put("b", "2")), 3);
        back.session(1).wrote(List.of(put("a", "1")), 4).read("b", "2", 4, 4, F).wrote(List.of(put("a", "3")), 2);
        Report rb = ConsistencyChecker.check(back);
        assertEquals(Set.of(Kind.WRITE_ORDER), kinds(rb), rb.summary());
    }

    @Test
    void aKeyWithAnUnknownWriteIsJudgedByLsnOnly() {
        History h = correct();
        h.session(3).wroteUnknown(List.of(put("k", "maybe")), "no answer");
        h.session(1).read("k", "maybe", 6, 7, F).readFailed("k", "every node refused");
        Report r = ConsistencyChecker.check(h);
        assertTrue(r.ok(), r.summary());
        assertEquals(1, r.unknownWrites());
        assertEquals(1, r.failedReads());
        assertEquals(3 + 1 + 1, r.unjudgedReads(), "every read of k");

        h.session(1).read("k", "maybe", 6, 5, F);
        assertEquals(Set.of(Kind.MONOTONIC_READS), kinds(ConsistencyChecker.check(h)));
    }

    @Test
    void valuesMustBeUniquePerKey() {
        History h = new History();
        h.session(1).wrote(List.of(put("k", "same")), 1).wrote(List.of(put("k", "same")), 2);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ConsistencyChecker.check(h));
        assertTrue(e.getMessage().contains("unique values per key"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }
}
