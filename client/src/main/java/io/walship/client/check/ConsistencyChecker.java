package io.walship.client.check;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;

import io.walship.client.check.History.Event;
import io.walship.client.check.History.FailedRead;
import io.walship.client.check.History.Op;
import io.walship.client.check.History.Read;
import io.walship.client.check.History.UnknownWrite;
import io.walship.client.check.History.Write;

/**
 * Checks a {@link History} of concurrent sessions for the guarantees a session token gives.
 *
 * <p>The acknowledged writes of all sessions form the global write log: for every key, its
 * value at every LSN. A value's <i>version</i> is the LSN that wrote it (an absent key's version
 * is the LSN of the delete it reflects, 0 if it never existed). Then, per session, in its order:
 * <ul>
 *   <li><b>read-your-writes</b>: a read of a key after the session's own write of it at LSN L
 *       returns a version ≥ L (that value, or one written later by anyone);</li>
 *   <li><b>monotonic reads</b>: a read's LSN is not below any LSN the session had seen (its
 *       writes' commit LSNs, earlier reads' LSNs, the token it sent), and a read of a key never
 *       returns a version older than one the session had already read;</li>
 *   <li><b>a read reflects its LSN</b> (consistent prefix): the value equals the key's value in
 *       the global log at the answer's LSN, and is a value somebody wrote;</li>
 *   <li><b>write order</b>: no two acknowledged writes that put values share an LSN, and a
 *       session's write gets an LSN above everything the session had seen (there is one leader,
 *       and its LSNs only grow).</li>
 * </ul>
 * A write that changes nothing (deleting absent keys) makes no WAL entry; the leader acknowledges
 * it with the LSN current at the time, which is another write's. Such a write says its keys were
 * absent at that LSN, and it may share the LSN (not exceed the session's last one).
 * A key touched by a write whose outcome is unknown cannot be judged by value; reads of it count
 * as unjudged (their LSN is still checked). Values must be unique per key (the {@link Workload}
 * makes them so), otherwise a value's version is ambiguous. Stateless.
 */
public final class ConsistencyChecker {
    private ConsistencyChecker() {
    }

    /** The kinds of violation, each a broken guarantee. */
    public enum Kind {
        READ_YOUR_WRITES("a read returned a version older than the session's own earlier write of the key"),
        MONOTONIC_READS("a read went back: an LSN below one the session had seen, or a version older than one it had read"),
        WRONG_STATE("a read's value is not the key's value at the LSN the answer carried"),
        PHANTOM_VALUE("a read returned a value nobody wrote"),
        WRITE_ORDER("two writes acknowledged at one LSN, or a session's write at an LSN not above what it had seen");

        private final String meaning;

        Kind(String meaning) {
            this.meaning = meaning;
        }

        public String meaning() {
            return meaning;
        }
    }

    /** One broken guarantee, at event {@code seq} of session {@code session}. */
    public record Violation(Kind kind, int session, int seq, String detail) {
        @Override
        public String toString() {
            return kind + " session " + session + " #" + seq + ": " + detail;
        }
    }

    /**
     * What a check found.
     *
     * @param sessions             sessions in the history
     * @param writes               acknowledged writes (a batch counts once)
     * @param unknownWrites        writes whose outcome is unknown
     * @param reads                reads recorded (a scan records one per key of its range)
     * @param failedReads          reads that no node served
     * @param unjudgedReads        reads of keys with an unknown write, judged by LSN only
     * @param readYourWritesChecks reads that followed the session's own write of the key
     * @param monotonicChecks      reads that followed an earlier read of the key in the session
     * @param readsByNode          reads per answering node
     * @param violations           everything broken, in session order
     */
    public record Report(int sessions, long writes, long unknownWrites, long reads, long failedReads, long unjudgedReads,
            long readYourWritesChecks, long monotonicChecks, Map<String, Long> readsByNode, List<Violation> violations) {
        public Report {
            readsByNode = Map.copyOf(readsByNode);
            violations = List.copyOf(violations);
        }

        public boolean ok() {
            return violations.isEmpty();
        }

        public long count(Kind kind) {
            return violations.stream().filter(v -> v.kind() == kind).count();
        }

        /** A few lines for a log: the figures, the violations by kind and the first 20 of them. */
        public String summary() {
            StringBuilder sb = new StringBuilder();
            sb.append(sessions).append(" sessions, ").append(writes).append(" writes (").append(unknownWrites)
                    .append(" unknown), ").append(reads).append(" reads (").append(failedReads).append(" failed, ")
                    .append(unjudgedReads).append(" unjudged); ").append(readYourWritesChecks)
                    .append(" read-your-writes checks, ").append(monotonicChecks).append(" monotonic-read checks; reads by node ")
                    .append(new TreeMap<>(readsByNode)).append('\n');
            if (ok()) {
                sb.append("no violations\n");
                return sb.toString();
            }
            Map<Kind, Long> byKind = new EnumMap<>(Kind.class);
            violations.forEach(v -> byKind.merge(v.kind(), 1L, Long::sum));
            sb.append(violations.size()).append(" violations: ").append(byKind).append('\n');
            violations.stream().limit(20).forEach(v -> sb.append("  ").append(v).append('\n'));
            return sb.toString();
        }
    }

