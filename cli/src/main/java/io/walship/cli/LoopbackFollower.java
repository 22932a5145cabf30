package io.walship.cli;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import javax.net.SocketFactory;

import io.walship.protocol.HostPort;
import io.walship.protocol.repl.Frame;
import io.walship.protocol.repl.ReplConnection;
import io.walship.wal.Durability;
import io.walship.wal.EntryCodec;
import io.walship.wal.Snapshot;
import io.walship.wal.SnapshotLoader;
import io.walship.wal.Store;
import io.walship.wal.WalEntry;

/**
 * A follower inside this process, for {@code walship bench sync} and kill -9 tests of a leader
 * process: it copies the leader's snapshot into its own data directory, opens it as a store,
 * streams from the LSN after it, applies the entries of every frame already received — like
 * {@code walship follow}, which joins the frames that arrived during a sync — with one
 * {@link Store#applyAll} (durable: one sync for them all) and reports them flushed only once its own WAL has synced them — what it acknowledged
 * survives the leader's death. (The full follower, with reconnects, the archive and its HTTP API, is
 * {@code walship follow}.) Stops when the leader's connection ends.
 */
final class LoopbackFollower implements AutoCloseable {
    /** Entries, and entry bytes, applied with one sync at most (as {@code walship follow}: bounded memory). */
    private static final int MAX_BATCH_ENTRIES = 16_384;
    private static final long MAX_BATCH_BYTES = 64L << 20;
    final Store store;
    private final ReplConnection conn;
    private final Thread thread;
    private volatile long lastEcho;
    private volatile Throwable failure;

    private LoopbackFollower(Store store, ReplConnection conn, String name) {
        this.store = store;
        this.conn = conn;
        this.thread = new Thread(this::run, "loopback-follower-" + name);
        thread.setDaemon(true);
    }

    /** Bootstraps from the leader's {@code GET /snapshot} at {@code leaderUrl}. */
    static LoopbackFollower fromUrl(String leaderUrl, int replPort, Path dir, String name) throws Exception {
        HttpResponse<InputStream> snap = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create(leaderUrl + "/snapshot?for=follower")).build(), HttpResponse.BodyHandlers.ofInputStream());
        if (snap.statusCode() != 200) {
            throw new IOException("GET " + leaderUrl + "/snapshot answered " + snap.statusCode());
        }
        SnapshotLoader.Info info;
        try (InputStream in = snap.body()) {
            info = SnapshotLoader.load(in, dir);
        }
        return start(info, replPort, dir, name);
    }

    /** Bootstraps from a snapshot of {@code leader}, a store in this process. */
    static LoopbackFollower fromStore(Store leader, int replPort, Path dir, String name) throws IOException {
        SnapshotLoader.Info info;
        try (Snapshot s = leader.snapshot(); InputStream in = s.openStream()) {
            info = SnapshotLoader.load(in, dir);
        }
        return start(info, replPort, dir, name);
    }

    private static LoopbackFollower start(SnapshotLoader.Info info, int replPort, Path dir, String name)
            throws IOException {
        Store store = Store.open(dir);
        ReplConnection c;
        try {
            c = ReplConnection.connect(SocketFactory.getDefault(), new HostPort("127.0.0.1", replPort),
                    Duration.ofSeconds(5));
            c.readTimeout(Duration.ofSeconds(30));
            // from the durable LSN (as FollowerLoop): the leader counts start - 1 as flushed here
            store.awaitDurable(store.lastLsn(), Duration.ofSeconds(10));
            c.write(new Frame.Hello(Frame.VERSION, info.systemId(), info.timeline(), store.durableLsn() + 1, "", "",
                    name));
            Frame answer = c.read();
            if (!(answer instanceof Frame.Welcome)) {
                c.close();
                throw new IOException(name + ": expected WELCOME, got " + answer);
            }
        } catch (IOException | RuntimeException e) {
            store.close();
            throw e;
        }
        LoopbackFollower f = new LoopbackFollower(store, c, name);
        f.thread.start();
        return f;
    }

    private void run() {
        try {
            List<WalEntry> entries = new ArrayList<>();
            long bytes = 0;
            boolean reply = false;
            while (true) {
                Frame f = conn.read();
                if (f instanceof Frame.Wal w) {
                    lastEcho = w.leaderSendMicros();
                    for (Frame.Entry e : w.entries()) {
                        WalEntry entry = EntryCodec.decode(e.bytes()); // CRC checked; applyAll checks the LSNs
                        if (entry.lsn() > store.lastLsn()) { // below: applied, sent again from the durable LSN
                            entries.add(entry);
                            bytes += e.bytes().length;
                        }
                    }
                    reply = true;
                } else if (f instanceof Frame.Keepalive k) {
                    lastEcho = k.leaderSendMicros();
                    reply |= k.replyRequested();
                }
                if (entries.size() < MAX_BATCH_ENTRIES && bytes < MAX_BATCH_BYTES && conn.hasBufferedInput()) {
                    continue; // take what has arrived too: one sync for all of it
                }
                if (!entries.isEmpty()) {
                    store.applyAll(entries, Durability.DURABLE); // its own WAL, then pages; one sync for them all
                    entries = new ArrayList<>();
                    bytes = 0;
                }
                if (reply) {
                    feedback();
                    reply = false;
                }
            }
        } catch (EOFException e) {
            // the leader is gone
        } catch (IOException e) {
            if (!conn.isClosed() && !(e.getMessage() != null && e.getMessage().contains("reset"))) {
                failure = e;
            }
        } catch (Throwable e) {
            failure = e;
        }
    }

    private void feedback() throws IOException {
        // written, flushed, applied: as FollowerLoop reports them (applied entries are the written ones)
        long applied = store.lastLsn();
        conn.write(new Frame.Feedback(applied, store.durableLsn(), applied, System.currentTimeMillis() * 1000, lastEcho));
    }

    /** Waits up to a minute for the stream to end (the leader died); fails if the follower broke on its own. */
    void awaitEnd() throws InterruptedException {
        thread.join(60_000);
        if (thread.isAlive()) {
            throw new IllegalStateException("the follower still streams a minute after the leader died");
        }
        if (failure != null) {
            throw new IllegalStateException("the follower failed: " + failure, failure);
        }
    }

    /** Ends the stream and closes the store. */
    @Override
    public void close() throws InterruptedException {
        conn.close();
        thread.join(10_000);
        store.close();
    }
}
