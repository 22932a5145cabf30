package io.walship.protocol.repl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

/**
 * The byte layout of every frame against golden files written independently from
 * docs/PROTOCOL.md (src/test/resources/golden/repl), and the decoder's checks.
 */
class FrameCodecTest {
    static final long SID = 0x0123456789ABCDEFL;

    /** Each golden file and the frame it holds. */
    static Map<String, Frame> golden() {
        Map<String, Frame> m = new LinkedHashMap<>();
        m.put("hello.bin", new Frame.Hello(1, SID, 2, 0x1001, "replica-1", "s3cret", "node-b"));
        m.put("welcome.bin", new Frame.Welcome(1, SID, 2, 0x2000, "node-a", "http://127.0.0.1:7070"));
        m.put("refuse.bin", new Frame.Refuse(RefusalCode.WAL_NOT_AVAILABLE,
                "LSN 0000000000001001 is no longer in the WAL of the leader; the oldest is 0000000000002000"));
        m.put("wal.bin", new Frame.Wal(0x1003, 1764000000000000L, List.of(
                new Frame.Entry(0x1002, new byte[] {1, 2, 3}), new Frame.Entry(0x1003, "abcd".getBytes()))));
        m.put("keepalive.bin", new Frame.Keepalive(0x1003, 1764000000000123L, true));
        m.put("feedback.bin", new Frame.Feedback(0x1003, 0x1002, 0x1001, 1764000000000456L, 1764000000000123L));
        m.put("timeline.bin", new Frame.TimelineSwitch(3, 0x1003));
        return m;
    }

    static byte[] goldenBytes(String name) throws IOException {
        try (InputStream in = FrameCodecTest.class.getResourceAsStream("/golden/repl/" + name)) {
            if (in == null) {
                throw new IllegalStateException("golden file " + name + " is missing");
            }
            return in.readAllBytes();
        }
    }

    @Test
    void everyFrameTypeEncodesToItsGoldenBytesAndBack() throws IOException {
        Map<String, Frame> g = golden();
        assertEquals(Frame.class.getPermittedSubclasses().length, g.size(), "a golden file per frame type");
        for (Map.Entry<String, Frame> e : g.entrySet()) {
            byte[] expected = goldenBytes(e.getKey());
            assertArrayEquals(expected, FrameCodec.encode(e.getValue()), e.getKey());
            assertEquals(e.getValue(), FrameCodec.decode(expected), e.getKey());
            assertEquals(e.getValue(), FrameCodec.read(new DataInputStream(new ByteArrayInputStream(expected))));
            assertEquals(expected.length - 4, FrameCodec.bodyLength(e.getValue()), e.getKey());
        }
    }

