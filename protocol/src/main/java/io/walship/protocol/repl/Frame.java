package io.walship.protocol.repl;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * One frame of the replication protocol, version {@value #VERSION} (docs/PROTOCOL.md). Each record
 * is one frame type; {@link FrameCodec} turns them into bytes and back. LSNs, times and ids are
 * unsigned 64-bit on the wire and plain {@code long}s here; strings are at most
 * {@value #MAX_STRING_BYTES} bytes of UTF-8. Records are immutable except for the entry bytes of a
 * {@link Wal} frame, which nobody may change once the frame is built.
 */
public sealed interface Frame {
    /** The protocol version this code speaks. */
    int VERSION = 1;
    /** The longest string a frame carries, in UTF-8 bytes (a u16 length). */
    int MAX_STRING_BYTES = 0xFFFF;

    /** The frame's type byte. */
    int type();

    /** Follower → leader, first frame: who the follower is and where it wants the stream to start. */
    record Hello(int version, long systemId, int timeline, long startLsn, String slot, String authToken, String nodeId)
            implements Frame {
        public static final int TYPE = 1;

        public Hello {
            checkU16("version", version);
            Objects.requireNonNull(slot, "slot");
            Objects.requireNonNull(authToken, "authToken");
            Objects.requireNonNull(nodeId, "nodeId");
        }

        @Override
        public int type() {
            return TYPE;
        }

        /** The HELLO without its token, for logs. */
        @Override
        public String toString() {
            return "Hello[version=" + version + ", systemId=" + Long.toHexString(systemId) + ", timeline=" + timeline
                    + ", startLsn=" + startLsn + ", slot=" + slot + ", authToken=" + (authToken.isEmpty() ? "" : "***")
                    + ", nodeId=" + nodeId + "]";
        }
    }

    /** Leader → follower: the HELLO is accepted; WAL frames follow. */
    record Welcome(int version, long systemId, int leaderTimeline, long leaderDurableLsn, String leaderNodeId,
                   String leaderHttpUrl) implements Frame {
        public static final int TYPE = 2;

        public Welcome {
            checkU16("version", version);
            Objects.requireNonNull(leaderNodeId, "leaderNodeId");
            Objects.requireNonNull(leaderHttpUrl, "leaderHttpUrl");
        }

        @Override
        public int type() {
            return TYPE;
        }
    }

    /** Leader → follower: the HELLO is refused; the leader closes the connection after this frame. */
    record Refuse(RefusalCode code, String message) implements Frame {
        public static final int TYPE = 3;

        public Refuse {
            Objects.requireNonNull(code, "code");
            Objects.requireNonNull(message, "message");
        }

        @Override
        public int type() {
            return TYPE;
        }
    }

    /**
     * Leader → follower: durable WAL entries with consecutive LSNs, each exactly as the leader's WAL
     * holds it (the encoded, checksummed entry that {@code EntryCodec} decodes).
     */
    record Wal(long leaderDurableLsn, long leaderSendMicros, List<Entry> entries) implements Frame {
        public static final int TYPE = 4;

        public Wal {
            entries = List.copyOf(entries);
        }

        @Override
        public int type() {
            return TYPE;
        }

        @Override
        public String toString() {
            return "Wal[leaderDurableLsn=" + leaderDurableLsn + ", leaderSendMicros=" + leaderSendMicros + ", entries="
                    + entries.size() + (entries.isEmpty() ? "" : " (LSN " + entries.get(0).lsn() + ".."
                    + entries.get(entries.size() - 1).lsn() + ")") + "]";
        }
    }

    /** One WAL entry in a {@link Wal} frame: its LSN and its encoded bytes. */
    record Entry(long lsn, byte[] bytes) {
        public Entry {
            Objects.requireNonNull(bytes, "bytes");
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Entry e && e.lsn == lsn && Arrays.equals(e.bytes, bytes);
        }

        @Override
        public int hashCode() {
            return Long.hashCode(lsn) * 31 + Arrays.hashCode(bytes);
        }

        @Override
        public String toString() {
            return "Entry[lsn=" + lsn + ", " + bytes.length + " bytes]";
        }
    }

    /** Leader → follower when idle: the leader's durable LSN; {@code replyRequested} asks for a FEEDBACK. */
    record Keepalive(long leaderDurableLsn, long leaderSendMicros, boolean replyRequested) implements Frame {
        public static final int TYPE = 5;

        @Override
        public int type() {
            return TYPE;
        }
    }

    /**
     * Follower → leader: how far the follower has written, flushed (synced) and applied the stream,
     * its clock, and the last {@code leaderSendMicros} it has seen (so the leader can measure lag in
     * time with its own clock).
     */
    record Feedback(long writtenLsn, long flushedLsn, long appliedLsn, long followerMicros, long echoLeaderMicros)
            implements Frame {
        public static final int TYPE = 6;

        @Override
        public int type() {
            return TYPE;
        }
    }

    /** Leader → follower (reserved for failover): the leader moved to {@code newTimeline}, forking after {@code forkLsn}. */
    record TimelineSwitch(int newTimeline, long forkLsn) implements Frame {
        public static final int TYPE = 7;

        @Override
        public int type() {
            return TYPE;
        }
    }

    private static void checkU16(String what, int v) {
        if (v < 0 || v > 0xFFFF) {
            throw new IllegalArgumentException(what + " " + v + " does not fit in a u16");
        }
    }
}
