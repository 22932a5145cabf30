package io.walship.wal;

import java.util.List;

/**
 * Run by {@link CompressedImagesTest} in a JVM whose Zstandard native library cannot load: reads
 * the Zstandard golden entry, then compresses with Zstandard, and prints one line per attempt
 * naming the exception class (or "ok").
 */
public final class CodecUnavailableMain {
    private CodecUnavailableMain() {
    }

    public static void main(String[] args) throws Exception {
        byte[] golden = EntryCodecTest.golden("wal-entry-v3-zstd.bin");
        for (int attempt = 0; attempt < 2; attempt++) { // the second finds the class's init failed before
            report("decode", () -> EntryCodec.decode(golden));
            WalEntry g = EntryCodecTest.goldenEntry();
            report("encode", () -> EntryCodec.encode(g.lsn(), g.timeline(), g.commitTimeMicros(), Lsn.NONE, g.changes(),
                    WalCompression.ZSTD));
        }
        report("lz4", () -> EntryCodec.decode(EntryCodecTest.golden("wal-entry-v3-lz4.bin")));
        System.out.flush();
    }

    private interface Attempt {
        Object run() throws Exception;
    }

    private static void report(String what, Attempt a) {
        try {
            a.run();
            System.out.println(what + " ok");
        } catch (Throwable t) {
            System.out.println(what + " " + t.getClass().getName() + " " + String.valueOf(t.getMessage()).replace('\n', ' '));
        }
    }

    static List<String> jvmOptions() {
        return List.of("-DZstdNativePath=/nonexistent/libzstd-jni.so");
    }
}