    @Test
    void framesFollowEachOtherOnAStreamAndItsEndIsAnEof() throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        for (Frame f : golden().values()) {
            FrameCodec.write(out, f);
        }
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes.toByteArray()));
        for (Frame f : golden().values()) {
            assertEquals(f, FrameCodec.read(in));
        }
        assertThrows(EOFException.class, () -> FrameCodec.read(in));
    }

    @Test
    void refusalCodesAreTheDocumentedNumbers() throws ProtocolException {
        String[] names = {"UNSUPPORTED_VERSION", "SYSTEM_ID_MISMATCH", "UNKNOWN_TIMELINE", "WAL_NOT_AVAILABLE",
            "AUTH_FAILED", "SLOT_LOST", "SLOT_IN_USE", "NOT_A_LEADER", "FOLLOWER_AHEAD"};
        assertEquals(names.length, RefusalCode.values().length);
        for (int i = 0; i < names.length; i++) {
            assertEquals(names[i], RefusalCode.of(i + 1).name());
            assertEquals(i + 1, RefusalCode.valueOf(names[i]).code());
        }
        assertThrows(ProtocolException.class, () -> RefusalCode.of(0));
        assertThrows(ProtocolException.class, () -> RefusalCode.of(10));
    }

    @Test
    void lengthsOfZeroOrOverTheLimitAreRefusedBeforeAnythingIsAllocated() {
        for (long len : new long[] {0, FrameCodec.MAX_FRAME_LENGTH + 1L, 0x7FFFFFFFL, 0xFFFFFFFFL}) {
            byte[] b = ByteBuffer.allocate(5).putInt((int) len).put((byte) 5).array();
            ProtocolException e = assertThrows(ProtocolException.class, () -> FrameCodec.decode(b), "length " + len);
            assertTrue(e.getMessage().contains(Long.toString(len)), e.getMessage());
            // on a stream too: no 4 GiB allocation, no waiting for bytes that will never come
            assertThrows(ProtocolException.class, () -> FrameCodec.read(new DataInputStream(new ByteArrayInputStream(b))));
        }
    }

    @Test
    void theLargestFrameIsAccepted() throws IOException {
        byte[] big = new byte[FrameCodec.MAX_FRAME_LENGTH - FrameCodec.WAL_FRAME_OVERHEAD - FrameCodec.WAL_ENTRY_OVERHEAD];
        Frame.Wal w = new Frame.Wal(7, 8, List.of(new Frame.Entry(7, big)));
        byte[] bytes = FrameCodec.encode(w);
        assertEquals(FrameCodec.MAX_FRAME_LENGTH, bytes.length - 4);
        assertEquals(w, FrameCodec.decode(bytes));
        Frame.Wal tooBig = new Frame.Wal(7, 8, List.of(new Frame.Entry(7, new byte[big.length + 1])));
        assertThrows(IllegalArgumentException.class, () -> FrameCodec.encode(tooBig));
    }

    @Test
    void truncatedFramesAreEofsAndShortPayloadsAreProtocolErrors() throws IOException {
        for (Map.Entry<String, Frame> e : golden().entrySet()) {
            byte[] full = goldenBytes(e.getKey());
            for (int cut = 0; cut < full.length; cut++) {
                byte[] part = Arrays.copyOf(full, cut);
                assertThrows(EOFException.class, () -> FrameCodec.read(new DataInputStream(new ByteArrayInputStream(part))),
                        e.getKey() + " cut at " + cut);
            }
            // the length says the payload is shorter than the fields: a protocol error, never a partial frame
            for (int shorter = 1; shorter < full.length - 4; shorter++) {
                byte[] b = Arrays.copyOf(full, full.length - shorter);
                ByteBuffer.wrap(b).putInt(b.length - 4);
                assertThrows(ProtocolException.class, () -> FrameCodec.decode(b), e.getKey() + " short by " + shorter);
            }
            // bytes left over after the fields
            byte[] longer = Arrays.copyOf(full, full.length + 1);
            ByteBuffer.wrap(longer).putInt(longer.length - 4);
            ProtocolException x = assertThrows(ProtocolException.class, () -> FrameCodec.decode(longer), e.getKey());
            assertTrue(x.getMessage().contains("unexpected bytes"), x.getMessage());
        }
    }

    @Test
    void badTypesFlagsCodesCountsAndUtf8AreProtocolErrors() throws IOException {
        List<byte[]> bad = new ArrayList<>();
        bad.add(frame(0));
        bad.add(frame(8));
        bad.add(frame(255, 1, 2, 3));
        byte[] keepalive = goldenBytes("keepalive.bin");
        keepalive[keepalive.length - 1] = 2; // replyRequested must be 0 or 1
        bad.add(keepalive);
        byte[] refuse = goldenBytes("refuse.bin");
        refuse[5] = 0;
        refuse[6] = 99; // no such refusal code
        bad.add(refuse);
        byte[] wal = goldenBytes("wal.bin");
        ByteBuffer.wrap(wal).putInt(4 + 1 + 16, 0x7FFFFFFF); // count far beyond the bytes there
        bad.add(wal);
        byte[] wal2 = goldenBytes("wal.bin");
        ByteBuffer.wrap(wal2).putInt(4 + 1 + 16 + 4 + 8, 0xFFFFFFF0); // an entry longer than the frame
        bad.add(wal2);
        byte[] hello = goldenBytes("hello.bin");
        hello[4 + 1 + 2 + 8 + 4 + 8 + 2] = (byte) 0xC3; // "replica-1" → 0xC3 'e' ...: not UTF-8
        bad.add(hello);
        for (byte[] b : bad) {
            assertThrows(ProtocolException.class, () -> FrameCodec.decode(b), ByteBuffer.wrap(b).toString());
        }
    }

    @Test
    void stringsAreUtf8AndBoundedByU16() throws IOException {
        Frame.Hello h = new Frame.Hello(1, -1L, -1, -1L, "slöt-名前", "", "😀");
        assertEquals(h, FrameCodec.decode(FrameCodec.encode(h)));
        String huge = "x".repeat(Frame.MAX_STRING_BYTES + 1);
        assertThrows(IllegalArgumentException.class,
                () -> FrameCodec.encode(new Frame.Refuse(RefusalCode.AUTH_FAILED, huge)));
        Frame.Refuse longest = new Frame.Refuse(RefusalCode.AUTH_FAILED, huge.substring(1));
        assertEquals(longest, FrameCodec.decode(FrameCodec.encode(longest)));
    }

    @Test
    void helloHidesItsTokenFromLogs() {
        String s = new Frame.Hello(1, SID, 1, 1, "", "top-secret", "n").toString();
        assertTrue(!s.contains("top-secret") && s.contains("***"), s);
    }

    private static byte[] frame(int type, int... payload) {
        ByteBuffer b = ByteBuffer.allocate(5 + payload.length).putInt(1 + payload.length).put((byte) type);
        for (int p : payload) {
            b.put((byte) p);
        }
        return b.array();
    }
}
