package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.walship.protocol.repl.Frame;
import io.walship.protocol.repl.FrameCodec;
import io.walship.wal.Store;
import io.walship.wal.WalEntry;
import io.walship.wal.WalReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bench's in-process follower applies every frame already received with one sync and
 * acknowledges them together, as {@code walship follow} does; one sync per frame made frames wait
 * behind each other's syncs (docs/BENCHMARKS.md, "Where a semi-sync commit's time goes").
 */
class LoopbackFollowerTest {
    @TempDir
    Path tmp;

    @Test
    void framesThatArrivedTogetherAreAppliedWithOneSyncAndAcknowledgedByOneFeedback() throws Exception {
        try (Store leader = Store.open(tmp.resolve("leader"));
             ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            leader.put(b("base"), b("v"));
            long base = leader.lastLsn();
            long last = base + 6;
            CompletableFuture<List<Frame.Feedback>> leaderSide = CompletableFuture.supplyAsync(() -> {
                try (Socket s = server.accept()) {
                    DataInputStream in = new DataInputStream(s.getInputStream());
                    Frame.Hello h = assertInstanceOf(Frame.Hello.class, FrameCodec.read(in));
                    assertEquals(base + 1, h.startLsn());
                    // the follower's snapshot is taken: now six commits, sent as three WAL frames of two
                    for (int i = 0; i < 6; i++) {
                        leader.put(b("k" + i), b("v" + i));
                    }
                    List<Frame.Entry> entries = new ArrayList<>();
                    try (WalReader r = leader.walReader().headersOnly()) {
                        r.seek(base + 1);
                        WalEntry e;
                        while ((e = r.next()) != null) {
                            entries.add(new Frame.Entry(e.lsn(), r.lastEntryBytes()));
                        }
                    }
                    assertEquals(6, entries.size());
                    assertEquals(last, entries.get(5).lsn());
                    // WELCOME and all three frames in one write: they arrive together
                    ByteArrayOutputStream all = new ByteArrayOutputStream();
                    all.write(FrameCodec.encode(new Frame.Welcome(Frame.VERSION, leader.systemId(), leader.timeline(),
                            last, "fake-leader", "")));
                    for (int f = 0; f < 3; f++) {
                        all.write(FrameCodec.encode(new Frame.Wal(last, 1, entries.subList(2 * f, 2 * f + 2))));
                    }
                    OutputStream out = s.getOutputStream();
                    out.write(all.toByteArray());
                    out.flush();
                    List<Frame.Feedback> heard = new ArrayList<>();
                    while (heard.isEmpty() || heard.get(heard.size() - 1).flushedLsn() < last) {
                        heard.add(assertInstanceOf(Frame.Feedback.class, FrameCodec.read(in)));
                    }
                    return heard;
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            try (LoopbackFollower f = LoopbackFollower.fromStore(leader, server.getLocalPort(), tmp.resolve("follower"),
                    "f")) {
                List<Frame.Feedback> heard = leaderSide.get(60, TimeUnit.SECONDS);
                // one sync per frame would have acknowledged base + 2 first (and base + 4)
                assertEquals(1, heard.size(), "one FEEDBACK for the three frames, not one per frame: " + heard);
                assertEquals(last, heard.get(0).flushedLsn());
                assertEquals(last, f.store.lastLsn());
                assertTrue(f.store.durableLsn() >= last);
            }
        }
    }

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
