package io.walship.client.check;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What concurrent sessions did and saw, for the {@link ConsistencyChecker}: per session, in the
 * session's order, every acknowledged write (its operations and commit LSN), every write whose
 * outcome is unknown, every read (key, value or absent, the token the session sent and the LSN
 * the answer carried, the node) and every read that failed. Keys and values are text.
 *
 * <p>Thread-safety: each {@link SessionLog} is written by one thread at a time (a session is
 * sequential); the history may be checked once those threads are done (joined).
 */
public final class History {
    private final Map<Integer, SessionLog> sessions = new ConcurrentHashMap<>();

    /** The log of session {@code id}, created on first use. */
    public SessionLog session(int id) {
        return sessions.computeIfAbsent(id, SessionLog::new);
    }

    /** Every session's log, by session id. */
    public Map<Integer, SessionLog> sessions() {
        return Collections.unmodifiableMap(new TreeMap<>(sessions));
    }

    /** One operation of a write: {@code value == null} deletes {@code key}. */
    public record Op(String key, String value) {
        public Op {
            Objects.requireNonNull(key, "key");
        }

        public static Op put(String key, String value) {
            return new Op(key, Objects.requireNonNull(value, "value"));
        }

        public static Op delete(String key) {
            return new Op(key, null);
        }
    }

    /** Something a session did, {@code seq} being its place in the session's order. */
    public sealed interface Event permits Write, UnknownWrite, Read, FailedRead {
        int session();

        int seq();
    }

    /** A write the leader acknowledged at {@code lsn} (a batch: several operations, one LSN). */
    public record Write(int session, int seq, List<Op> ops, long lsn) implements Event {
        public Write {
            ops = List.copyOf(ops);
        }
    }

    /** A write that got no clear answer: it may or may not have been committed. */
    public record UnknownWrite(int session, int seq, List<Op> ops, String error) implements Event {
        public UnknownWrite {
            ops = List.copyOf(ops);
        }
    }

    /**
     * A read of {@code key}: {@code value} (null: absent) at the answer's {@code lsn}, after the
     * session sent {@code token} as its min_lsn. A scan records one read per key of its range.
     */
    public record Read(int session, int seq, String key, String value, long token, long lsn, String node) implements Event {
        public Read {
            Objects.requireNonNull(key, "key");
        }
    }

    /** A read no node could serve. */
    public record FailedRead(int session, int seq, String key, String error) implements Event {
    }

    /** One session's events, in its order. Written by one thread at a time. */
    public static final class SessionLog {
        private final int id;
        private final List<Event> events = new ArrayList<>();

        private SessionLog(int id) {
            this.id = id;
        }

        public int id() {
            return id;
        }

        public List<Event> events() {
            return Collections.unmodifiableList(events);
        }

        public SessionLog wrote(List<Op> ops, long lsn) {
            events.add(new Write(id, events.size(), ops, lsn));
            return this;
        }

        public SessionLog wroteUnknown(List<Op> ops, String error) {
            events.add(new UnknownWrite(id, events.size(), ops, error));
            return this;
        }

        public SessionLog read(String key, String value, long token, long lsn, String node) {
            events.add(new Read(id, events.size(), key, value, token, lsn, node));
            return this;
        }

        public SessionLog readFailed(String key, String error) {
            events.add(new FailedRead(id, events.size(), key, error));
            return this;
        }
    }
}
