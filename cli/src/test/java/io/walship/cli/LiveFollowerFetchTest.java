package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import io.walship.archive.LocalObjectStore;
import io.walship.protocol.HostPort;
import io.walship.protocol.StatusResponse;
import io.walship.restorer.Promotion;
import io.walship.restorer.follow.FollowerLoop;
import io.walship.server.ConflictException;
import io.walship.server.FollowerNode;
import io.walship.server.HttpApi;
import io.walship.server.Node;
import io.walship.shipper.repl.ReplicationOptions;
import io.walship.wal.ControlFile;
import io.walship.wal.Durability;
import io.walship.wal.Snapshot;
import io.walship.wal.SnapshotLoader;
import io.walship.wal.Store;
import io.walship.wal.WalEntry;
import io.walship.wal.WalReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a live promotion fetches from a peer ({@code GET /wal}): only what the peer's {@code /status}
 * showed on this node's timeline. A peer promoted between its {@code /status} and the {@code /wal}
 * (two promotions racing) has WAL of its new timeline past its fork; taking it would put the new
 * timeline's entries into this node's old one, and after losing the claim it could never follow
 * the winner (it would be past the fork).
 */
class LiveFollowerFetchTest {
    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private Path standbyCopy(Store leader, String name) throws Exception {
        Path dir = tmp.resolve(name);
        try (Snapshot s = leader.snapshot(); InputStream in = s.openStream()) {
            SnapshotLoader.load(in, dir);
        }
        ControlFile.read(dir).asStandby().write(dir);
        return dir;
    }

    @Test
    void aPeerIsFetchedFromOnlyUpToWhatItsStatusShowedOnThisTimeline() throws Exception {
        List<WalEntry> entries = new ArrayList<>();
        Path fdir;
        Path pdir;
        try (Store leader = Store.open(tmp.resolve("leader"))) {
            for (int i = 0; i < 10; i++) {
                leader.put(b("k" + i), b("v" + i));
            }
            fdir = standbyCopy(leader, "f1");
            pdir = standbyCopy(leader, "f2");
            long from = leader.lastLsn() + 1;
            for (int i = 10; i < 25; i++) {
                leader.put(b("k" + i), b("v" + i));
            }
            try (WalReader r = leader.walReader()) {
                r.seek(from);
                WalEntry e;
                while ((e = r.next()) != null) {
                    entries.add(e);
                }
            }
        }
        assertEquals(15, entries.size());
        LocalObjectStore archive = new LocalObjectStore(tmp.resolve("archive"));
        archive.verifyAccess();
        StatusResponse.Follower view = new StatusResponse.Follower("stream", "stream", "127.0.0.1:1",
                "http://127.0.0.1:1", null, null, 0, 0, 0, null);
        try (Store peer = Store.open(pdir)) {
            peer.applyAll(entries.subList(0, 10), Durability.DURABLE);
            long shown = peer.lastLsn();
            FollowerNode peerFollower = new FollowerNode(peer, () -> view, Duration.ZERO, null);
            StatusResponse before = peerFollower.status(); // what the promoting node reads first
            // the peer is promoted meanwhile (it claims timeline 2) and takes writes on it
            Promotion.claimNext(archive, 1, shown, 0, "the peer's promotion");
            peer.applyAll(entries.subList(10, 15), Durability.DURABLE);
            Node stale = new Node() {
                public Store store() {
                    return peer;
                }

                public long put(byte[] key, byte[] value, Durability d) {
                    throw new UnsupportedOperationException();
                }

                public long delete(byte[] key, Durability d) {
                    throw new UnsupportedOperationException();
                }

                public long write(io.walship.wal.WriteBatch batch, Durability d) {
                    throw new UnsupportedOperationException();
                }

                public StatusResponse status() {
                    return before;
                }

                public String metrics() {
                    return "";
                }
            };
            HttpApi api = new HttpApi(stale, new InetSocketAddress("127.0.0.1", 0), null).start();
            try {
                String peerUrl = "http://127.0.0.1:" + api.address().getPort();
                Store mine = Store.open(fdir);
                FollowerLoop.Options options = FollowerLoop.Options.defaults(List.of(new HostPort("127.0.0.1", 1)))
                        .withBackoff(Duration.ofSeconds(10), Duration.ofSeconds(10), 42);
                LiveFollower.Config config = new LiveFollower.Config(fdir, archive, options, null, null, null,
                        ReplicationOptions.defaults(), ReplicationOptions.defaults(), Duration.ofSeconds(1),
                        Duration.ZERO, null, "f1", null);
                try (LiveFollower live = new LiveFollower(config, mine).start()) {
                    ConflictException e = assertThrows(ConflictException.class, () -> live.promote(false, List.of(peerUrl)));
                    assertTrue(e.getMessage().contains("timeline 2 was already claimed"), e.getMessage());
                    assertEquals(shown, live.store().lastLsn(), "fetched past what the peer showed on timeline 1");
                    assertEquals(1, live.store().timeline());
                }
            } finally {
                api.close();
            }
        }
    }
}
