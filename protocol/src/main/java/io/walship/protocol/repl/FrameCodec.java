package io.walship.protocol.repl;

import java.io.DataInput;
import java.io.DataOutput;
import java.io.EOFException;
import java.io.IOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Frames to bytes and back (docs/PROTOCOL.md). A frame on the wire is {@code u32 length} (the
 * number of bytes that follow: the type byte and the payload), {@code u8 type}, then the payload;
 * integers are big-endian, a {@code str} is {@code u16 n} and n bytes of UTF-8.
 *
 * <p>Decoding checks everything before it trusts it: a length of 0 or over
 * {@link #MAX_FRAME_LENGTH} is refused before a byte of the body is allocated, the payload must be
 * exactly as long as its fields (nothing missing, nothing left over), strings must be valid UTF-8,
 * and counts must fit in the bytes that are there. Any of these is a {@link ProtocolException}; a
 * stream that ends is an {@link EOFException}. Nothing else escapes, whatever the bytes.
 *
 * <p>Stateless and thread-safe.
 */
public final class FrameCodec {
    /** The largest length field accepted: 16 MiB of payload plus 64 bytes of headers. */
    public static final int MAX_FRAME_LENGTH = (16 << 20) + 64;
    /**
     * The largest length field a follower can need: the longest HELLO (type, version, system id,
     * timeline, start LSN and three strings of {@value Frame#MAX_STRING_BYTES} bytes); every other
     * frame a follower sends (FEEDBACK) is shorter. A leader reads follower frames with this bound,
     * so a peer that has not even authenticated cannot make it allocate a 16 MiB buffer and wait for it.
     */
    public static final int MAX_FOLLOWER_FRAME_LENGTH = 1 + 2 + 8 + 4 + 8 + 3 * (2 + Frame.MAX_STRING_BYTES);
    /** Bytes of a WAL frame before its entries: type, durable LSN, send time, count. */
    public static final int WAL_FRAME_OVERHEAD = 1 + 8 + 8 + 4;
    /** Bytes each entry adds to a WAL frame besides its own bytes: LSN and length. */
    public static final int WAL_ENTRY_OVERHEAD = 8 + 4;

    private FrameCodec() {
    }

    // ---- encoding -------------------------------------------------------------------------------

    /** The whole frame, length prefix included. */
    public static byte[] encode(Frame frame) {
        byte[] body = encodeBody(frame);
        ByteBuffer out = ByteBuffer.allocate(4 + body.length);
        out.putInt(body.length).put(body);
        return out.array();
    }

    /** Writes the whole frame, length prefix included (the caller flushes). */
    public static void write(DataOutput out, Frame frame) throws IOException {
        out.write(encode(frame));
    }

    /**
     * The length field {@code frame} would have (type byte + payload), without encoding it: for
     * senders that fill a WAL frame up to a size.
     */
    public static long bodyLength(Frame frame) {
        if (frame instanceof Frame.Wal w) {
            long n = WAL_FRAME_OVERHEAD;
            for (Frame.Entry e : w.entries()) {
                n += WAL_ENTRY_OVERHEAD + e.bytes().length;
            }
            return n;
        }
        return encodeBody(frame).length;
    }

    private static byte[] encodeBody(Frame frame) {
        long length = frame instanceof Frame.Wal ? bodyLength(frame) : 1024;
        if (length > MAX_FRAME_LENGTH) {
            throw new IllegalArgumentException("a frame of " + length + " bytes is over the limit of "
                    + MAX_FRAME_LENGTH + "; send fewer entries per WAL frame");
        }
        Writer w = new Writer((int) length);
        w.u8(frame.type());
        if (frame instanceof Frame.Hello h) {
            w.u16(h.version());
            w.u64(h.systemId());
            w.u32(h.timeline());
            w.u64(h.startLsn());
            w.str(h.slot());
            w.str(h.authToken());
            w.str(h.nodeId());
        } else if (frame instanceof Frame.Welcome m) {
            w.u16(m.version());
            w.u64(m.systemId());
            w.u32(m.leaderTimeline());
            w.u64(m.leaderDurableLsn());
            w.str(m.leaderNodeId());
            w.str(m.leaderHttpUrl());
        } else if (frame instanceof Frame.Refuse r) {
            w.u16(r.code().code());
            w.str(r.message());
        } else if (frame instanceof Frame.Wal m) {
            w.u64(m.leaderDurableLsn());
            w.u64(m.leaderSendMicros());
            w.u32(m.entries().size());
            for (Frame.Entry e : m.entries()) {
                w.u64(e.lsn());
                w.u32(e.bytes().length);
                w.bytes(e.bytes());
            }
        } else if (frame instanceof Frame.Keepalive k) {
            w.u64(k.leaderDurableLsn());
            w.u64(k.leaderSendMicros());
            w.u8(k.replyRequested() ? 1 : 0);
        } else if (frame instanceof Frame.Feedback f) {
            w.u64(f.writtenLsn());
            w.u64(f.flushedLsn());
            w.u64(f.appliedLsn());
            w.u64(f.followerMicros());
            w.u64(f.echoLeaderMicros());
        } else if (frame instanceof Frame.TimelineSwitch t) {
            w.u32(t.newTimeline());
            w.u64(t.forkLsn());
        } else {
            throw new IllegalArgumentException("unknown frame " + frame);
        }
        byte[] body = w.toArray();
        if (body.length > MAX_FRAME_LENGTH) {
            throw new IllegalArgumentException("a frame of " + body.length + " bytes is over the limit of "
                    + MAX_FRAME_LENGTH);
        }
        return body;
    }

    // ---- decoding -------------------------------------------------------------------------------

    /**
     * Reads one frame.
     *
     * @throws EOFException      the stream ended (between frames, or in the middle of one)
     * @throws ProtocolException the bytes are not a valid frame (see the class comment)
     * @throws IOException       reading failed
     */
    public static Frame read(DataInput in) throws IOException {
        return read(in, MAX_FRAME_LENGTH);
    }

    /**
     * Reads one frame whose length field may be at most {@code maxLength} (a reader that knows the
     * peer sends only short frames, e.g. {@link #MAX_FOLLOWER_FRAME_LENGTH}); a longer one is a
     * {@link ProtocolException} before anything of its body is allocated or read.
     */
    public static Frame read(DataInput in, int maxLength) throws IOException {
        int length = in.readInt();
        checkLength(length, Math.min(maxLength, MAX_FRAME_LENGTH));
        byte[] body = new byte[length];
        in.readFully(body);
        return decodeBody(body);
    }

    /**
     * Decodes one whole frame, length prefix included, that fills {@code frame} exactly.
     *
     * @throws EOFException      {@code frame} is shorter than its length field says
     * @throws ProtocolException the bytes are not a valid frame, or bytes follow it
     */
    public static Frame decode(byte[] frame) throws IOException {
        if (frame.length < 4) {
            throw new EOFException("a frame needs at least 4 bytes of length, got " + frame.length);
        }
        int length = ByteBuffer.wrap(frame).getInt();
        checkLength(length, MAX_FRAME_LENGTH);
        if (frame.length - 4 < length) {
            throw new EOFException("the frame's length says " + length + " bytes but only " + (frame.length - 4)
                    + " follow");
        }
        if (frame.length - 4 > length) {
            throw new ProtocolException((frame.length - 4 - length) + " bytes after the frame");
        }
        byte[] body = new byte[length];
        System.arraycopy(frame, 4, body, 0, length);
        return decodeBody(body);
    }

    private static void checkLength(int length, int max) throws ProtocolException {
        // negative = a u32 over 2^31, which is over the limit as well
        if (length <= 0 || length > max) {
            throw new ProtocolException("frame length " + Integer.toUnsignedString(length) + " is out of range 1.."
                    + max);
        }
    }

    /** Decodes a frame body (type byte + payload). */
    static Frame decodeBody(byte[] body) throws ProtocolException {
        ByteBuffer in = ByteBuffer.wrap(body);
        int type = in.get() & 0xFF;
        try {
            Frame f = switch (type) {
                case Frame.Hello.TYPE -> new Frame.Hello(in.getShort() & 0xFFFF, in.getLong(), in.getInt(),
                        in.getLong(), str(in), str(in), str(in));
                case Frame.Welcome.TYPE -> new Frame.Welcome(in.getShort() & 0xFFFF, in.getLong(), in.getInt(),
                        in.getLong(), str(in), str(in));
                case Frame.Refuse.TYPE -> new Frame.Refuse(RefusalCode.of(in.getShort() & 0xFFFF), str(in));
                case Frame.Wal.TYPE -> wal(in);
                case Frame.Keepalive.TYPE -> new Frame.Keepalive(in.getLong(), in.getLong(), flag(in));
                case Frame.Feedback.TYPE -> new Frame.Feedback(in.getLong(), in.getLong(), in.getLong(), in.getLong(),
                        in.getLong());
                case Frame.TimelineSwitch.TYPE -> new Frame.TimelineSwitch(in.getInt(), in.getLong());
                default -> throw new ProtocolException("unknown frame type " + type);
            };
            if (in.hasRemaining()) {
                throw new ProtocolException(in.remaining() + " unexpected bytes at the end of a " + name(type)
                        + " frame");
            }
            return f;
        } catch (BufferUnderflowException e) {
            throw new ProtocolException("a " + name(type) + " frame of " + body.length + " bytes is too short for its"
                    + " fields");
        }
    }

    private static Frame.Wal wal(ByteBuffer in) throws ProtocolException {
        long durable = in.getLong();
        long micros = in.getLong();
        long count = in.getInt() & 0xFFFFFFFFL;
        if (count * WAL_ENTRY_OVERHEAD > in.remaining()) {
            throw new ProtocolException("a WAL frame claims " + count + " entries but has only " + in.remaining()
                    + " bytes for them");
        }
        List<Frame.Entry> entries = new ArrayList<>((int) count);
        for (long i = 0; i < count; i++) {
            long lsn = in.getLong();
            long n = in.getInt() & 0xFFFFFFFFL;
            if (n > in.remaining()) {
                throw new ProtocolException("entry " + i + " (LSN " + Long.toUnsignedString(lsn) + ") of a WAL frame"
                        + " claims " + n + " bytes but only " + in.remaining() + " are left");
            }
            byte[] bytes = new byte[(int) n];
            in.get(bytes);
            entries.add(new Frame.Entry(lsn, bytes));
        }
        return new Frame.Wal(durable, micros, entries);
    }

    private static boolean flag(ByteBuffer in) throws ProtocolException {
        int b = in.get() & 0xFF;
        if (b > 1) {
            throw new ProtocolException("a KEEPALIVE's replyRequested must be 0 or 1, got " + b);
        }
        return b == 1;
    }

    private static String str(ByteBuffer in) throws ProtocolException {
        int n = in.getShort() & 0xFFFF;
        if (n > in.remaining()) {
            throw new BufferUnderflowException();
        }
        ByteBuffer slice = in.slice();
        slice.limit(n);
        in.position(in.position() + n);
        try {
            CharBuffer chars = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(slice);
            return chars.toString();
        } catch (CharacterCodingException e) {
            throw new ProtocolException("a string of " + n + " bytes is not valid UTF-8");
        }
    }

    private static String name(int type) {
        return switch (type) {
            case Frame.Hello.TYPE -> "HELLO";
            case Frame.Welcome.TYPE -> "WELCOME";
            case Frame.Refuse.TYPE -> "REFUSE";
            case Frame.Wal.TYPE -> "WAL";
            case Frame.Keepalive.TYPE -> "KEEPALIVE";
            case Frame.Feedback.TYPE -> "FEEDBACK";
            case Frame.TimelineSwitch.TYPE -> "TIMELINE";
            default -> "type-" + type;
        };
    }

    /** A growable big-endian buffer. */
    private static final class Writer {
        private ByteBuffer buf;

        Writer(int initial) {
            buf = ByteBuffer.allocate(Math.max(64, initial));
        }

        private void room(int n) {
            if (buf.remaining() < n) {
                ByteBuffer bigger = ByteBuffer.allocate(Math.max(buf.capacity() * 2, buf.position() + n));
                buf.flip();
                bigger.put(buf);
                buf = bigger;
            }
        }

        void u8(int v) {
            room(1);
            buf.put((byte) v);
        }

        void u16(int v) {
            room(2);
            buf.putShort((short) v);
        }

        void u32(long v) {
            room(4);
            buf.putInt((int) v);
        }

        void u64(long v) {
            room(8);
            buf.putLong(v);
        }

        void bytes(byte[] b) {
            room(b.length);
            buf.put(b);
        }

        void str(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            if (b.length > Frame.MAX_STRING_BYTES) {
                throw new IllegalArgumentException("a string of " + b.length + " UTF-8 bytes is over the limit of "
                        + Frame.MAX_STRING_BYTES);
            }
            u16(b.length);
            bytes(b);
        }

        byte[] toArray() {
            byte[] out = new byte[buf.position()];
            buf.flip();
            buf.get(out);
            return out;
        }
    }
}
