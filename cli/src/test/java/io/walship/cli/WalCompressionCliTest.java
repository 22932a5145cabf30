package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.stream.Stream;

import io.walship.wal.EntryCodec;
import io.walship.wal.Store;
import io.walship.wal.StoreOptions;
import io.walship.wal.TestHooks;
import io.walship.wal.WalCompression;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CLI over WAL whose full-page images are compressed ({@code --wal-compression}). */
class WalCompressionCliTest {
    @TempDir
    Path tmp;

    /** A store left without a clean close after commits whose full-page images were compressed with {@code c}. */
    private static String digestOfCompressedStore(Path d, WalCompression c) {
        Store s = Store.open(d, StoreOptions.defaults().withWalCompression(c));
        for (int i = 0; i < 400; i++) {
            s.put(String.format("key-%05d", i * 7919 % 400).getBytes(), ("value " + i + " ").repeat(12).getBytes());
        }
        String digest = s.digest().sha256();
        TestHooks.abandon(s); // no closing checkpoint: whoever opens it next replays the WAL
        return digest;
    }

    @Test
    void inspectShowsTheCodecAndLocalCommandsReplayCompressedWal() {
        Path d = tmp.resolve("d");
        String digest = digestOfCompressedStore(d, WalCompression.ZSTD);
        CliRunner.Result inspect = CliRunner.run("wal", "inspect", "--data", d.toString(), "--json");
        assertEquals(0, inspect.exit(), inspect.err());
        long zstd = inspect.out().lines().filter(l -> l.contains("\"fpiCompression\":\"zstd\"")).count();
        assertTrue(zstd > 10, "entries with zstd images: " + zstd + "\n" + inspect.out());
        CliRunner.Result kv = CliRunner.run("kv", "digest", "--data", d.toString());
        assertEquals(0, kv.exit(), kv.err());
        assertEquals(digest, kv.out().substring(0, 64), "recovery through compressed images");
    }

    @Test
    void aDamagedCompressedEntryIsExitCode3() throws Exception {
        Path d = tmp.resolve("d");
        digestOfCompressedStore(d, WalCompression.LZ4);
        flipInFirstCompressedEntry(d);
        CliRunner.Result inspect = CliRunner.run("wal", "inspect", "--data", d.toString());
        assertEquals(ExitCodes.INTEGRITY, inspect.exit(), inspect.err());
        CliRunner.Result dump = CliRunner.run("kv", "dump", "--data", d.toString());
        assertEquals(ExitCodes.INTEGRITY, dump.exit(), dump.err());
    }

    @Test
    void anUnknownCompressionIsAUsageError() {
        CliRunner.Result r = CliRunner.run("leader", "--data", tmp.resolve("d").toString(), "--wal-compression", "gzip");
        assertEquals(ExitCodes.USAGE, r.exit(), r.err());
        assertTrue(r.err().contains("--wal-compression"), r.err());
    }

    /** Flips a byte 60 bytes into the first version 3 entry found in the WAL files (inside its changes). */
    private static void flipInFirstCompressedEntry(Path dir) throws Exception {
        byte[] magic = ByteBuffer.allocate(6).putInt(EntryCodec.MAGIC)
                .putShort((short) EntryCodec.COMPRESSED_FORMAT_VERSION).array();
        try (Stream<Path> files = Files.list(dir.resolve("wal"))) {
            for (Path f : files.filter(p -> p.toString().endsWith(".cq4")).sorted().toList()) {
                byte[] data = Files.readAllBytes(f);
                for (int i = 0; i + magic.length < data.length; i++) {
                    if (Arrays.equals(data, i, i + magic.length, magic, 0, magic.length)) {
                        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
                            ch.write(ByteBuffer.wrap(new byte[] {(byte) (data[i + 60] ^ 0x55)}), i + 60);
                        }
                        return;
                    }
                }
            }
        }
        throw new AssertionError("no compressed entry in the WAL of " + dir);
    }
}
