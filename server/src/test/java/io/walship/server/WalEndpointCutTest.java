package io.walship.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;

import io.walship.protocol.Endpoints;
import io.walship.protocol.WalStream;
import io.walship.wal.Durability;
import io.walship.wal.Store;
import io.walship.wal.WalLog;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code GET /wal} when reading the WAL fails after the answer's head is out (a corrupt entry): the
 * connection must be dropped without the last chunk, so the reader (a promoting follower's fetch)
 * sees a broken answer, never a shorter one that looks whole. On both HTTP servers.
 */
class WalEndpointCutTest {
    /** Entries before the damaged one: well over the endpoint's 64 KiB buffer, so some are sent first. */
    private static final int BEFORE = 2_000;
    private static final byte[] MARKER = "damaged-entry-marker-7f3a9c".getBytes(StandardCharsets.UTF_8);

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"jetty", "jdk"})
    void aWalReadFailureAfterTheHeadDropsTheConnection(String transport) throws Exception {
        Path data = tmp.resolve(transport);
        try (Store store = Store.open(data)) {
            for (int i = 0; i < BEFORE; i++) {
                store.put(String.format("k%06d", i).getBytes(StandardCharsets.UTF_8), new byte[100], Durability.ASYNC);
            }
            store.put("damaged".getBytes(StandardCharsets.UTF_8), MARKER, Durability.ASYNC);
            for (int i = 0; i < 10; i++) {
                store.put(("after" + i).getBytes(StandardCharsets.UTF_8), new byte[100], Durability.DURABLE);
            }
            damage(data.resolve(WalLog.DIR_NAME));
            try (LeaderServer s = HttpTransportTest.leader(store, transport)) {
                HttpResponse<InputStream> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(
                        "http://127.0.0.1:" + s.address().getPort() + Endpoints.WAL + "?" + Endpoints.FROM + "=1"))
                        .timeout(Duration.ofSeconds(60)).GET().build(), HttpResponse.BodyHandlers.ofInputStream());
                assertEquals(200, r.statusCode(), "the head went out before the damaged entry was reached");
                long[] read = {0};
                try (DataInputStream in = new DataInputStream(new BufferedInputStream(r.body()))) {
                    IOException e = assertThrows(IOException.class, () -> {
                        while (WalStream.read(in) != null) {
                            read[0]++;
                        }
                    }, () -> transport + ": the body ended normally after " + read[0] + " entries of "
                            + store.lastLsn() + ": a cut WAL stream looked whole");
                    assertTrue(read[0] <= BEFORE + 1, "nothing past the damaged entry: " + read[0] + " (" + e + ")");
                }
            }
        }
    }

    /** Flips a byte of the first entry holding {@link #MARKER} in the WAL's cycle files (the entry's CRC then fails). */
    private static void damage(Path walDir) throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.list(walDir)) {
            files = s.filter(p -> p.getFileName().toString().endsWith(".cq4")).toList();
        }
        for (Path f : files) {
            byte[] all = Files.readAllBytes(f);
            for (int i = 0; i + MARKER.length <= all.length; i++) {
                if (java.util.Arrays.equals(all, i, i + MARKER.length, MARKER, 0, MARKER.length)) {
                    try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
                        ch.write(ByteBuffer.wrap(new byte[] {(byte) (all[i] ^ 0x5A)}), i);
                        ch.force(true);
                    }
                    return; // the first entry with it (the entry's page changes may hold it twice)
                }
            }
        }
        throw new AssertionError("the marker is in no WAL file of " + files);
    }
}
