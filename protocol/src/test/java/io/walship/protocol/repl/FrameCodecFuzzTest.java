package io.walship.protocol.repl;

import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Whatever the bytes, the decoder answers with a frame, a {@link ProtocolException} or an
 * {@link EOFException}: never another exception, never an allocation the length check should have
 * stopped. jqwik prints the seed of every run (and of a failing one, to repeat it).
 */
class FrameCodecFuzzTest {

    @Property(tries = 3000)
    void arbitraryBytesDecodeOnlyToFramesOrProtocolErrors(@ForAll("streams") byte[] bytes) throws IOException {
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes));
        for (int i = 0; i < 64; i++) {
            try {
                FrameCodec.read(in);
            } catch (ProtocolException | EOFException expected) {
                return;
            }
        }
    }

    @Property(tries = 3000)
    void mutatedValidFramesDecodeOnlyToFramesOrProtocolErrors(@ForAll("mutated") byte[] bytes) throws IOException {
        try {
            FrameCodec.decode(bytes);
        } catch (ProtocolException | EOFException expected) {
            // fine
        }
    }

    /** Random bytes, often starting with a plausible length and a known type. */
    @Provide
    Arbitrary<byte[]> streams() {
        Arbitrary<byte[]> random = Arbitraries.bytes().array(byte[].class).ofMaxSize(300);
        Arbitrary<byte[]> plausible = Combinators.combine(
                Arbitraries.integers().between(0, 400), Arbitraries.integers().between(0, 9),
                Arbitraries.bytes().array(byte[].class).ofMaxSize(300)).as((len, type, rest) -> {
                    ByteBuffer b = ByteBuffer.allocate(5 + rest.length).putInt(len).put((byte) (int) type).put(rest);
                    return b.array();
                });
        return Arbitraries.oneOf(random, plausible);
    }

    /** Golden frames with a few bytes changed, dropped or added. */
    @Provide
    Arbitrary<byte[]> mutated() {
        List<Frame> frames = List.copyOf(FrameCodecTest.golden().values());
        Arbitrary<byte[]> valid = Arbitraries.of(frames).map(FrameCodec::encode);
        return Combinators.combine(valid, Arbitraries.integers().between(0, 10_000).list().ofMaxSize(6),
                Arbitraries.bytes().list().ofMaxSize(6), Arbitraries.integers().between(-3, 3))
                .as((b, positions, values, grow) -> {
                    byte[] out = java.util.Arrays.copyOf(b, Math.max(0, b.length + grow));
                    for (int i = 0; i < Math.min(positions.size(), values.size()) && out.length > 0; i++) {
                        out[positions.get(i) % out.length] = values.get(i);
                    }
                    return out;
                });
    }
}