    /** Checks {@code history}; see the class comment for what is checked. */
    public static Report check(History history) {
        List<Violation> violations = new ArrayList<>();
        // ---- the global write log ----
        Map<String, NavigableMap<Long, String>> byKey = new HashMap<>();
        Map<String, Map<String, Long>> versionOf = new HashMap<>();
        Set<String> uncertain = new HashSet<>();
        long writes = 0;
        long unknownWrites = 0;
        Map<Long, List<Write>> atLsn = new TreeMap<>();
        for (History.SessionLog log : history.sessions().values()) {
            for (Event e : log.events()) {
                if (e instanceof Write w) {
                    writes++;
                    atLsn.computeIfAbsent(w.lsn(), l -> new ArrayList<>()).add(w);
                } else if (e instanceof UnknownWrite u) {
                    unknownWrites++;
                    u.ops().forEach(op -> uncertain.add(op.key()));
                }
            }
        }
        for (Map.Entry<Long, List<Write>> group : atLsn.entrySet()) {
            long lsn = group.getKey();
            // Only one write makes the entry at an LSN; a write that changed nothing (deleting
            // absent keys) is acknowledged with the LSN current then, which is another's. So an
            // LSN may be shared by at most one write that puts, and the keys the others delete
            // must be absent at it.
            Write putter = null;
            Map<String, String> state = new HashMap<>();
            Map<String, Write> by = new HashMap<>();
            for (Write w : group.getValue()) {
                Map<String, String> net = netEffect(w);
                if (net.values().stream().anyMatch(Objects::nonNull)) {
                    if (putter != null) {
                        violations.add(new Violation(Kind.WRITE_ORDER, w.session(), w.seq(), "acknowledged at LSN "
                                + lsn + ", as was session " + putter.session() + " #" + putter.seq() + " (both wrote values)"));
                        continue;
                    }
                    putter = w;
                }
                for (Map.Entry<String, String> op : net.entrySet()) {
                    if (state.containsKey(op.getKey()) && !Objects.equals(state.get(op.getKey()), op.getValue())) {
                        Write other = by.get(op.getKey());
                        violations.add(new Violation(Kind.WRITE_ORDER, w.session(), w.seq(), "acknowledged at LSN " + lsn
                                + " with '" + op.getKey() + "' " + (op.getValue() == null ? "absent" : "= '" + op.getValue() + "'")
                                + ", but session " + other.session() + " #" + other.seq() + " was acknowledged at the same LSN with "
                                + (state.get(op.getKey()) == null ? "it absent" : "'" + state.get(op.getKey()) + "'")));
                        continue;
                    }
                    state.put(op.getKey(), op.getValue());
                    by.put(op.getKey(), w);
                }
                for (Op op : w.ops()) {
                    if (op.value() != null) {
                        Long before = versionOf.computeIfAbsent(op.key(), k -> new HashMap<>()).putIfAbsent(op.value(), lsn);
                        if (before != null && before != lsn) {
                            throw new IllegalArgumentException("the value '" + op.value() + "' of key '" + op.key()
                                    + "' was written twice (LSN " + before + " and " + lsn
                                    + "); the checker needs unique values per key");
                        }
                    }
                }
            }
            state.forEach((k, v) -> byKey.computeIfAbsent(k, x -> new TreeMap<>()).put(lsn, v));
        }

        // ---- each session in its order ----
        long reads = 0;
        long failedReads = 0;
        long unjudged = 0;
        long rywChecks = 0;
        long monotonicChecks = 0;
        Map<String, Long> readsByNode = new HashMap<>();
        for (History.SessionLog log : history.sessions().values()) {
            long seen = 0;
            Map<String, Long> ownWrite = new HashMap<>();
            Map<String, Long> readVersion = new HashMap<>();
            for (Event e : log.events()) {
                if (e instanceof Write w) {
                    // a write that puts makes a new entry; one that only deletes may have changed
                    // nothing and then carries the LSN current at the time
                    boolean puts = netEffect(w).values().stream().anyMatch(Objects::nonNull);
                    if (puts ? w.lsn() <= seen : w.lsn() < seen) {
                        violations.add(new Violation(Kind.WRITE_ORDER, w.session(), w.seq(), "write acknowledged at LSN "
                                + w.lsn() + " after the session had seen LSN " + seen));
                    }
                    seen = Math.max(seen, w.lsn());
                    for (Op op : w.ops()) {
                        ownWrite.put(op.key(), w.lsn());
                    }
                } else if (e instanceof FailedRead) {
                    failedReads++;
                } else if (e instanceof Read r) {
                    reads++;
                    readsByNode.merge(r.node(), 1L, Long::sum);
                    long floor = Math.max(seen, r.token());
                    if (r.lsn() < floor) {
                        violations.add(new Violation(Kind.MONOTONIC_READS, r.session(), r.seq(), "read of '" + r.key()
                                + "' answered at LSN " + r.lsn() + " by " + r.node() + " after the session had seen LSN "
                                + floor));
                    }
                    seen = Math.max(seen, r.lsn());
                    if (uncertain.contains(r.key())) {
                        unjudged++;
                        continue;
                    }
                    NavigableMap<Long, String> versions = byKey.getOrDefault(r.key(), new TreeMap<>());
                    long version;
                    if (r.value() != null) {
                        Long v = versionOf.getOrDefault(r.key(), Map.of()).get(r.value());
                        if (v == null) {
                            violations.add(new Violation(Kind.PHANTOM_VALUE, r.session(), r.seq(), "read of '" + r.key()
                                    + "' at LSN " + r.lsn() + " by " + r.node() + " returned '" + r.value()
                                    + "', which no acknowledged write wrote"));
                            continue;
                        }
                        version = v;
                    } else {
                        version = 0;
                        for (Map.Entry<Long, String> d : versions.headMap(r.lsn(), true).descendingMap().entrySet()) {
                            if (d.getValue() == null) {
                                version = d.getKey();
                                break;
                            }
                        }
                    }
                    Map.Entry<Long, String> state = versions.floorEntry(r.lsn());
                    String expected = state == null ? null : state.getValue();
                    if (!Objects.equals(expected, r.value())) {
                        violations.add(new Violation(Kind.WRONG_STATE, r.session(), r.seq(), "read of '" + r.key()
                                + "' at LSN " + r.lsn() + " by " + r.node() + " returned " + show(r.value(), version)
                                + " but at that LSN it was " + show(expected, state == null ? 0 : state.getKey())));
                    }
                    Long own = ownWrite.get(r.key());
                    if (own != null) {
                        rywChecks++;
                        if (version < own) {
                            violations.add(new Violation(Kind.READ_YOUR_WRITES, r.session(), r.seq(), "read of '" + r.key()
                                    + "' at LSN " + r.lsn() + " by " + r.node() + " returned " + show(r.value(), version)
                                    + ", older than the session's own write at LSN " + own));
                        }
                    }
                    Long before = readVersion.get(r.key());
                    if (before != null) {
                        monotonicChecks++;
                        if (version < before) {
                            violations.add(new Violation(Kind.MONOTONIC_READS, r.session(), r.seq(), "read of '" + r.key()
                                    + "' at LSN " + r.lsn() + " by " + r.node() + " returned " + show(r.value(), version)
                                    + ", older than the version of LSN " + before + " the session had read"));
                        }
                    }
                    readVersion.merge(r.key(), version, Math::max);
                }
            }
        }
        return new Report(history.sessions().size(), writes, unknownWrites, reads, failedReads, unjudged, rywChecks,
                monotonicChecks, readsByNode, violations);
    }

    /** What a write leaves behind per key: the last operation on it wins (null: deleted). */
    private static Map<String, String> netEffect(Write w) {
        Map<String, String> net = new java.util.LinkedHashMap<>();
        for (Op op : w.ops()) {
            net.put(op.key(), op.value());
        }
        return net;
    }

    private static String show(String value, long version) {
        return (value == null ? "absent" : "'" + value + "'") + " (version " + version + ")";
    }
}
