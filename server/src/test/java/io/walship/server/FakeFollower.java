package io.walship.server;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.ConcurrentSkipListMap;

import javax.net.SocketFactory;

import io.walship.protocol.HostPort;
import io.walship.protocol.repl.Frame;
import io.walship.protocol.repl.ReplConnection;
import io.walship.wal.EntryCodec;
import io.walship.wal.WalEntry;

/**
 * An in-process follower for commit-mode tests: speaks the replication protocol over a real
 * socket, checks every entry (CRC, LSN in order), and reports as flushed only what the test lets
 * it: everything it received ({@link #autoAck}) or up to an LSN on command ({@link #ack}). It
 * answers every KEEPALIVE with its current positions, so the leader never times it out while it
 * withholds acks. {@link #flushedSent} is the highest flush LSN it has reported: what a leader
 * may count. Thread-safe.
 */
final class FakeFollower implements AutoCloseable {
    final String name;
    private final ReplConnection conn;
    private final Thread reader;
    final ConcurrentSkipListMap<Long, WalEntry> received = new ConcurrentSkipListMap<>();
    private volatile long expected;
    private volatile long lastEcho;
    private volatile boolean autoAck;
    /** The highest flush LSN this follower may report now (what the test granted). */
    private volatile long granted;
    /** The highest flush LSN it has reported. */
    volatile long flushedSent;
    private volatile Throwable failure;

    private FakeFollower(String name, ReplConnection conn, long startLsn, boolean autoAck) {
        this.name = name;
        this.conn = conn;
        this.expected = startLsn;
        this.granted = startLsn - 1;
        this.flushedSent = startLsn - 1;
        this.autoAck = autoAck;
        this.reader = new Thread(this::readLoop, "fake-follower-" + name);
        reader.setDaemon(true);
    }

    /** Connects, says HELLO from {@code startLsn} and starts reading; fails unless WELCOMEd. */
    static FakeFollower connect(InetSocketAddress leader, long systemId, int timeline, long startLsn, String name,
                                boolean autoAck) throws IOException {
        ReplConnection c = ReplConnection.connect(SocketFactory.getDefault(),
                new HostPort(leader.getHostString(), leader.getPort()), Duration.ofSeconds(5));
        c.readTimeout(Duration.ofSeconds(30));
        c.write(new Frame.Hello(Frame.VERSION, systemId, timeline, startLsn, "", "", name));
        Frame answer = c.read();
        if (!(answer instanceof Frame.Welcome)) {
            c.close();
            throw new AssertionError(name + ": expected WELCOME, got " + answer);
        }
        FakeFollower f = new FakeFollower(name, c, startLsn, autoAck);
        f.reader.start();
        return f;
    }

    private void readLoop() {
        try {
            while (!conn.isClosed()) {
                Frame f = conn.read();
                if (f instanceof Frame.Wal w) {
                    lastEcho = w.leaderSendMicros();
                    for (Frame.Entry e : w.entries()) {
                        WalEntry entry = EntryCodec.decode(e.bytes());
                        if (e.lsn() != expected || entry.lsn() != expected) {
                            throw new AssertionError(name + ": expected LSN " + expected + ", got " + e.lsn());
                        }
                        received.put(entry.lsn(), entry);
                        expected++;
                    }
                    if (autoAck) {
                        granted = expected - 1;
                    }
                    report();
                } else if (f instanceof Frame.Keepalive k) {
                    lastEcho = k.leaderSendMicros();
                    if (k.replyRequested()) {
                        report();
                    }
                }
            }
        } catch (Throwable e) {
            if (!conn.isClosed()) {
                failure = e;
            }
        }
    }

    /** Sends FEEDBACK: written = everything received, flushed = applied = what is granted. */
    private synchronized void report() throws IOException {
        long written = expected - 1;
        long flushed = Math.min(granted, written);
        // recorded before it is sent: the leader may answer the commit (and the test check the
        // holders) before this thread runs again after the write
        flushedSent = Math.max(flushedSent, flushed);
        conn.write(new Frame.Feedback(written, flushed, flushed, System.currentTimeMillis() * 1000, lastEcho));
    }

    /** Reports everything up to {@code lsn} flushed (once it has arrived: waits for it). */
    void ack(long lsn) throws IOException {
        awaitReceived(lsn);
        granted = Math.max(granted, lsn);
        report();
    }

    /** From now on, report everything as flushed as soon as it arrives (and everything so far). */
    void autoAck(boolean on) throws IOException {
        autoAck = on;
        if (on) {
            granted = expected - 1;
            report();
        }
    }

    long receivedUpTo() {
        return expected - 1;
    }

    void awaitReceived(long lsn) {
        io.walship.wal.Poll.until(Duration.ofSeconds(30), () -> {
            if (failure != null) {
                throw new AssertionError(name + ": connection failed", failure);
            }
            return expected > lsn;
        }, () -> name + ": LSN " + lsn + " did not arrive");
    }

    void checkHealthy() {
        if (failure != null) {
            throw new AssertionError(name + ": connection failed", failure);
        }
    }

    /** Drops the connection (as a crashed follower would). */
    @Override
    public void close() {
        conn.close();
    }
}
